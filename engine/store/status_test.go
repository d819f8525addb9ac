package store

import "testing"

func TestRecordScopeErrors(t *testing.T) {
	dir := t.TempDir()
	if err := RecordScopeErrors(dir, map[string]ScopeErrorStat{"r": {Count: 2, First: "e1", Where: "a.ndjson:3"}}); err != nil {
		t.Fatal(err)
	}
	if err := RecordScopeErrors(dir, map[string]ScopeErrorStat{"r": {Count: 1, First: "e2", Where: "b.ndjson:1"}}); err != nil {
		t.Fatal(err)
	}
	st, err := ReadStatus(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got := st.ScopeErrors["r"]; got != (ScopeErrorStat{Count: 3, First: "e1", Where: "a.ndjson:3"}) || st.State != Pending {
		t.Errorf("status %+v", st)
	}
}
