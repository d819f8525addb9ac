package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/ocsfmap/ocsfmap/engine/alertgen"
	"github.com/ocsfmap/ocsfmap/engine/lake/duckdbtest"
	"github.com/ocsfmap/ocsfmap/engine/store/s3test"
)

// bin is the ocsfmap binary, built once for every test that runs it.
var bin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "ocsfmap-cli")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	bin = filepath.Join(dir, "ocsfmap")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build ocsfmap: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

const mapping110 = "../../mappings/zscaler-dspm/security_finding_1.1.0.yaml"

// ocsfmap runs the binary and returns stdout, stderr and the exit status.
func ocsfmap(t *testing.T, stdin []byte, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Stdin = bytes.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return out.String(), errb.String(), code
}

// shippedMappings lists the mapping files under mappings/ (their tests aside).
func shippedMappings(t *testing.T) []string {
	t.Helper()
	all, err := filepath.Glob("../../mappings/*/*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, f := range all {
		if !strings.HasSuffix(f, "_test.yaml") {
			out = append(out, f)
		}
	}
	if len(out) < 6 {
		t.Fatalf("%d shipped mappings, want at least the 3 DSPM, GuardDuty, CloudTrail and ZIA", len(out))
	}
	return out
}

func alerts(n int, seed uint64, days int) []byte {
	g := alertgen.New(seed, alertgen.Options{Accounts: 20, Days: days})
	var b []byte
	for range n {
		b = g.AppendNDJSON(b)
	}
	return b
}

func TestVetAndTestCommands(t *testing.T) {
	out, _, code := ocsfmap(t, nil, "vet", "-q", "../../mappings/zscaler-dspm/security_finding_1.1.0.yaml",
		"../../mappings/zscaler-dspm/security_finding_1.0.0-rc.2.yaml", "../../mappings/zscaler-dspm/data_security_finding_1.3.0.yaml")
	if code != 0 || strings.Count(out, "ok ") != 3 {
		t.Fatalf("vet shipped mappings: exit %d\n%s", code, out)
	}
	// A folder, or a glob that also matches the mapping tests, vets the mappings.
	out, _, code = ocsfmap(t, nil, "vet", "-q", "../../mappings")
	if code != 0 || strings.Count(out, "ok ") != len(shippedMappings(t)) || strings.Contains(out, "_test.yaml") {
		t.Fatalf("vet a folder: exit %d\n%s", code, out)
	}
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	os.WriteFile(bad, []byte("format: ocsfmap/v1\nmapping: x\nversion: 1.0.0\nocsf: {version: 1.1.0, class: security_finding, profiles: [cloud]}\nfields:\n  finding.titel: {from: x}\n"), 0o644)
	out, _, code = ocsfmap(t, nil, "vet", bad)
	if code != 1 || !strings.Contains(out, "bad.yaml:6:3: error[M304]") || !strings.Contains(out, `did you mean "title"`) {
		t.Fatalf("vet broken mapping: exit %d\n%s", code, out)
	}
	out, _, code = ocsfmap(t, nil, "test", "../../mappings")
	if code != 0 || !strings.Contains(out, "0 failed") {
		t.Fatalf("ocsfmap test: exit %d\n%s", code, out)
	}
	out, _, code = ocsfmap(t, nil, "explain", "-m", mapping110)
	if code != 0 || !strings.Contains(out, "required attributes: 17 of 17 set") || !strings.Contains(out, "severity_id") {
		t.Fatalf("explain: exit %d\n%s", code, out)
	}
	out, _, code = ocsfmap(t, nil, "schema", "-m", mapping110, "--format", "glue")
	if code != 0 || !strings.Contains(out, "`time` bigint") || !strings.Contains(out, "PARTITIONED BY (`region` string, `accountid` string, `eventday` string)") {
		t.Fatalf("schema --format glue: exit %d\n%s", code, out)
	}
	out, _, code = ocsfmap(t, nil, "schema", "-m", mapping110, "--format", "arrow")
	if code != 0 || !strings.Contains(out, "time_dt: type=timestamp[ms, tz=UTC]") {
		t.Fatalf("schema --format arrow: exit %d\n%s", code, out)
	}
	if _, stderr, code := ocsfmap(t, nil, "map"); code != 2 || !strings.Contains(stderr, "-m MAPPING is required") {
		t.Fatalf("map without -m: exit %d: %s", code, stderr)
	}
}

