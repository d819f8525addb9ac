package plan

import (
	"errors"
	"strings"
	"testing"
)

// header is the part every small test mapping shares: the class's required
// attributes, so each case adds only the rules it is about.
const header = `format: ocsfmap/v1
mapping: t/rules
version: 1.0.0
ocsf: {version: 1.1.0, class: security_finding, profiles: [cloud]}
%s
fields:
  time: {expr: 'epoch_ms(t)'}
  activity_id: {value: 1}
  state_id: {value: 1}
  severity_id: {value: 1}
  finding.uid: {from: id}
  finding.title: {value: x}
  cloud.provider: {value: AWS}
  metadata.product.vendor_name: {value: v}
  metadata.product.name: {value: p}
`

// compileString compiles a small test mapping with the hello.txt template.
func compileString(t *testing.T, top, fields string) *Plan {
	t.Helper()
	return compileWithTemplates(t, top, fields, map[string]string{
		"hello.txt": "hello {{ name ?? \"you\" }}, {{ upper(team ?? \"\") }}!\n",
	})
}

func TestRuleKinds(t *testing.T) {
	p := compileString(t, `lookups:
  sev: {high: 4, low: 2, _default: 99}`, `  message: {from: [msg, description, summary]}
  status: {expr: 'status', when: 'status != "hidden"'}
  status_detail: {template: hello.txt}
  impact_id: {lookup: sev, key: 'trim(str(level) ?? "")'}
  confidence_id: {expr: 'level == nil ? nil : lookup("sev", level, 1) - 1'}
  count: {from: n, default: 7}
  finding.types: {from: kinds}
  unmapped.raw: {from: nested.inner}
`)
	m := p.NewMapper()
	for _, tc := range []struct {
		name, in string
		want     []string // substrings of the JSON record
		absent   []string
		err      string // the record's error code, when it fails
	}{
		{"first present of several, blank skipped", `{"t": 1793528130, "id": "a", "msg": " ", "description": "d"}`,
			[]string{`"message":"d"`, `"count":7`}, nil, ""},
		{"when false leaves the attribute out", `{"t": 1793528130, "id": "a", "status": "hidden"}`,
			nil, []string{`"status"`}, ""},
		{"when true", `{"t": 1793528130, "id": "a", "status": "shown"}`, []string{`"status":"shown"`}, nil, ""},
		{"template", `{"t": 1793528130, "id": "a", "team": "sec"}`, []string{`"status_detail":"hello you, SEC!"`}, nil, ""},
		{"lookup with a key expression and the lookup() function", `{"t": 1793528130, "id": "a", "level": " HIGH "}`,
			[]string{`"impact_id":4`, `"impact":"Critical"`, `"confidence_id":3`, `"confidence":"High"`}, nil, ""},
		{"an expression's id outside the enum is checked per record", `{"t": 1793528130, "id": "a", "level": "odd"}`,
			nil, nil, "R404"},
		{"lookup default", `{"t": 1793528130, "id": "a", "level": "odd", "n": 1}`, []string{`"impact_id":99`, `"impact":"odd"`}, nil, "R404"},
		{"one value becomes a list of one", `{"t": 1793528130, "id": "a", "kinds": "k1"}`, []string{`"types":["k1"]`}, nil, ""},
		{"a list stays a list, nulls dropped", `{"t": 1793528130, "id": "a", "kinds": ["k1", null, 2]}`, []string{`"types":["k1","2"]`}, nil, ""},
		{"dotted source path", `{"t": 1793528130, "id": 12, "nested": {"inner": {"x": [1, true]}}}`,
			[]string{`"unmapped":{"raw":{"x":[1,true]}}`, `"uid":"12"`}, nil, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := m.Map([]byte(tc.in))
			if tc.err != "" {
				var pe *Error
				if !errors.As(err, &pe) || pe.Code != tc.err {
					t.Fatalf("want %s, got %v", tc.err, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			out := string(m.AppendJSON(nil))
			for _, w := range tc.want {
				if !strings.Contains(out, w) {
					t.Errorf("want %s in %s", w, out)
				}
			}
			for _, a := range tc.absent {
				if strings.Contains(out, a) {
					t.Errorf("want no %s in %s", a, out)
				}
			}
		})
	}
}

func TestErrorPolicies(t *testing.T) {
	fields := "  count: {from: n}\n  message: {expr: 'int(msg) > 0 ? \"big\" : \"small\"'}\n"
	in := []byte(`{"t": 1793528130, "id": "a", "n": "twelve", "msg": "x"}`)
	var pe *Error

	dead := compileString(t, "", fields).NewMapper()
	if _, err := dead.Map(in); !errors.As(err, &pe) || pe.Code != "R402" || pe.Path != "count" || pe.Rule.Line != 16 {
		t.Fatalf("dead_letter: %v", err)
	}

	soft := compileString(t, "on_error: null_field", fields).NewMapper()
	if _, err := soft.Map(in); err != nil {
		t.Fatalf("null_field: %v", err)
	}
	out := string(soft.AppendJSON(nil))
	if strings.Contains(out, `"count"`) || strings.Contains(out, `"message"`) || !strings.Contains(out, `"uid":"a"`) {
		t.Fatalf("null_field leaves the failing attributes out: %s", out)
	}
	if errs := soft.SoftErrors(); len(errs) != 2 || errs[0].Code != "R402" || errs[1].Code != "R401" {
		t.Fatalf("soft errors: %v", errs)
	}
	// A required attribute is still required under null_field.
	if _, err := soft.Map([]byte(`{"id": "a"}`)); !errors.As(err, &pe) || pe.Code != "R403" || pe.Path != "time" {
		t.Fatalf("null_field, no time: %v", err)
	}
	if p := compileString(t, "on_error: fail", fields); p.Policy != Fail {
		t.Fatalf("policy %v", p.Policy)
	}
}
