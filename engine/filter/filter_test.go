package filter

import (
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/ocsfmap/ocsfmap/engine/diag"
	"github.com/ocsfmap/ocsfmap/engine/source"
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
	for _, tc := range []struct{ alert, want, scopeErr string }{
		{`{"risk": " Critical ", "csp": "GCP"}`, "critical", ""},
		{`{"risk": "High", "csp": "AWS"}`, "aws-high", ""},
		{`{"risk": "High", "csp": "Azure"}`, "", ""},
		// lower(nil) fails: no rule matches, and the failure is reported
		// (the first failing rule), never passed off as filtered.
		{`{"risk": null}`, "", "aws-high"},
		{`{}`, "", "aws-high"},
	} {
		got, err := m.Match([]byte(tc.alert))
		var se *ScopeError
		switch {
		case tc.scopeErr == "" && err != nil, got != tc.want:
			t.Errorf("%s: got %q, %v; want %q", tc.alert, got, err, tc.want)
		case tc.scopeErr != "" && (!errors.As(err, &se) || se.Rule != tc.scopeErr):
			t.Errorf("%s: error %v, want a scope error of rule %q", tc.alert, err, tc.scopeErr)
		}
	}
	// Another rule that holds wins over a failing scope.
	f2, _ := Compile([]Rule{
		{Name: "by-risk", Enabled: true, Scope: `lower(risk) == "high"`},
		{Name: "aws", Enabled: true, Scope: `csp == "AWS"`},
	})
	if got, err := f2.NewMatcher().Match([]byte(`{"csp": "AWS"}`)); got != "aws" || err != nil {
		t.Errorf("got %q, %v; want aws", got, err)
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

// TestMatchValues: matching values extracted by the caller (one scan of the
// alert for the rules and the mapping) decides as Match does.
func TestMatchValues(t *testing.T) {
	f, diags := Compile([]Rule{
		{Name: "critical", Enabled: true, Scope: `norm(risk) == "critical"`},
		{Name: "aws-high", Enabled: true, Scope: `lower(risk) == "high" && csp == "AWS"`},
		{Name: "whole", Enabled: true, Scope: `$env.tier == 1`},
	})
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	fields := f.Fields()
	if want := []string{"risk", "csp"}; !slices.Equal(fields, want) {
		t.Fatalf("Fields %q, want %q", fields, want)
	}
	m, values := f.NewMatcher(), f.NewMatcher()
	ext := source.NewExtractor(fields)
	vals := make([]any, len(fields))
	for _, alert := range []string{
		`{"risk": " Critical ", "csp": "GCP"}`,
		`{"risk": "High", "csp": "AWS"}`,
		`{"risk": "High", "csp": "Azure", "tier": 1}`,
		`{"risk": "High", "csp": "Azure"}`,
		`{"risk": null, "tier": 1}`,
		`{}`,
	} {
		want, wantErr := m.Match([]byte(alert))
		if err := ext.Extract([]byte(alert), vals); err != nil {
			t.Fatal(err)
		}
		got, err := values.MatchValues([]byte(alert), vals)
		if got != want || fmt.Sprint(err) != fmt.Sprint(wantErr) {
			t.Errorf("%s: MatchValues %q, %v; Match %q, %v", alert, got, err, want, wantErr)
		}
	}
	if _, err := values.MatchValues([]byte(`{}`), vals[:1]); err == nil {
		t.Error("MatchValues took one value for two fields")
	}
}
