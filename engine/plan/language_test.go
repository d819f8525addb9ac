package plan

import (
	"errors"
	"strings"
	"testing"

	"github.com/ocsfmap/ocsfmap/engine/spec"
)

// TestVars: a var is computed once per record and read by name from later
// vars, expressions, templates-free rules, from: and when:; it holds nothing
// of the record before.
func TestVars(t *testing.T) {
	p := compileString(t, `vars:
  ip: 'detail.remote.ipV4 ?? detail.remote.ipV6 ?? Detail.Remote.IpV4'
  ip_kind: {expr: 'ip == nil ? nil : (ip contains ":" ? "v6" : "v4")'}
  user: 'upper(detail.user ?? "")'`, `  message: {expr: 'ip_kind == nil ? "no address" : ip + " (" + ip_kind + ")"'}
  unmapped.ip: {from: ip}
  unmapped.user: {expr: user, when: 'user != ""'}
`)
	m := p.NewMapper()
	for _, tc := range []struct{ in, want, absent string }{
		{`{"t": 1793528130, "id": "a", "detail": {"remote": {"ipV4": "10.0.0.1"}, "user": "bob"}}`,
			`"message":"10.0.0.1 (v4)"`, ""},
		{`{"t": 1793528130, "id": "b", "detail": {"remote": {"ipV6": "::1"}}}`, `"unmapped":{"ip":"::1"}`, `BOB`},
		{`{"t": 1793528130, "id": "c", "Detail": {"Remote": {"IpV4": "192.0.2.9"}}}`, `"message":"192.0.2.9 (v4)"`, `"user"`},
		{`{"t": 1793528130, "id": "d"}`, `"message":"no address"`, `10.0.0.1`},
	} {
		if _, err := m.Map([]byte(tc.in)); err != nil {
			t.Fatalf("%s: %v", tc.in, err)
		}
		got := string(m.AppendJSON(nil))
		if !strings.Contains(got, tc.want) || (tc.absent != "" && strings.Contains(got, tc.absent)) {
			t.Errorf("%s\n got  %s\n want %s, without %q", tc.in, got, tc.want, tc.absent)
		}
	}
	// A var that fails is the record's error, named after the var.
	bad := compileString(t, "vars:\n  n: 'len(items) + 1'", "  count: {expr: n}\n").NewMapper()
	_, err := bad.Map([]byte(`{"t": 1793528130, "id": "e", "items": 5}`))
	if pe, ok := err.(*Error); !ok || pe.Code != "R401" || pe.Path != "vars.n" {
		t.Fatalf("failing var: %v", err)
	}
}

func TestVarsDiagnostics(t *testing.T) {
	for vars, want := range map[string]string{
		"vars:\n  a: 'b + 1'\n  b: '1'": `var "a" reads var "b", which is not defined above it`,
		"vars:\n  a: 'a ?? 1'":          `var "a" reads var "a"`,
		"vars:\n  str: '1'":             `var "str" has the name of a function`,
		"vars:\n  1a: '1'":              `var name "1a" is not an identifier`,
		"vars:\n  a: '1'\n  a: '2'":     `var "a" given twice`,
		"vars:\n  a: {exp: '1'}":        `unknown key "exp"`,
		"vars:\n  a: 'nosuch(1)'":       `unknown function nosuch`,
		"vars: [a]":                     `vars must be a mapping`,
	} {
		src := strings.Replace(header, "%s", vars, 1) + "  count: {value: 1}\n"
		m, diags := spec.Parse("m.yaml", []byte(src))
		if !diags.HasErrors() {
			_, diags = Compile(m)
		}
		if !strings.Contains(diags.Render(), want) {
			t.Errorf("%s:\n got  %s\n want %s", vars, diags.Render(), want)
		}
	}
}

// TestDropWhen: drop_when leaves a record out with ErrDropped (before any
// rule runs, after the vars); a drop_when that fails is the record's R401.
func TestDropWhen(t *testing.T) {
	p := compileString(t, `vars:
  kind: 'lower(eventType ?? "")'
drop_when: 'kind == "heartbeat" || readOnly == true'`, "")
	m := p.NewMapper()
	for in, dropped := range map[string]bool{
		`{"t": 1793528130, "id": "a", "eventType": "HeartBeat"}`: true,
		`{"t": 1793528130, "id": "b", "readOnly": true}`:         true,
		`{"t": 1793528130, "id": "c", "eventType": "Login"}`:     false,
		`{"id": "d", "eventType": "heartbeat"}`:                  true, // no time: dropped before any check
	} {
		_, err := m.Map([]byte(in))
		if got := errors.Is(err, ErrDropped); got != dropped || (!dropped && err != nil) {
			t.Errorf("%s: err %v, want dropped %v", in, err, dropped)
		}
	}
	bad := compileString(t, `drop_when: 'len(items) > 1'`, "").NewMapper()
	if _, err := bad.Map([]byte(`{"t": 1793528130, "id": "e", "items": 5}`)); err == nil || errors.Is(err, ErrDropped) || err.(*Error).Path != "drop_when" {
		t.Fatalf("failing drop_when: %v", err)
	}
}

