package plan

import (
	"errors"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/ocsfmap/ocsfmap/engine/spec"
)

// scalarMapping maps typed scalars of HTTP Activity (ip_t, port_t, mac_t,
// email_t, url_t, subnet_t) straight from the input.
const scalarMapping = `format: ocsfmap/v1
mapping: t/scalars
version: 1.0.0
ocsf: {version: 1.1.0, class: http_activity, profiles: [host]}
fields:
  time: {value: 1793528130000}
  activity_id: {value: 1}
  severity_id: {value: 1}
  metadata.product.vendor_name: {value: v}
  metadata.product.name: {value: p}
  src_endpoint.ip: {from: ip}
  src_endpoint.port: {from: port}
  src_endpoint.mac: {from: mac}
  device.subnet: {from: subnet}
  dst_endpoint.ip: {value: 10.0.0.1}
  actor.user.email_addr: {from: email}
  http_request.url.url_string: {from: url}
  http_request.x_forwarded_for: {from: xff}
  http_response.code: {value: 200}
  actor.user.name: {value: n}
  device.type_id: {value: 1}
  device.hostname: {value: h}
`

// TestScalarChecksPerRecord: the repro of issue 19 (item 4). Each typed
// value OCSF's type definitions refuse dead-letters the record with R408,
// naming the attribute, the rule and the type; valid values map.
func TestScalarChecksPerRecord(t *testing.T) {
	m, diags := spec.Parse(filepath.Join(t.TempDir(), "m.yaml"), []byte(scalarMapping))
	if diags.HasErrors() {
		t.Fatal(diags.Render())
	}
	p, diags := Compile(m)
	if diags.HasErrors() {
		t.Fatal(diags.Render())
	}
	mp := p.NewMapper()
	good := `"ip": "192.168.200.24", "port": 443, "mac": "00:1a:2b:3c:4d:5e", "subnet": "192.168.1.0/24", "email": "john_doe@example.com", "url": "http://www.example.com/x", "xff": ["10.0.0.2", "2001:db8::1"]`
	if _, err := mp.Map([]byte("{" + good + "}")); err != nil {
		t.Fatalf("valid values: %v", err)
	}
	for _, tc := range []struct{ field, value, want string }{
		{"ip", `"ec2.amazonaws.com"`, `R408 src_endpoint.ip (rule at m.yaml:11): "ec2.amazonaws.com" is not a valid ip_t (an IPv4 or IPv6 address)`},
		{"port", `70000`, `R408 src_endpoint.port (rule at m.yaml:12): 70000 is not a valid port_t (an integer from 0 to 65535)`},
		{"mac", `"not-a-mac"`, `R408 src_endpoint.mac (rule at m.yaml:13): "not-a-mac" is not a valid mac_t`},
		{"subnet", `"10.0.0.0"`, `R408 device.subnet (rule at m.yaml:14): "10.0.0.0" is not a valid subnet_t`},
		{"email", `"nobody"`, `R408 actor.user.email_addr (rule at m.yaml:16): "nobody" is not a valid email_t`},
		{"url", `"not a url"`, `R408 http_request.url.url_string (rule at m.yaml:17): "not a url" is not a valid url_t (a URL)`},
		{"xff", `["10.0.0.2", "proxy"]`, `R408 http_request.x_forwarded_for (rule at m.yaml:18): element 1: "proxy" is not a valid ip_t`},
	} {
		in := "{" + replaceField(good, tc.field, tc.value) + "}"
		_, err := mp.Map([]byte(in))
		var perr *Error
		if !errors.As(err, &perr) || perr.Code != "R408" {
			t.Errorf("%s = %s: error %v, want R408", tc.field, tc.value, err)
			continue
		}
		got := strings.Replace(err.Error(), filepath.Dir(p.File)+string(filepath.Separator), "", 1)
		got = regexp.MustCompile(`(m\.yaml:\d+):\d+`).ReplaceAllString(got, "$1") // the line is enough
		if !strings.HasPrefix(got, tc.want) {
			t.Errorf("%s = %s:\n got %s\nwant %s…", tc.field, tc.value, got, tc.want)
		}
		// Unchecked mapping still maps it: the check is the plan's, not the conversion's.
		if _, err := mp.MapUnchecked([]byte(in)); err != nil {
			t.Errorf("%s: MapUnchecked: %v", tc.field, err)
		}
	}
}

// replaceField replaces the value of "field" in a flat JSON member list.
func replaceField(members, field, value string) string {
	var out []string
	for _, m := range splitMembers(members) {
		if strings.HasPrefix(m, `"`+field+`":`) {
			m = `"` + field + `": ` + value
		}
		out = append(out, m)
	}
	return strings.Join(out, ", ")
}

// splitMembers splits `"a": 1, "b": [1, 2]` at the top-level commas.
func splitMembers(s string) []string {
	var out []string
	depth, start := 0, 0
	for i, r := range s {
		switch r {
		case '[', '{':
			depth++
		case ']', '}':
			depth--
		case ',':
			if depth == 0 {
				out = append(out, strings.TrimSpace(s[start:i]))
				start = i + 1
			}
		}
	}
	return append(out, strings.TrimSpace(s[start:]))
}
