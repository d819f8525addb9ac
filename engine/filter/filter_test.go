package filter

import (
	"testing"

	"github.com/ocsfmap/ocsfmap/engine/diag"
)

func TestMatch(t *testing.T) {
	f, diags := Compile([]Rule{
		{Name: "critical", Enabled: true, Scope: `norm(risk) == "critical"`},
		{Name: "disabled", Enabled: false, Scope: `true`},
		{Name: "aws-high", Enabled: true, Scope: `lower(risk) == "high" && csp == "AWS"`},
	})
	if diags.HasErrors() || f.Rules() != 2 {
		t.Fatalf("%v, %d rules", diags, f.Rules())
	}
	m := f.NewMatcher()
	for _, tc := range []struct{ alert, want string }{
		{`{"risk": " Critical ", "csp": "GCP"}`, "critical"},
		{`{"risk": "High", "csp": "AWS"}`, "aws-high"},
		{`{"risk": "High", "csp": "Azure"}`, ""},
		{`{"risk": null}`, ""}, // lower(nil) fails: a scope that cannot be evaluated does not match
		{`{}`, ""},
	} {
		got, err := m.Match([]byte(tc.alert))
		if err != nil || got != tc.want {
			t.Errorf("%s: got %q, %v; want %q", tc.alert, got, err, tc.want)
		}
	}
	if _, err := m.Match([]byte(`{"risk": `)); err == nil {
		t.Error("broken JSON matched without an error")
	}
}

func TestCompileErrors(t *testing.T) {
	pos := diag.Pos{File: "integ.yaml", Line: 9, Column: 12}
	_, diags := Compile([]Rule{
		{Name: "typo", Enabled: true, Scope: `lowr(risk) == "high"`, Pos: pos},
		{Name: "not-bool", Enabled: true, Scope: `risk +`, Pos: pos},
		{Name: "off", Enabled: false, Scope: `this is not even parsed`},
	})
	if len(diags) != 2 || diags[0].Code != "C201" || diags[0].Pos != pos || len(diags[0].Suggest) == 0 || diags[0].Suggest[0] != "lower" {
		t.Fatalf("%s", diags.Render())
	}
}

func TestNoRulesMatchesNothingToFilter(t *testing.T) {
	f, _ := Compile(nil)
	if got, err := f.NewMatcher().Match([]byte(`{}`)); got != "" || err != nil {
		t.Fatalf("%q %v", got, err)
	}
}
