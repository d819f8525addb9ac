package conformance

import (
	"encoding/json"
	"regexp"
	"testing"
)

// knownRule is every rule a record check may report: ours and the JSON
// Schema keywords our schemas use.
var knownRule = regexp.MustCompile(`^(json|version|class|type_uid|caption|time_dt|` +
	`required|type|enum|const|additionalProperties|at_least_one|just_one|items|minItems|maxItems|)$`)

// FuzzCheckRecord feeds arbitrary JSON to the record checks: no panic, and
// only known rules, each with a message.
func FuzzCheckRecord(f *testing.F) {
	for _, rec := range validRecords(f, "security_finding_1.1.0.yaml", 3) {
		b, _ := json.Marshal(rec)
		f.Add(b)
	}
	f.Add([]byte(`{"class_uid": 2001, "metadata": {"version": "1.1.0", "profiles": [1, "cloud"]}, "time": 1e300, "time_dt": 7}`))
	f.Add([]byte(`{"class_uid": "2001", "metadata": {"version": 1.1}}`))
	f.Add([]byte(`[1, 2]`))
	c, err := New(Options{}, func(Problem) {})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var doc any
		if json.Unmarshal(b, &doc) != nil {
			return
		}
		probs, _ := c.checkRecord(loc{file: "f", line: 1}, doc)
		for _, p := range probs {
			if !knownRule.MatchString(p.Rule) || p.Message == "" {
				t.Fatalf("problem %+v", p)
			}
		}
	})
}
