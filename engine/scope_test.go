package engine

import (
	"strings"
	"testing"

	"github.com/ocsfmap/ocsfmap/engine/filter"
)

// TestScopeErrors runs the README's rule, lower(risk) in [...], on an alert
// without risk: under each on_scope_error the alert is counted apart, and
// it is dead-lettered (the default), left out, or written; the counts still
// add up.
func TestScopeErrors(t *testing.T) {
	m := load(t, shipped[0])
	f, diags := filter.Compile([]filter.Rule{{Name: "high-and-critical", Enabled: true, Scope: `lower(risk) in ["critical", "high"]`}})
	if diags.HasErrors() {
		t.Fatal(diags.Render())
	}
	base := `"alert_id": "a", "alert_status": "Open", "csp_event_timestamp": "2026-11-01T10:15:30Z", "csp": "AWS", "account_id": "123456789012", "region": "us-east-2"`
	data := []byte("{" + base + `, "risk": "High"}` + "\n" + "{" + base + `, "risk": "Low"}` + "\n" + "{" + base + "}\n")
	for _, tc := range []struct {
		policy                  ScopePolicy
		written, dead, filtered int64
	}{
		{ScopeDeadLetter, 1, 1, 1},
		{ScopeSkip, 1, 0, 2},
		{ScopeExport, 2, 0, 1},
	} {
		sink, dead := &collect{}, &deadCollect{}
		counts, err := m.Run(t.Context(), []Input{bytesInput("alerts.ndjson", data)},
			Options{Sink: sink, DeadLetters: dead, Filter: f, OnScopeError: tc.policy, Workers: 2})
		if err != nil {
			t.Fatal(err)
		}
		if counts.Written != tc.written || counts.DeadLettered != tc.dead || counts.Filtered != tc.filtered ||
			counts.Read != counts.Written+counts.DeadLettered+counts.Filtered {
			t.Errorf("policy %d: counts %+v", tc.policy, counts)
		}
		sc := counts.ByScopeError["high-and-critical"]
		if counts.ScopeErrors != 1 || sc == nil || sc.N != 1 || sc.Input != "alerts.ndjson" || sc.Line != 3 || sc.First == "" {
			t.Errorf("policy %d: scope errors %d %+v", tc.policy, counts.ScopeErrors, sc)
		}
		if tc.policy == ScopeDeadLetter {
			d := dead.items[0]
			if d.Code != "R407" || d.Line != 3 || !strings.Contains(d.Reason, `rule "high-and-critical": scope failed`) {
				t.Errorf("dead letter %+v", d)
			}
		}
	}
}

func TestParseScopePolicy(t *testing.T) {
	for in, want := range map[string]ScopePolicy{"": ScopeDeadLetter, "dead_letter": ScopeDeadLetter, "skip": ScopeSkip, "export": ScopeExport} {
		if got, err := ParseScopePolicy(in); err != nil || got != want {
			t.Errorf("%q: %v %v", in, got, err)
		}
	}
	if _, err := ParseScopePolicy("drop"); err == nil {
		t.Error("drop accepted")
	}
}
