package plan

import (
	"strings"
	"testing"

	"github.com/ocsfmap/ocsfmap/engine/spec"
)

// routedHeader is a mapping with two classes: the common fields, the route,
// and each class's own table; %s takes more top-level keys.
const routedHeader = `format: ocsfmap/v1
mapping: test/routed
version: 1.0.0
ocsf: {version: 1.1.0, profiles: [cloud]}
vars:
  name: 'detail.eventName ?? eventName'
%s
route: 'name == "ConsoleLogin" ? "authentication" : (name == nil ? nil : "api_activity")'
fields:
  time: {expr: 'epoch_ms(t)'}
  severity_id: {value: 1}
  status_detail: {from: msg}
  cloud.provider: {value: AWS}
  metadata.product.name: {value: CloudTrail}
  metadata.product.vendor_name: {value: AWS}
classes:
  api_activity:
    fields:
      activity_id: {value: 2}
      api.operation: {from: name}
      src_endpoint.ip: {from: ip}
      actor.user.uid: {from: who}
      status_detail: {expr: '"api: " + msg', when: 'msg != nil'}
  authentication:
    profiles: [cloud, datetime]
    fields:
      activity_id: {value: 1}
      user.uid: {from: who}
      service.name: {value: signin.amazonaws.com}
`

func compileRouted(t *testing.T, extra string) []*Plan {
	t.Helper()
	m, diags := spec.Parse("routed.yaml", []byte(strings.Replace(routedHeader, "%s", extra, 1)))
	if diags.HasErrors() {
		t.Fatal(diags.Render())
	}
	plans, diags := CompileAll(m)
	if diags.HasErrors() {
		t.Fatal(diags.Render())
	}
	return plans
}

// TestRoutePlans: one plan per class in declared order, each with the
// common fields and its own, its own profiles, checked against its schema;
// a class's rule for a common path wins.
func TestRoutePlans(t *testing.T) {
	plans := compileRouted(t, "")
	if len(plans) != 2 || plans[0].Class.Name != "api_activity" || plans[1].Class.Name != "authentication" {
		t.Fatalf("plans: %v", plans)
	}
	if got := strings.Join(plans[1].Classes(), ","); got != "api_activity,authentication" {
		t.Errorf("Classes() = %s", got)
	}
	if strings.Join(plans[0].Profiles, ",") != "cloud" || strings.Join(plans[1].Profiles, ",") != "cloud,datetime" {
		t.Errorf("profiles: %v, %v", plans[0].Profiles, plans[1].Profiles)
	}
	for _, p := range plans {
		if p.Route == "" || strings.Join(p.Fields, ",") != strings.Join(plans[0].Fields, ",") {
			t.Errorf("%s: route %q, fields %v (want %v: one source layout)", p.Class.Name, p.Route, p.Fields, plans[0].Fields)
		}
	}
	rules := func(p *Plan) map[string]string {
		out := map[string]string{}
		for _, r := range p.Explain() {
			out[r.Path] = r.Rule
		}
		return out
	}
	api, auth := rules(plans[0]), rules(plans[1])
	if api["status_detail"] != `expr "api: " + msg when msg != nil` || auth["status_detail"] != "from msg" {
		t.Errorf("status_detail: api %q, auth %q", api["status_detail"], auth["status_detail"])
	}
	if api["api.operation"] == "" || auth["api.operation"] != "" || auth["user.uid"] == "" || api["user.uid"] != "" {
		t.Errorf("class tables mixed: api %v\nauth %v", api, auth)
	}
	// A single-class mapping is one plan, without a route.
	p := compileString(t, "", "")
	if p.Route != "" || len(p.Classes()) != 1 || p.Classes()[0] != p.Class.Name {
		t.Errorf("single class: route %q, classes %v", p.Route, p.Classes())
	}
}

