package plan

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ocsfmap/ocsfmap/engine/spec"
	"github.com/ocsfmap/ocsfmap/engine/validate"
)

// TestConstraintNoRule: an object whose OCSF constraint names attributes
// no rule sets can never be valid: a load error that names the constraint.
func TestConstraintNoRule(t *testing.T) {
	src := strings.Replace(header, "%s", "", 1) + "  resources[0].uid: {value: r}\n  resources[0].owner.type_id: {value: 0}\n"
	m, diags := spec.Parse(filepath.Join(t.TempDir(), "m.yaml"), []byte(src))
	if diags.HasErrors() {
		t.Fatal(diags.Render())
	}
	_, diags = Compile(m)
	out := diags.Render()
	want := "m.yaml:17:3: error[M312]: at_least_one of resources[0].owner (user) cannot hold: no rule sets account, name, uid"
	if !strings.Contains(out, want) {
		t.Errorf("diagnostics:\n%s\nwant a line containing %q", out, want)
	}
}

// TestConstraintPerRecord: a constraint a record may break is checked per
// record (R406, naming it), agreeing with the JSON Schema on the same
// records.
func TestConstraintPerRecord(t *testing.T) {
	p := compileString(t, "", `  resources[0].uid: {value: r}
  resources[0].owner.type_id: {value: 0}
  resources[0].owner.uid: {from: owner_id}
  resources[0].owner.name: {from: owner_name}
`)
	v, err := validate.For("1.1.0", "security_finding", []string{"cloud"})
	if err != nil {
		t.Fatal(err)
	}
	m := p.NewMapper()
	for _, tc := range []struct {
		in      string
		wantErr string
	}{
		{`{"t": 1793528130, "id": "i", "owner_id": "u1"}`, ""},
		{`{"t": 1793528130, "id": "i", "owner_name": "n"}`, ""},
		{`{"t": 1793528130, "id": "i"}`, "R406 resources[0].owner (rule at m.yaml:17:3): constraint at_least_one of user not met: needs at least one of account, name, uid; has 0"},
	} {
		_, err := m.Map([]byte(tc.in))
		got := ""
		if err != nil {
			got = strings.Replace(err.Error(), filepath.Dir(p.File)+string(filepath.Separator), "", 1)
		}
		if got != tc.wantErr {
			t.Errorf("%s: error %q, want %q", tc.in, got, tc.wantErr)
		}
		// Without the plan's checks, the JSON Schema says the same.
		_, err = m.MapUnchecked([]byte(tc.in))
		if err != nil {
			t.Fatal(err)
		}
		b := m.AppendJSON(nil)
		vs, err := v.ValidateJSON(b)
		if err != nil {
			t.Fatal(err)
		}
		if (len(vs) > 0) != (tc.wantErr != "") {
			t.Errorf("%s: JSON Schema says %v, the plan %q", tc.in, vs, tc.wantErr)
		}
	}
	var perr *Error
	if _, err := m.Map([]byte(`{"t": 1793528130, "id": "i"}`)); !errors.As(err, &perr) || perr.Code != "R406" {
		t.Errorf("error %v is not an R406 *Error", err)
	}
}
