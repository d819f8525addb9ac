package main

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/dspm from the generator")

// corpus lists the committed files and the flags that make them.
var corpus = []struct {
	file string
	args []string
}{
	{"alerts.ndjson", []string{"-n", "200", "-seed", "1"}},
	{"sample.ndjson", []string{"-n", "20", "-seed", "1"}},
}

// TestCorpusUpToDate regenerates testdata/dspm and compares bytes: the
// generator is deterministic, and the committed corpus is what it makes.
// Run with -update after changing the generator.
func TestCorpusUpToDate(t *testing.T) {
	for _, c := range corpus {
		path := filepath.Join("..", "..", "testdata", "dspm", c.file)
		var out, errs bytes.Buffer
		if code := run(c.args, &out, &errs); code != 0 {
			t.Fatalf("alertgen %s: exit %d: %s", strings.Join(c.args, " "), code, errs.String())
		}
		if *update {
			if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, out.Bytes(), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		want, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("%v (run go test ./cmd/alertgen -update)", err)
		}
		if !bytes.Equal(out.Bytes(), want) {
			t.Errorf("%s differs from alertgen %s; run go test ./cmd/alertgen -update", path, strings.Join(c.args, " "))
		}
		var again bytes.Buffer
		run(c.args, &again, &errs)
		if !bytes.Equal(out.Bytes(), again.Bytes()) {
			t.Errorf("alertgen %s: two runs differ", strings.Join(c.args, " "))
		}
	}
}

func TestRun(t *testing.T) {
	tests := []struct {
		args      []string
		code      int
		lines     int
		errSubstr string
	}{
		{[]string{"-n", "3"}, 0, 3, ""},
		{[]string{"-n", "0"}, 0, 0, ""},
		{[]string{"-n", "5", "-days", "7", "-accounts", "3", "-start", "2025-01-15"}, 0, 5, ""},
		{[]string{"-n", "2", "-start", "2025-01-15T12:00:00+02:00"}, 0, 2, ""},
		{[]string{"-start", "15/01/2025"}, 2, 0, "-start"},
		{[]string{"-days", "0"}, 2, 0, "-days"},
		{[]string{"-n", "-1"}, 2, 0, "-n"},
		{[]string{"-bogus"}, 2, 0, "bogus"},
		{[]string{"extra"}, 2, 0, "unexpected argument"},
	}
	for _, tt := range tests {
		var out, errs bytes.Buffer
		code := run(tt.args, &out, &errs)
		if code != tt.code || bytes.Count(out.Bytes(), []byte{'\n'}) != tt.lines || !strings.Contains(errs.String(), tt.errSubstr) {
			t.Errorf("alertgen %v: exit %d, %d lines, stderr %q; want exit %d, %d lines, stderr containing %q",
				tt.args, code, bytes.Count(out.Bytes(), []byte{'\n'}), errs.String(), tt.code, tt.lines, tt.errSubstr)
		}
	}
	// -start moves the window: the first day's alerts carry that date.
	var out, errs bytes.Buffer
	run([]string{"-n", "50", "-start", "2025-01-15"}, &out, &errs)
	if !bytes.Contains(out.Bytes(), []byte("2025-01-15")) || bytes.Contains(out.Bytes(), []byte("2026-11-01T")) {
		t.Error("-start 2025-01-15 did not move the alert times")
	}
}
