package plan

import (
	"errors"
	"strings"
	"testing"
)

// TestWholeObjectsPerRecord: objects whose keys only the data knows (a
// source field's objects) are checked per record under the default checks:
// an unknown key, a value of the wrong type or outside its enum, deep in
// nested objects and lists, or a required attribute or constraint not met
// is a dead letter naming the rule and the value's JSON pointer; valid
// objects are written typed, enum captions derived as for rules, nulls and
// empty lists and objects left out.
func TestWholeObjectsPerRecord(t *testing.T) {
	p := compileString(t, "", `  resources: {expr: 'res'}
  vulnerabilities[0].cve: {from: cve}
  process: {from: proc}
`)
	m := p.NewMapper()
	for _, tc := range []struct {
		name, in string
		want     []string // substrings of the JSON record
		code     string   // the record's error code, when it fails
		msg      string   // words its message must hold
	}{
		{"typed objects", `{"t": 1793528130, "id": "a", "res": [{"uid": "u1", "type": "bucket", "owner": {"name": "al", "type_id": "1"}, "labels": "l"}, null, {"name": "n2", "owner": {"name": null}, "labels": []}]}`,
			[]string{`"resources":[{"labels":["l"],"owner":{"name":"al","type":"User","type_id":1},"type":"bucket","uid":"u1"},{"name":"n2"}]`}, "", ""},
		{"a caption set is kept", `{"t": 1793528130, "id": "a", "res": [{"uid": "u1", "owner": {"name": "al", "type_id": 99, "type": "robot"}}]}`,
			[]string{`"owner":{"name":"al","type":"robot","type_id":99}`}, "", ""},
		{"outside the enum", `{"t": 1793528130, "id": "a", "res": [{"uid": "u1", "owner": {"name": "al", "type_id": 42}}]}`,
			nil, "R404", `/resources/0/owner/type_id: 42 is not a value of the enum`},
		{"one object is a list of one", `{"t": 1793528130, "id": "a", "res": {"uid": "u1"}}`,
			[]string{`"resources":[{"uid":"u1"}]`}, "", ""},
		{"nested lists of objects", `{"t": 1793528130, "id": "a", "cve": {"uid": "CVE-1", "cvss": [{"version": "3.1", "base_score": 9.8}]}}`,
			[]string{`"vulnerabilities":[{"cve":{"cvss":[{"base_score":9.8,"version":"3.1"}],"uid":"CVE-1"}}]`}, "", ""},
		{"misspelt key", `{"t": 1793528130, "id": "a", "res": [{"uid": "u1"}, {"uidd": "u2", "zzz": 1}]}`,
			nil, "R402", `/resources/1/uidd: resource_details has no attribute "uidd" (did you mean "uid"?)`},
		{"wrong type in a nested object", `{"t": 1793528130, "id": "a", "res": [{"uid": "u1", "owner": {"type_id": "admin"}}]}`,
			nil, "R402", `/resources/0/owner/type_id: "admin" is not an integer`},
		{"not an object", `{"t": 1793528130, "id": "a", "res": ["arn:1"]}`,
			nil, "R402", `/resources/0: "arn:1" is not an object`},
		{"deep in a list inside an object", `{"t": 1793528130, "id": "a", "cve": {"uid": "CVE-1", "cvss": [{"version": "3.1", "base_score": "high"}]}}`,
			nil, "R402", `/vulnerabilities/0/cve/cvss/0/base_score: "high" is not a number`},
		{"required attribute", `{"t": 1793528130, "id": "a", "cve": {"uid": "CVE-1", "cvss": [{"version": "3.1"}]}}`,
			nil, "R403", `/vulnerabilities/0/cve/cvss/0/base_score: required attribute of cvss`},
		{"constraint", `{"t": 1793528130, "id": "a", "res": [{"type": "bucket"}]}`,
			nil, "R406", `/resources/0: constraint at_least_one of resource_details not met: needs at least one of name, uid; has 0`},
		{"three levels of objects", `{"t": 1793528130, "id": "a", "res": [{"uid": "u", "owner": {"account": {"uid": "1"}, "groups": [{"name": "g"}]}}]}`,
			[]string{`"owner":{"account":{"uid":"1"},"groups":[{"name":"g"}]}`}, "", ""},
		{"an object never holds itself", `{"t": 1793528130, "id": "a", "proc": {"pid": 1, "parent_process": {"pid": 2}}}`,
			nil, "R402", `/process/parent_process: process.parent_process: an object set as a whole holds objects 3 levels deep at most, and never itself`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := m.Map([]byte(tc.in))
			if tc.code != "" {
				var pe *Error
				if !errors.As(err, &pe) || pe.Code != tc.code || !strings.Contains(pe.Msg, tc.msg) || pe.Rule.Line == 0 {
					t.Fatalf("want %s %q with the rule's line, got %v", tc.code, tc.msg, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got := string(m.AppendJSON(nil))
			for _, w := range tc.want {
				if !strings.Contains(got, w) {
					t.Errorf("want %s in\n%s", w, got)
				}
			}
		})
	}
}