// TestFromWithIndex: from: takes array indexes (issue 18: `from:
// a.groups[0]` passed vet and yielded nothing); a missing element is nil.
func TestFromWithIndex(t *testing.T) {
	p := compileString(t, "", `  unmapped.first_group: {from: 'user.groups[0]'}
  unmapped.second_group: {from: 'user.groups[1]', default: none}
  unmapped.bucket: {from: ['resources[0].name', 'resources[1].name']}
`)
	m := p.NewMapper()
	for in, want := range map[string]string{
		`{"t": 1793528130, "id": "a", "user": {"groups": ["admins", "ops"]}, "resources": [{"name": "b1"}]}`:         `"unmapped":{"bucket":"b1","first_group":"admins","second_group":"ops"}`,
		`{"t": 1793528130, "id": "b", "user": {"groups": ["admins"]}, "resources": [{"name": " "}, {"name": "b2"}]}`: `"unmapped":{"bucket":"b2","first_group":"admins","second_group":"none"}`,
		`{"t": 1793528130, "id": "c"}`: `"unmapped":{"second_group":"none"}`,
	} {
		if _, err := m.Map([]byte(in)); err != nil {
			t.Fatalf("%s: %v", in, err)
		}
		if got := string(m.AppendJSON(nil)); !strings.Contains(got, want) {
			t.Errorf("%s\n got  %s\n want %s", in, got, want)
		}
	}
}

// TestDeadLetterSaysWhatFailed: an R403 names the source field its rule
// read (issue 18: from: Arn, a wrong case, said only "required attribute has
// no value"), and a record that fails several rules reports them all.
func TestDeadLetterSaysWhatFailed(t *testing.T) {
	p := compileString(t, "", `  observables[0].name: {from: Name}
  observables[0].type_id: {value: 1}
  count: {expr: 'len(items)'}
  confidence_id: {expr: 'level + 1'}
`)
	m := p.NewMapper()
	_, err := m.Map([]byte(`{"t": 1793528130, "id": "a", "name": "lower case", "items": [1], "level": 1}`))
	pe, ok := err.(*Error)
	if !ok || pe.Code != "R403" || !strings.Contains(pe.Msg, "reads Name, which this record does not have") {
		t.Fatalf("R403 without the field tried: %v", err)
	}
	_, err = m.Map([]byte(`{"t": 1793528130, "id": "b", "Name": "x", "items": 5, "level": "high"}`))
	pe, ok = err.(*Error)
	if !ok || pe.Path != "count" || len(pe.Others) != 1 || pe.Others[0].Path != "confidence_id" {
		t.Fatalf("want both failing rules, count then confidence_id: %v (others %v)", err, pe.Others)
	}
}

// TestStringEnums: a string_t attribute with an enum (http_method in 1.1.0)
// is checked like an integer enum: per record (R404) and at load for a
// static value (M308). The JSON Schema held these values invalid while the
// default validation wrote them.
func TestStringEnums(t *testing.T) {
	src := `format: ocsfmap/v1
mapping: t/http
version: 1.0.0
ocsf: {version: 1.1.0, class: http_activity}
fields:
  time: {expr: 'epoch_ms(t)'}
  activity_id: {value: 1}
  severity_id: {value: 1}
  metadata.product.vendor_name: {value: v}
  metadata.product.name: {value: p}
  http_request.http_method: {from: method}
  src_endpoint.ip: {value: 192.0.2.1}
  dst_endpoint.ip: {value: 192.0.2.2}
  http_response.code: {value: 200}
`
	m, diags := spec.Parse("m.yaml", []byte(src))
	if diags.HasErrors() {
		t.Fatal(diags.Render())
	}
	p, diags := Compile(m)
	if diags.HasErrors() {
		t.Fatal(diags.Render())
	}
	mp := p.NewMapper()
	if _, err := mp.Map([]byte(`{"t": 1793528130, "method": "GET"}`)); err != nil {
		t.Fatalf("GET: %v", err)
	}
	_, err := mp.Map([]byte(`{"t": 1793528130, "method": "invalid"}`))
	if pe, ok := err.(*Error); !ok || pe.Code != "R404" || !strings.Contains(pe.Msg, `"invalid" is not a value of the enum`) {
		t.Fatalf("an http_method outside the enum: %v", err)
	}
	m, _ = spec.Parse("m.yaml", []byte(strings.Replace(src, "{from: method}", "{value: GETT}", 1)))
	if _, diags := Compile(m); !strings.Contains(diags.Render(), `M308`) || !strings.Contains(diags.Render(), `"GETT" is not a value`) {
		t.Fatalf("static value outside the enum: %s", diags.Render())
	}
}

