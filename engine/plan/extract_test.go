package plan

import (
	"reflect"
	"testing"
)

// Fields an integration's alert rules read, beside the isolation mapping's
// (t, id, owner): id is the mapping's too, so owner and t are the fields
// whose decoding waits for MapExtracted.
var ruleFields = []string{"flag", "id"}

// TestExtractThenMapIsMap: a mapper given extra fields maps every record
// as a plain one does, and Extra holds the record's own values of them.
func TestExtractThenMapIsMap(t *testing.T) {
	p := compileIsolation(t)
	// owner.name is below a field of the mapping's: owner is then decoded
	// at once.
	plain, split := p.NewMapper(), p.NewMapper("flag", "owner.name", "id")
	want := map[string][]any{
		"A": {true, "alice", "A"},
		"B": {nil, "bob", "B"},
		"C": {nil, nil, "C"},
	}
	for _, id := range []string{"A", "B", "C", "A"} {
		raw := []byte(isolationRecords[id])
		if err := split.Extract(raw); err != nil {
			t.Fatal(err)
		}
		if got := split.Extra(); !reflect.DeepEqual(got, want[id]) {
			t.Errorf("%s: Extra %#v, want %#v", id, got, want[id])
		}
		if _, err := split.MapExtracted(); err != nil {
			t.Fatalf("%s: %v", id, err)
		}
		if _, err := plain.Map(raw); err != nil {
			t.Fatalf("%s: %v", id, err)
		}
		if got, want := string(split.AppendJSON(nil)), string(plain.AppendJSON(nil)); got != want {
			t.Errorf("%s: extracted then mapped:\n%s\nmapped:\n%s", id, got, want)
		}
		// Map on the same mapper is still one call.
		if err := checkIsolated(split, id); err != nil {
			t.Error(err)
		}
	}
}

// TestExtractedRecordsDoNotMix: records the caller leaves out after
// Extract (a rule said no) leave nothing behind for the next one mapped,
// in the mapping's values nor in Extra; a record maps once, and a broken
// record leaves nothing to map.
func TestExtractedRecordsDoNotMix(t *testing.T) {
	m := compileIsolation(t).NewMapper(ruleFields...)
	extract := func(id string) {
		t.Helper()
		if err := m.Extract([]byte(isolationRecords[id])); err != nil {
			t.Fatal(err)
		}
	}
	for _, seq := range [][]string{{"A", "C"}, {"B", "A", "C"}, {"A", "B"}, {"C", "A"}} {
		for _, left := range seq[:len(seq)-1] {
			extract(left) // left out: never mapped
		}
		last := seq[len(seq)-1]
		extract(last)
		if _, err := m.MapExtracted(); err != nil {
			t.Fatalf("%v: %v", seq, err)
		}
		if err := checkMapped(m, last); err != nil {
			t.Errorf("after %v left out: %v", seq[:len(seq)-1], err)
		}
	}
	if _, err := m.MapExtracted(); err == nil {
		t.Error("a record mapped twice")
	}
	extract("A")
	if err := m.Extract([]byte(`{"id": "D", "owner": {"name": `)); err == nil {
		t.Fatal("a broken record was extracted")
	}
	if got := m.Extra(); !reflect.DeepEqual(got, []any{nil, nil}) {
		t.Errorf("Extra after a broken record: %#v", got)
	}
	if _, err := m.MapExtracted(); err == nil {
		t.Errorf("after a broken record, MapExtracted mapped: %s", m.AppendJSON(nil))
	}
}
