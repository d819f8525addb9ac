package engine

import (
	"errors"
	"maps"
	"strings"
	"testing"

	"github.com/ocsfmap/ocsfmap/engine/filter"
	"github.com/ocsfmap/ocsfmap/engine/plan"
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

// TestRulesShareTheMappingsExtraction: with alert rules on, the pipeline
// (one scan of each alert for the rules and the mapping) exports, leaves
// out and dead-letters exactly what matching each alert on its own and then
// mapping it does, with the same records, among alerts whose fields come
// and go from one to the next.
func TestRulesShareTheMappingsExtraction(t *testing.T) {
	m := load(t, shipped[0])
	f, diags := filter.Compile([]filter.Rule{
		{Name: "high", Enabled: true, Scope: `lower(risk) in ["critical", "high"]`},
		{Name: "gcp-tagged", Enabled: true, Scope: `csp == "GCP" && tags?.env != nil`},
	})
	if diags.HasErrors() {
		t.Fatal(diags.Render())
	}
	alerts := corpus(t, 1500, 21)
	alerts = append(alerts, []byte(`{"alert_id": "broken", "risk": "High",`), []byte(`{"alert_id": "no-risk", "csp": "AWS"}`), []byte(`["not an object"]`))
	alerts = append(alerts, corpus(t, 500, 22)...)
	var data []byte
	for _, a := range alerts {
		data = append(append(data, a...), '\n')
	}

	// The reference: each alert matched by a matcher of its own, then mapped.
	type outcome struct{ out, rule string }
	want := map[int]outcome{}
	matcher, mapper := f.NewMatcher(), m.Plan.NewMapper()
	for i, a := range alerts {
		rule, err := matcher.Match(a)
		var se *filter.ScopeError
		switch {
		case errors.As(err, &se):
			want[i+1] = outcome{out: "dead R407"}
		case err != nil:
			want[i+1] = outcome{out: "dead R400"}
		case rule == "":
			want[i+1] = outcome{out: "filtered"}
		default:
			_, err := mapper.Map(a)
			var pe *plan.Error
			switch {
			case errors.Is(err, plan.ErrDropped):
				want[i+1] = outcome{out: "filtered"}
			case errors.As(err, &pe):
				want[i+1] = outcome{out: "dead " + pe.Code, rule: rule}
			case err != nil:
				t.Fatalf("line %d: %v", i+1, err)
			default:
				want[i+1] = outcome{out: string(mapper.AppendJSON(nil)), rule: rule}
			}
		}
	}

	sink, dead := &jsonCollect{lines: map[int]string{}}, &deadCollect{}
	counts, err := m.Run(t.Context(), []Input{bytesInput("alerts.ndjson", data)}, Options{Sink: sink, DeadLetters: dead, Filter: f, Workers: 2})
	if err != nil {
		t.Fatal(err)
	}
	got := map[int]outcome{}
	for line, out := range sink.lines {
		got[line] = outcome{out: out}
	}
	for _, d := range dead.items {
		got[d.Line] = outcome{out: "dead " + d.Code}
	}
	byRule := map[string]int64{}
	var filtered int64
	for line, w := range want {
		g, ok := got[line]
		switch {
		case w.out == "filtered":
			filtered++
			if ok {
				t.Errorf("line %d: left out by the reference, the pipeline has %.80s", line, g.out)
			}
		case !ok:
			t.Errorf("line %d: the reference has %.80s, the pipeline nothing", line, w.out)
		case g.out != w.out:
			t.Errorf("line %d:\n pipeline  %s\n reference %s", line, g.out, w.out)
		}
		if w.rule != "" && !strings.HasPrefix(w.out, "dead") {
			byRule[w.rule]++
		}
	}
	if counts.Read != int64(len(alerts)) || counts.Filtered != filtered || !maps.Equal(counts.ByRule, byRule) {
		t.Errorf("counts %+v; want %d read, %d filtered, by rule %v", counts, len(alerts), filtered, byRule)
	}
	if byRule["high"] == 0 || byRule["gcp-tagged"] == 0 || filtered == 0 || counts.ScopeErrors == 0 {
		t.Errorf("the corpus does not exercise every outcome: by rule %v, %d filtered, %d scope errors", byRule, filtered, counts.ScopeErrors)
	}
}

// jsonCollect keeps each written record's OCSF JSON by input line.
type jsonCollect struct{ lines map[int]string }

func (c *jsonCollect) WantsJSON() bool { return true }
func (c *jsonCollect) Write(r *Result) error {
	c.lines[r.Line] = string(r.JSON)
	return nil
}