func TestMapCommand(t *testing.T) {
	dir := t.TempDir()
	in := append(alerts(300, 3, 1), []byte("{not json}\n")...)
	dead := filepath.Join(dir, "dead.ndjson")
	out, stderr, code := ocsfmap(t, in, "map", "-m", mapping110, "--dead-letter", dead, "--validate", "full", "-")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	deadLines := strings.Split(strings.TrimSpace(readFile(t, dead)), "\n")
	if len(lines)+len(deadLines) != 301 {
		t.Fatalf("%d records + %d dead letters != 301 read\n%s", len(lines), len(deadLines), stderr)
	}
	if !strings.Contains(stderr, fmt.Sprintf("read 301, written %d, dead-lettered %d", len(lines), len(deadLines))) {
		t.Fatalf("summary: %s", stderr)
	}
	var last map[string]any
	json.Unmarshal([]byte(deadLines[len(deadLines)-1]), &last)
	if last["code"] != "R400" || last["raw"] != "{not json}" || last["line"] != 301.0 {
		t.Fatalf("dead letter of the broken line: %v", last)
	}
	// --strict turns any dead letter into exit 1.
	if _, _, code := ocsfmap(t, in, "map", "-m", mapping110, "--dead-letter", dead, "--strict"); code != 1 {
		t.Fatalf("--strict: exit %d", code)
	}
	if again := strings.Split(strings.TrimSpace(readFile(t, dead)), "\n"); len(again) != len(deadLines) {
		t.Fatalf("the second run left %d dead letters, want its own %d", len(again), len(deadLines))
	}
	// A clean run leaves no dead letters of an earlier one behind.
	if _, stderr, code := ocsfmap(t, alerts(5, 3, 1), "map", "-m", mapping110, "--dead-letter", dead, "-"); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if _, err := os.Stat(dead); !os.IsNotExist(err) {
		t.Fatalf("a clean run kept the earlier run's dead letters: %v", err)
	}
}

// parquetRows opens a Parquet file with pqarrow, checking for leaks.
func parquetRows(t *testing.T, path string) (n int64) {
	t.Helper()
	withParquetTable(t, path, func(tbl arrow.Table) { n = tbl.NumRows() })
	return n
}

func parquetFiles(t *testing.T, dir string) []string {
	var out []string
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && strings.HasSuffix(p, ".parquet") {
			out = append(out, p)
		}
		return nil
	})
	return out
}

// TestRunLocalLakeDuckDB runs the main job into a folder and reads it back
// the way users do: DuckDB with hive partitioning.
func TestRunLocalLakeDuckDB(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "alerts.ndjson")
	os.WriteFile(in, alerts(2000, 5, 3), 0o644)
	lake := filepath.Join(dir, "lake")
	_, stderr, code := ocsfmap(t, nil, "run", "-m", mapping110, "-o", lake, in)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var read, written, dead, filtered int
	fmt.Sscanf(stderr[strings.Index(stderr, "read "):], "read %d, written %d, dead-lettered %d, filtered %d", &read, &written, &dead, &filtered)
	if read != 2000 || read != written+dead+filtered || written < 1900 {
		t.Fatalf("counts: %s", stderr)
	}
	var rows int64
	for _, f := range parquetFiles(t, lake) {
		if !strings.Contains(f, "/ext/zscaler-dspm/region=") || !strings.Contains(f, "/accountId=") || !strings.Contains(f, "/eventDay=2026110") {
			t.Fatalf("not the Security Lake layout: %s", f)
		}
		rows += parquetRows(t, f)
	}
	if rows != int64(written) {
		t.Fatalf("%d rows in the files, %d written", rows, written)
	}
	glob := filepath.Join(lake, "ext", "zscaler-dspm", "**", "*.parquet")
	src := fmt.Sprintf("read_parquet('%s', hive_partitioning=true, hive_types_autocast=false)", glob)
	res := duckdb(t, map[string]string{
		"count":   "SELECT count(*) AS n, count(DISTINCT accountId) AS accounts FROM " + src,
		"types":   "SELECT typeof(time) AS t, typeof(time_dt) AS dt, typeof(eventDay) AS day FROM " + src + " LIMIT 1",
		"nested":  "SELECT finding.uid AS uid, resources[1].uid AS res, cloud.account.uid AS acct, accountId FROM " + src + " WHERE cloud.provider = 'AWS' LIMIT 1",
		"day":     "SELECT count(*) AS bad FROM " + src + " WHERE strftime(time_dt, '%Y%m%d') <> eventDay",
		"codec":   fmt.Sprintf("SELECT DISTINCT compression FROM parquet_metadata('%s')", glob),
		"schemas": fmt.Sprintf("SELECT count(DISTINCT s) AS n FROM (SELECT file_name, string_agg(name || ':' || coalesce(type, '') , ',' ORDER BY name) AS s FROM parquet_schema('%s') GROUP BY file_name)", glob),
	})
	if n := res["count"][0]["n"]; fmt.Sprint(n) != fmt.Sprint(written) {
		t.Errorf("DuckDB counts %v rows, %d written", n, written)
	}
	if ty := res["types"][0]; ty["t"] != "BIGINT" || ty["dt"] != "TIMESTAMP WITH TIME ZONE" || ty["day"] != "VARCHAR" {
		t.Errorf("types: %v", ty)
	}
	if row := res["nested"][0]; row["uid"] == nil || row["acct"] != row["accountId"] {
		t.Errorf("nested access / partition column: %v", row)
	}
	if bad := res["day"][0]["bad"]; fmt.Sprint(bad) != "0" {
		t.Errorf("%v rows whose eventDay is not the UTC day of time", bad)
	}
	if len(res["codec"]) != 1 || res["codec"][0]["compression"] != "ZSTD" {
		t.Errorf("codecs: %v", res["codec"])
	}
	if n := res["schemas"][0]["n"]; fmt.Sprint(n) != "1" {
		t.Errorf("%v different schemas across files", n)
	}
}

