package filter

import "testing"

// TestScopeEnvIsTheCurrentAlert: a scope reading $env sees the alert being
// matched, whole, never what another rule or an earlier alert left in the
// matcher's reused environment.
func TestScopeEnvIsTheCurrentAlert(t *testing.T) {
	f, diags := Compile([]Rule{
		{Name: "whole", Enabled: true, Scope: `$env.risk == "high"`},
		{Name: "named", Enabled: true, Scope: `risk == "never"`},
	})
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	m := f.NewMatcher()
	for _, tc := range []struct{ alert, want string }{
		{`{"risk": "high"}`, "whole"},
		{`{"risk": "low"}`, ""},
		{`{"other": 1}`, ""},
		{`{"risk": "high"}`, "whole"},
	} {
		if got, err := m.Match([]byte(tc.alert)); got != tc.want || err != nil {
			t.Errorf("%s: %q, %v; want %q", tc.alert, got, err, tc.want)
		}
	}
}