// TestRouteMapper: the mapper runs the vars, drop_when and route once, then
// the rules of the record's class, in that class's layout; a route that
// names no declared class is R409, one that fails R401.
func TestRouteMapper(t *testing.T) {
	plans := compileRouted(t, `drop_when: 'name == "Heartbeat"'`)
	m := plans[0].NewMapper()
	for _, tc := range []struct {
		in    string
		class int
		want  string
	}{
		{`{"t": 1793528130, "eventName": "ListBuckets", "who": "u1", "msg": "m", "ip": "192.0.2.1"}`, 0, `"api":{"operation":"ListBuckets"}`},
		{`{"t": 1793528130, "eventName": "ConsoleLogin", "who": "u2", "msg": "m"}`, 1, `"status_detail":"m","time":1793528130000,"time_dt":"2026-11-01T10:15:30.000Z","type_name":"Authentication: Logon","type_uid":300201,"user":{"uid":"u2"}`},
		{`{"detail": {"eventName": "ConsoleLogin"}, "t": 1793528130, "who": "u3"}`, 1, `"class_uid":3002`},
		{`{"t": 1793528130, "eventName": "GetObject", "who": "u4", "msg": "m", "ip": "192.0.2.1"}`, 0, `"status_detail":"api: m"`},
	} {
		rec, err := m.Map([]byte(tc.in))
		if err != nil {
			t.Fatalf("%s: %v", tc.in, err)
		}
		if m.Class() != tc.class || m.Plan() != plans[tc.class] || len(rec.Values) != plans[tc.class].Slots() {
			t.Fatalf("%s: class %d (plan %s, %d values), want %d", tc.in, m.Class(), m.Plan().Class.Name, len(rec.Values), tc.class)
		}
		if got := string(m.AppendJSON(nil)); !strings.Contains(got, tc.want) {
			t.Errorf("%s:\n got  %s\n want %s", tc.in, got, tc.want)
		}
		if doc := m.Doc(); doc["class_uid"] == nil || (tc.class == 1) != (doc["user"] != nil) {
			t.Errorf("%s: Doc is not the record's class: %v", tc.in, doc)
		}
	}
	// A mapper from another plan of the mapping routes the same way.
	if _, err := plans[1].NewMapper().Map([]byte(`{"t": 1, "eventName": "ListBuckets", "who": "u", "ip": "192.0.2.1"}`)); err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct{ in, code, msg string }{
		{`{"t": 1793528130, "who": "u"}`, "R409", "route yields nil: the record has no class (classes: api_activity, authentication)"},
		{`{"t": 1793528130, "eventName": "Heartbeat"}`, "", ""},
		{`{"t": 1793528130, "eventName": "ConsoleLogin"}`, "R403", "required attribute has no value"},
	} {
		_, err := m.Map([]byte(tc.in))
		if tc.code == "" {
			if err != ErrDropped || m.Class() != -1 {
				t.Errorf("%s: %v, class %d: want dropped before routing", tc.in, err, m.Class())
			}
			continue
		}
		pe, ok := err.(*Error)
		if !ok || pe.Code != tc.code || !strings.Contains(pe.Msg, tc.msg) {
			t.Errorf("%s: %v, want %s %s", tc.in, err, tc.code, tc.msg)
			continue
		}
		if routed := tc.code != "R409"; routed != (m.Class() >= 0) {
			t.Errorf("%s: class %d after %s", tc.in, m.Class(), tc.code)
		}
	}

	for route, want := range map[string]string{
		`name`:   `R409 route (rule at routed.yaml:8:8): route yields "ListBuckets", not a class of the mapping: the record has no class (classes: api_activity, authentication)`,
		`who`:    `R409 route (rule at routed.yaml:8:8): route yields 7 (a number), not a class name: the record has no class (classes: api_activity, authentication)`,
		`name.x`: `R401 route (rule at routed.yaml:8:8): `,
	} {
		src := strings.Replace(strings.Replace(routedHeader, "%s", "", 1), `'name == "ConsoleLogin" ? "authentication" : (name == nil ? nil : "api_activity")'`, "'"+route+"'", 1)
		sm, diags := spec.Parse("routed.yaml", []byte(src))
		plans, more := CompileAll(sm)
		if diags = append(diags, more...); diags.HasErrors() {
			t.Fatalf("%s: %s", route, diags.Render())
		}
		_, err := plans[0].NewMapper().Map([]byte(`{"t": 1793528130, "eventName": "ListBuckets", "who": 7, "ip": "192.0.2.1"}`))
		if err == nil || !strings.HasPrefix(err.Error(), want) {
			t.Errorf("route %s: %v\n want %s", route, err, want)
		}
	}
}

// TestRouteDiagnostics: what is wrong with the classes or the route is a
// load error naming the class, with the nearest names.
func TestRouteDiagnostics(t *testing.T) {
	base := strings.Replace(routedHeader, "%s", "", 1)
	for _, tc := range []struct{ old, new, want string }{
		// an unknown class, with the nearest names
		{"  authentication:\n", "  authentification:\n", `error[M302]: OCSF 1.1.0 has no class "authentification" (did you mean "authentication"?)`},
		// a string the route may yield that is not a class of the mapping
		{`"authentication" : (name`, `"authentications" : (name`, `routed.yaml:8:34: error[M207]: route yields "authentications", which is not a class of the mapping (classes: api_activity, authentication) (did you mean "authentication"?)`},
		{`(name == nil ? nil : "api_activity")`, `(name == nil ? nil : 6003)`, `error[M207]: route yields int, not a class name`},
		// a common field one class lacks names the class
		{"  cloud.provider: {value: AWS}\n", "  cloud.provider: {value: AWS}\n  is_mfa: {value: true}\n",
			"error[M304]: is_mfa is not an attribute path of api_activity in OCSF 1.1.0"},
		{"  cloud.provider: {value: AWS}\n", "  cloud.provider: {value: AWS}\n  is_mfa: {value: true}\n",
			"it is a common field, applied to every class: move it under the fields of the classes that have it"},
		// a class's profile set apart from the common one is checked for that class
		{"    profiles: [cloud, datetime]\n", "    profiles: [cloud, datetim]\n", `error[M303]: OCSF 1.1.0 has no profile "datetim"`},
		// what a class needs is checked against that class
		{"      service.name: {value: signin.amazonaws.com}\n", "", "error[M312]: at_least_one of authentication (authentication) cannot hold: no rule sets dst_endpoint, service"},
		{"      src_endpoint.ip: {from: ip}\n", "", "routed.yaml:17:3: error[M305]: required attribute src_endpoint of api_activity has no rule"},
	} {
		if !strings.Contains(base, tc.old) {
			t.Fatalf("%q not in the test mapping", tc.old)
		}
		m, diags := spec.Parse("routed.yaml", []byte(strings.Replace(base, tc.old, tc.new, 1)))
		if !diags.HasErrors() {
			_, diags = CompileAll(m)
		}
		if !strings.Contains(diags.Render(), tc.want) {
			t.Errorf("%s -> %s:\n got  %s\n want %s", tc.old, tc.new, diags.Render(), tc.want)
		}
	}
	// A problem of the common part is reported once, not once per class.
	m, _ := spec.Parse("routed.yaml", []byte(strings.Replace(base, "{expr: 'epoch_ms(t)'}", "{expr: 'epoch_ms(t'}", 1)))
	if _, diags := CompileAll(m); strings.Count(diags.Render(), "M201") != 1 {
		t.Errorf("common error repeated:\n%s", diags.Render())
	}
}