// TestTextIntoTimestamp: from: into a timestamp_t warns at load (M313) and
// a text value's R402 names the parsers (issue 18: it said only that the
// value was not an integer).
func TestTextIntoTimestamp(t *testing.T) {
	src := strings.Replace(header, "  time: {expr: 'epoch_ms(t)'}", "  time: {from: t}", 1)
	src = strings.Replace(src, "%s", "", 1)
	m, diags := spec.Parse("m.yaml", []byte(src))
	if diags.HasErrors() {
		t.Fatal(diags.Render())
	}
	p, diags := Compile(m)
	if diags.HasErrors() || !strings.Contains(diags.Render(), "M313") {
		t.Fatalf("want the M313 warning: %s", diags.Render())
	}
	_, err := p.NewMapper().Map([]byte(`{"t": "2024-10-08T16:15:32Z", "id": "a"}`))
	if pe, ok := err.(*Error); !ok || pe.Code != "R402" || !strings.Contains(pe.Msg, "epoch_ms") || !strings.Contains(pe.Msg, "parse_time") {
		t.Fatalf("text into time: %v", err)
	}
}

// TestEach: a one-to-many rule maps every element of an input array into
// an element of an OCSF array of objects through its own field table
// (issue 18: analysts wrote resources[0], resources[1] and the third bucket
// was dropped); the elements are checked as objects, at load and per record.
func TestEach(t *testing.T) {
	p := compileString(t, "", `  resources:
    each: 'detail.buckets'
    when: '#.kind != "skip"'
    fields:
      uid: {from: arn}
      type: {value: "AWS::S3::Bucket"}
      name: {from: [name, Name], default: unnamed}
      owner.name: {expr: '#.owner?.displayName'}
      region: {from: region, when: '#.region != ""'}
`)
	m := p.NewMapper()
	_, err := m.Map([]byte(`{"t": 1793528130, "id": "a", "detail": {"buckets": [
		{"arn": "arn:aws:s3:::one", "name": "one", "owner": {"displayName": "alice"}, "region": "us-east-1"},
		{"arn": "arn:aws:s3:::two", "Name": "two", "region": ""},
		{"arn": "arn:aws:s3:::skipped", "kind": "skip"},
		{"arn": "arn:aws:s3:::three"}]}}`))
	if err != nil {
		t.Fatal(err)
	}
	got := string(m.AppendJSON(nil))
	want := `"resources":[{"name":"one","owner":{"name":"alice"},"region":"us-east-1","type":"AWS::S3::Bucket","uid":"arn:aws:s3:::one"},` +
		`{"name":"two","type":"AWS::S3::Bucket","uid":"arn:aws:s3:::two"},{"name":"unnamed","type":"AWS::S3::Bucket","uid":"arn:aws:s3:::three"}]`
	if !strings.Contains(got, want) {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
	if _, err := m.Map([]byte(`{"t": 1793528130, "id": "b"}`)); err != nil {
		t.Fatalf("no buckets: %v", err)
	}
	if got := string(m.AppendJSON(nil)); strings.Contains(got, "resources") {
		t.Fatalf("no buckets, yet resources: %s", got)
	}
	// A key the object lacks is a load error; a value of the wrong type a
	// dead letter naming the element.
	for fields, want := range map[string]string{
		"      uidd: {from: arn}\n":                       `M205`,
		"      uid: {from: arn}\n      uid: {value: x}\n": `M306`,
		"      uid: {lookup: t}\n":                        `inside each, a rule is from, value or expr`,
		"      groups[0].name: {from: g}\n":               `inside each, a path is attribute names joined by dots`,
	} {
		src := strings.Replace(header, "%s", "", 1) + "  resources:\n    each: 'detail.buckets'\n    fields:\n" + fields
		m, diags := spec.Parse("m.yaml", []byte(src))
		if !diags.HasErrors() {
			_, diags = Compile(m)
		}
		if !strings.Contains(diags.Render(), want) {
			t.Errorf("%s: want %s, got %s", fields, want, diags.Render())
		}
	}
	bad := compileString(t, "", "  resources:\n    each: 'items'\n    fields:\n      uid: {from: arn}\n      owner.type_id: {from: kind}\n").NewMapper()
	_, err = bad.Map([]byte(`{"t": 1793528130, "id": "c", "items": [{"arn": "x", "kind": "not a number"}]}`))
	if pe, ok := err.(*Error); !ok || pe.Code != "R402" || !strings.Contains(pe.Msg, "/resources/0") {
		t.Fatalf("a wrong type inside an element: %v", err)
	}
}
