package store

import "testing"

// A batch's scope errors count once, however often it is delivered; the
// batches remembered stay bounded.
func TestBatchScopeErrorsCountOnce(t *testing.T) {
	dir := t.TempDir()
	add := map[string]ScopeErrorStat{"r": {Count: 2, First: "e1", Where: "log:3"}}
	for _, b := range []string{"epoch-1", "epoch-1", "epoch-2", "epoch-1"} {
		if err := RecordBatchScopeErrors(dir, b, add); err != nil {
			t.Fatal(err)
		}
	}
	st, err := ReadStatus(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got := st.ScopeErrors["r"]; got.Count != 4 || got.First != "e1" {
		t.Fatalf("scope errors %+v, want 4 (two batches of 2)", got)
	}
	for i := range keptScopeErrorBatches + 10 {
		RecordBatchScopeErrors(dir, string(rune('a'+i%26))+string(rune('a'+i/26)), add)
	}
	if st, _ = ReadStatus(dir); len(st.ScopeErrorBatches) != keptScopeErrorBatches {
		t.Fatalf("%d batches remembered", len(st.ScopeErrorBatches))
	}
}
