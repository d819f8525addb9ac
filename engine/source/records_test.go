package source

import (
	"bytes"
	"compress/gzip"
	"errors"
	"reflect"
	"testing"
)

func collect(t *testing.T, r Records) (recs []string, lines []int) {
	t.Helper()
	for r.Next() {
		recs = append(recs, string(r.Record()))
		line, _ := r.Where()
		lines = append(lines, line)
	}
	return recs, lines
}

// A Stream yields what a Reader finds, gzip and envelopes included, and
// ends with the Reader's error when boundaries are lost.
func TestStreamRecords(t *testing.T) {
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write([]byte("{\"a\":1}\n\n{\"a\":2}\n"))
	zw.Close()
	s := BytesStream("in", gz.Bytes())
	recs, lines := collect(t, s)
	if !reflect.DeepEqual(recs, []string{`{"a":1}`, `{"a":2}`}) || !reflect.DeepEqual(lines, []int{1, 3}) || s.Err() != nil {
		t.Fatalf("gzip NDJSON: %q at %v, %v", recs, lines, s.Err())
	}
	if s.Bytes() != int64(gz.Len()) {
		t.Errorf("bytes %d, want %d", s.Bytes(), gz.Len())
	}

	env := BytesStream("env", []byte(`{"Records":[{"x":1},{"x":2}]}`))
	env.Envelope("Records")
	recs, _ = collect(t, env)
	if _, idx := env.Where(); len(recs) != 2 || idx != 0 {
		t.Fatalf("envelope: %q", recs)
	}

	broken := BytesStream("broken", []byte(`[{"x":1}, {"x":2} {"x":3}]`))
	recs, _ = collect(t, broken)
	var se *SyntaxError
	if len(recs) != 2 || !errors.As(broken.Err(), &se) {
		t.Fatalf("broken array: %q, %v", recs, broken.Err())
	}
	if broken.Next() {
		t.Fatal("Next after an error")
	}
}

// Lines cuts stored lines at their newline, the last one with or without.
func TestLines(t *testing.T) {
	for _, data := range []string{"a\nbb\n\nccc\n", "a\nbb\n\nccc"} {
		l := NewLines([]byte(data))
		recs, lines := collect(t, l)
		if !reflect.DeepEqual(recs, []string{"a", "bb", "", "ccc"}) || !reflect.DeepEqual(lines, []int{1, 2, 3, 4}) {
			t.Errorf("%q: %q at %v", data, recs, lines)
		}
		if l.Bytes() != int64(len(data)) || l.Err() != nil {
			t.Errorf("%q: bytes %d", data, l.Bytes())
		}
	}
}
