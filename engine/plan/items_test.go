package plan

import (
	"errors"
	"testing"
)

// TestEveryItemIsChecked: the per-record checks (required attributes,
// constraints) hold for every item of a list set by index, not only the
// first: observables[1] without its name is dead-lettered like
// observables[0] would be (the lake's JSON Schema check refused it while
// the plan let it through).
func TestEveryItemIsChecked(t *testing.T) {
	p := compileString(t, "", `  observables[0].name: {from: a}
  observables[0].type_id: {value: 1}
  observables[1].name: {from: b}
  observables[1].type_id: {value: 2}
  resources[0].uid: {from: r0}
  resources[1].uid: {from: r1}
  resources[1].type: {value: bucket}
`)
	m := p.NewMapper()
	for _, tc := range []struct{ in, code, path string }{
		{`{"t": 1793528130, "id": "i", "a": "x", "b": "y", "r0": "u", "r1": "v"}`, "", ""},
		{`{"t": 1793528130, "id": "i", "b": "y"}`, "R403", "observables[0].name"},
		{`{"t": 1793528130, "id": "i", "a": "x"}`, "R403", "observables[1].name"},
		{`{"t": 1793528130, "id": "i", "a": "x", "b": "y"}`, "R406", "resources[1]"},
	} {
		_, err := m.Map([]byte(tc.in))
		var e *Error
		switch {
		case tc.code == "" && err != nil:
			t.Errorf("%s: %v", tc.in, err)
		case tc.code != "" && (!errors.As(err, &e) || e.Code != tc.code || e.Path != tc.path):
			t.Errorf("%s: %v, want %s at %s", tc.in, err, tc.code, tc.path)
		}
	}
}