func duckdb(t *testing.T, queries map[string]string) map[string][]map[string]any {
	return duckdbtest.Query(t, queries)
}

// TestRunCrashLeavesNoPartialFile kills the run mid-stream: no file under a
// final name is partial, and a rerun completes.
func TestRunCrashLeavesNoPartialFile(t *testing.T) {
	dir := t.TempDir()
	lake := filepath.Join(dir, "lake")
	cmd := exec.Command(bin, "run", "-q", "-m", mapping110, "-o", lake, "--roll-size", "65536", "-")
	pipe, _ := cmd.StdinPipe()
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Feed alerts until files are being finalized, then kill -9.
	g := alertgen.New(9, alertgen.Options{Accounts: 3, Days: 1})
	w := bufio.NewWriter(pipe)
	deadline := time.Now().Add(60 * time.Second)
	for len(parquetFiles(t, lake)) < 3 && time.Now().Before(deadline) {
		for range 500 {
			w.Write(g.AppendNDJSON(nil))
		}
		w.Flush()
	}
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
	files := parquetFiles(t, lake)
	if len(files) < 3 {
		t.Fatalf("no file was finalized before the kill: %s", stderr.String())
	}
	for _, f := range files {
		parquetRows(t, f) // a partial file fails to open: its footer is missing
	}
	// The rerun over the same folder completes and its files open too.
	in := filepath.Join(dir, "alerts.ndjson")
	os.WriteFile(in, alerts(500, 2, 1), 0o644)
	if _, stderr, code := ocsfmap(t, nil, "run", "-q", "-m", mapping110, "-o", lake, in); code != 0 {
		t.Fatalf("rerun: exit %d: %s", code, stderr)
	}
	for _, f := range parquetFiles(t, lake) {
		parquetRows(t, f)
	}
}

// TestRunSIGTERMFlushes stops a stdin stream with SIGTERM: what was read is
// written, and the counts add up.
func TestRunSIGTERMFlushes(t *testing.T) {
	lake := filepath.Join(t.TempDir(), "lake")
	cmd := exec.Command(bin, "run", "-q", "-m", mapping110, "-o", lake, "-")
	pipe, _ := cmd.StdinPipe()
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pipe.Write(alerts(1000, 4, 1))
	time.Sleep(1500 * time.Millisecond) // the stream stays open: an endless stdin
	cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("after SIGTERM: %v\n%s", err, stderr.String())
	}
	var read, written, dead int
	s := stderr.String()
	fmt.Sscanf(s[strings.Index(s, "read "):], "read %d, written %d, dead-lettered %d", &read, &written, &dead)
	if read != 1000 || written+dead != read {
		t.Fatalf("counts after SIGTERM: %s", s)
	}
	var rows int64
	for _, f := range parquetFiles(t, lake) {
		rows += parquetRows(t, f)
	}
	if rows != int64(written) {
		t.Fatalf("%d rows on disk, %d written", rows, written)
	}
}

func readFile(t testing.TB, p string) string {
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

var _ = s3test.Binary

// TestVetIntegrationFile: vet checks an integration file's keys, its alert
// rules (a typo is an error, lower() on a maybe-missing field a warning with
// the fix) and the mapping it names.
func TestVetIntegrationFile(t *testing.T) {
	mapping, _ := filepath.Abs(mapping110)
	integ := filepath.Join(t.TempDir(), "integration.yaml")
	os.WriteFile(integ, []byte(`name: t
destination: amazon-security-lake
mapping: `+mapping+`
role_arn: arn:aws:iam::444455556666:role/AmazonSecurityLake-Provider-dspmalerts-us-east-2
external_id: vet-test-0001
bucket: aws-security-data-lake-us-east-2-vet
region: us-east-2
prefix: ext/dspmalerts/
rules:
  - name: hc
    enabled: true
    scope: 'lower(risk) in ["high"]'
  - name: typo
    enabled: true
    scope: 'lowr(risk) == "x"'
`), 0o600)
	out, _, code := ocsfmap(t, nil, "vet", integ)
	for _, want := range []string{"warning[C123]", `write lower(risk ?? "")`, "error[C201]", `did you mean "lower"`, "FAIL " + integ} {
		if !strings.Contains(out, want) {
			t.Errorf("vet output lacks %q:\n%s", want, out)
		}
	}
	if code != 1 {
		t.Fatalf("exit %d, want 1", code)
	}
}
