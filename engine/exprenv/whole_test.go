package exprenv

import (
	"strings"
	"testing"
)

// TestEnvIsTheCurrentRecord: $env is the whole record SetRecord names, and
// only it: never the fields earlier records (or other programs) left in the
// runner's reused environment.
func TestEnvIsTheCurrentRecord(t *testing.T) {
	named, err := Compile(`owner?.name`, Options{})
	if err != nil {
		t.Fatal(err)
	}
	whole, err := Compile(`json($env)`, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if named.Whole() || !whole.Whole() || len(whole.Vars) != 0 {
		t.Fatalf("Whole: %v, %v; vars %v", named.Whole(), whole.Whole(), whole.Vars)
	}
	named, whole = named.Bind([]int{0}), whole.Bind(nil)
	r := NewRunner()
	records := []struct{ raw, want string }{
		{`{"id":"A","owner":{"name":"alice","ssn":"111"},"n":1}`, `{"id":"A","n":1,"owner":{"name":"alice","ssn":"111"}}`},
		{`{"id":"B","owner":{"name":"bob","ssn":"222"}}`, `{"id":"B","owner":{"name":"bob","ssn":"222"}}`},
		{`{"id":"C"}`, `{"id":"C"}`},
	}
	for _, rec := range records {
		r.SetRecord([]byte(rec.raw))
		// The named field first, so Env holds this record's owner too.
		if _, err := r.RunFields(named, []any{nil}); err != nil {
			t.Fatal(err)
		}
		got, err := r.RunFields(whole, nil)
		if err != nil {
			t.Fatal(err)
		}
		if got != rec.want {
			t.Errorf("json($env) over %s = %v, want %s", rec.raw, got, rec.want)
		}
	}
	// Without a record there is nothing to show: an error, not an old record.
	r.SetRecord(nil)
	if _, err := r.RunFields(whole, nil); err == nil || !strings.Contains(err.Error(), "no current record") {
		t.Fatalf("no record: %v", err)
	}
}

// TestEnvWithFields: a program reading $env and named fields reads both
// from the current record, in conditions and lets too.
func TestEnvWithFields(t *testing.T) {
	p, err := Compile(`let k = keys($env); id + ":" + string(len(k)) + ":" + string($env["n"] ?? "none")`, Options{})
	if err != nil {
		t.Fatal(err)
	}
	p = p.Bind([]int{0})
	r := NewRunner()
	for _, tc := range []struct{ raw, want string }{
		{`{"id":"A","n":2}`, "A:2:2"},
		{`{"id":"B"}`, "B:1:none"},
	} {
		r.SetRecord([]byte(tc.raw))
		got, err := r.RunFields(p, []any{"ignored"})
		if err != nil {
			t.Fatal(err)
		}
		if got != tc.want {
			t.Errorf("%s: %v, want %s", tc.raw, got, tc.want)
		}
	}
}
