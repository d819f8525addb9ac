// Package benchcompare holds the tests of make bench-compare's DuckDB side:
// the expert SQL must write the records `ocsfmap run` writes, and the check
// that says so must see a changed value, a moved row and a missing file.
package benchcompare

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ocsfmap/ocsfmap/engine/alertgen"
	"github.com/ocsfmap/ocsfmap/engine/lake/duckdbtest"
)

// lakes is ocsfmap's lake and DuckDB's (expert SQL, one thread) for the same
// 3,000 alerts of 20 accounts over 2 days (about 80 partitions), made once
// for every test.
var lakes struct {
	dir, ocsfmap, duckdb string
	err                  error
}

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "bench-compare")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	lakes.dir = dir
	lakes.err = makeLakes(dir)
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func makeLakes(dir string) error {
	tools := os.Getenv("OCSFMAP_TOOLS")
	if tools == "" {
		return errors.New("OCSFMAP_TOOLS is not set: run make test (or make tools, then OCSFMAP_TOOLS=<repo>/.tools go test)")
	}
	bin := filepath.Join(dir, "ocsfmap-bin")
	if out, err := exec.Command("go", "build", "-o", bin, "../ocsfmap").CombinedOutput(); err != nil {
		return fmt.Errorf("build ocsfmap: %v\n%s", err, out)
	}
	g := alertgen.New(1, alertgen.Options{Accounts: 20, Days: 2})
	var alerts []byte
	for range 3000 {
		alerts = g.AppendNDJSON(alerts)
	}
	input := filepath.Join(dir, "alerts.ndjson")
	if err := os.WriteFile(input, alerts, 0o644); err != nil {
		return err
	}
	lakes.ocsfmap = filepath.Join(dir, "lake-ocsfmap")
	lakes.duckdb = filepath.Join(dir, "lake-duckdb")
	if out, err := exec.Command(bin, "run", "-q", "-m", "../../mappings/zscaler-dspm/security_finding_1.1.0.yaml",
		"-o", lakes.ocsfmap, input).CombinedOutput(); err != nil {
		return fmt.Errorf("ocsfmap run: %v\n%s", err, out)
	}
	if out, err := exec.Command("node", "duckdb_copy.cjs", filepath.Join(tools, "duckdb"), "1",
		"dspm_security_finding_1.1.0_expert.sql", input, lakes.duckdb).CombinedOutput(); err != nil {
		return fmt.Errorf("duckdb: %v\n%s", err, out)
	}
	return nil
}

// equal runs duckdb_equal.cjs on ocsfmap's lake and lake, and returns its
// report and whether it found them equal (exit 0) or not (exit 1).
func equal(t *testing.T, lake string) (string, bool) {
	t.Helper()
	if lakes.err != nil {
		t.Fatal(lakes.err)
	}
	cmd := exec.Command("node", "duckdb_equal.cjs", filepath.Join(os.Getenv("OCSFMAP_TOOLS"), "duckdb"), lakes.ocsfmap, lake, "ocsfmap", "duckdb")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	var exit *exec.ExitError
	switch {
	case err == nil:
		return string(out), true
	case errors.As(err, &exit) && exit.ExitCode() == 1:
		return string(out), false
	}
	t.Fatalf("duckdb_equal: %v\n%s%s", err, out, stderr.String())
	return "", false
}

// TestExpertSQLWritesOcsfmapsRecords is what makes the benchmark fair: the
// DuckDB it is timed against writes the same partitions, files, row order
// and values (over 2 days: each partition's rows by time, ties by input line).
func TestExpertSQLWritesOcsfmapsRecords(t *testing.T) {
	report, ok := equal(t, lakes.duckdb)
	if !ok || !strings.Contains(report, "equal: every partition, file, row position") {
		t.Fatalf("DuckDB's lake is not ocsfmap's:\n%s", report)
	}
}

// copyLake copies DuckDB's lake for a test to change.
func copyLake(t *testing.T) string {
	t.Helper()
	if lakes.err != nil {
		t.Fatal(lakes.err)
	}
	dst := filepath.Join(t.TempDir(), "lake")
	if out, err := exec.Command("cp", "-r", lakes.duckdb, dst).CombinedOutput(); err != nil {
		t.Fatalf("cp: %v\n%s", err, out)
	}
	return dst
}

// largestFile is the Parquet file of lake with the most bytes: the one
// with the most rows, for a test that moves rows.
func largestFile(t *testing.T, lake string) string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(lake, "*", "*", "*", "*.parquet"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no files in %s: %v", lake, err)
	}
	var largest string
	var size int64 = -1
	for _, f := range files {
		if fi, err := os.Stat(f); err == nil && fi.Size() > size {
			largest, size = f, fi.Size()
		}
	}
	return largest
}

// rewrite replaces the largest Parquet file of lake by the result of query,
// in which {file} reads the file with its row positions (file_row_number).
func rewrite(t *testing.T, lake, query string) {
	t.Helper()
	f := largestFile(t, lake)
	read := fmt.Sprintf("read_parquet('%s', hive_partitioning = false, file_row_number = true)", f)
	duckdbtest.Query(t, map[string]string{"rewrite": fmt.Sprintf("COPY (%s) TO '%s.new' (FORMAT parquet, COMPRESSION zstd)",
		strings.ReplaceAll(query, "{file}", read), f)})
	if err := os.Rename(f+".new", f); err != nil {
		t.Fatal(err)
	}
}

func TestEqualityCheckFindsDifferences(t *testing.T) {
	t.Run("a nested value", func(t *testing.T) {
		lake := copyLake(t)
		rewrite(t, lake, `SELECT * EXCLUDE (file_row_number) REPLACE (CASE WHEN file_row_number = 1
			THEN struct_update(finding, "desc" := finding."desc" || ' ') ELSE finding END AS finding) FROM {file}`)
		report, ok := equal(t, lake)
		if ok || !strings.Contains(report, "finding.desc differs in 1 rows") || !strings.Contains(report, "file 1 row 1:") {
			t.Fatalf("want finding.desc differing in row 1, got:\n%s", report)
		}
	})
	t.Run("two rows swapped", func(t *testing.T) {
		lake := copyLake(t)
		rewrite(t, lake, `SELECT * EXCLUDE (file_row_number) FROM {file}
			ORDER BY CASE file_row_number WHEN 0 THEN 1 WHEN 1 THEN 0 ELSE file_row_number END`)
		report, ok := equal(t, lake)
		if ok || !strings.Contains(report, "NOT equal (2 rows differ in some column)") || !strings.Contains(report, "finding.uid") {
			t.Fatalf("want 2 rows differing, in finding.uid among others, got:\n%s", report)
		}
	})
	t.Run("a file missing", func(t *testing.T) {
		lake := copyLake(t)
		if err := os.Remove(largestFile(t, lake)); err != nil {
			t.Fatal(err)
		}
		report, ok := equal(t, lake)
		if ok || !strings.Contains(report, "rows in ocsfmap have no row at the same partition, file and position in duckdb") {
			t.Fatalf("want rows only in ocsfmap's lake, got:\n%s", report)
		}
	})
}
