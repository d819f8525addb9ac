package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/compress"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
)

const mapping130 = "../../mappings/zscaler-dspm/data_security_finding_1.3.0.yaml"

// lakeFault breaks row 1 of one file of a lake written by run; want lists
// every problem (rule pointer) that row must then have. newColumn adds a
// column to the file, which also breaks the source's one schema.
type lakeFault struct {
	name      string
	apply     func(row map[string]any)
	want      []string
	newColumn bool
}

var lakeFaults = []lakeFault{
	{"enum", func(r map[string]any) { r["severity_id"] = 42 }, []string{"enum /severity_id"}, false},
	{"type", func(r map[string]any) { r["unmapped"] = "[1,2]" }, []string{"type /unmapped"}, false},
	{"required", func(r map[string]any) { r["finding_info"].(map[string]any)["uid"] = nil }, []string{"required /finding_info/uid"}, false},
	{"constraint", func(r map[string]any) {
		owner := r["resources"].([]any)[0].(map[string]any)["owner"].(map[string]any)
		owner["name"], owner["uid"] = nil, nil
	}, []string{"at_least_one /resources/0/owner"}, false},
	{"caption", func(r map[string]any) { r["severity"] = "Severe" }, []string{"caption /severity"}, false},
	{"type_uid", func(r map[string]any) { r["type_uid"], r["type_name"] = 200699, nil }, []string{"type_uid /type_uid"}, false},
	{"unknown version", func(r map[string]any) { r["metadata"].(map[string]any)["version"] = "1.2.3-beta" }, []string{"version /metadata/version"}, false},
	{"partition", func(r map[string]any) { r["cloud"].(map[string]any)["region"] = "eu-west-9" }, []string{"partition /cloud/region"}, false},
	{"unknown attribute", func(r map[string]any) { r["colour"] = "red" }, []string{"additionalProperties /colour"}, true},
}

// TestValidateLakeWrittenByRun: a lake written by run validates clean;
// then faults are written into some of its files (row 1 of each, the
// other rows left as they were) and every one is found, with nothing on a
// valid row.
func TestValidateLakeWrittenByRun(t *testing.T) {
	dir := t.TempDir()
	lake := filepath.Join(dir, "lake")
	if _, stderr, code := ocsfmap(t, nil, "run", "-m", mapping130, "-o", lake, "../../testdata/dspm/alerts.ndjson"); code != 0 {
		t.Fatalf("run: exit %d\n%s", code, stderr)
	}
	stdout, stderr, code := ocsfmap(t, nil, "validate", lake)
	if code != 0 || stdout != "" || !strings.Contains(stderr, " 0 problems") || !strings.Contains(stderr, "\nok\n") {
		t.Fatalf("clean lake: exit %d\n%s%s", code, stdout, stderr)
	}

	files := parquetFiles(t, lake)
	sort.Strings(files)
	if len(files) < len(lakeFaults)+1 {
		t.Fatalf("%d files", len(files))
	}
	want := map[string][]string{} // "file#row" -> problems
	for i, f := range lakeFaults {
		path := files[i]
		rewriteParquet(t, path, f.apply, f.newColumn, compress.Codecs.Zstd)
		want[path+"#1"] = f.want
		if f.newColumn {
			want[path] = []string{"schema_drift ", "unknown_column /colour"}
		}
	}
	// A copy of a valid file compressed with snappy: every column chunk is
	// reported, nothing else.
	snappy := files[len(lakeFaults)]
	rewriteParquet(t, snappy, nil, false, compress.Codecs.Snappy)

	stdout, stderr, code = ocsfmap(t, nil, "validate", "--json", lake)
	if code != 1 {
		t.Fatalf("exit %d, want 1\n%s", code, stderr)
	}
	got := map[string][]string{}
	var summary struct {
		Summary struct {
			Records int64            `json:"records"`
			Rules   map[string]int64 `json:"rules"`
		} `json:"summary"`
	}
	for _, line := range strings.Split(strings.TrimSpace(stdout), "\n") {
		var p struct {
			File, Pointer, Rule string
			Row                 int64
		}
		if strings.HasPrefix(line, `{"summary"`) {
			if err := json.Unmarshal([]byte(line), &summary); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := json.Unmarshal([]byte(line), &p); err != nil {
			t.Fatalf("%v: %s", err, line)
		}
		key := p.File
		if p.Row > 0 {
			key += fmt.Sprintf("#%d", p.Row)
		}
		if p.File == snappy && p.Rule == "compression" {
			continue
		}
		got[key] = append(got[key], p.Rule+" "+p.Pointer)
	}
	for key, w := range want {
		g := got[key]
		sort.Strings(g)
		if !slices.Equal(g, w) {
			t.Errorf("%s: got %q, want %q", key, g, w)
		}
	}
	for key, g := range got {
		if _, ok := want[key]; !ok {
			t.Errorf("%s: problems %q where there is no fault", key, g)
		}
	}
	if summary.Summary.Rules["compression"] == 0 {
		t.Errorf("the snappy file's columns were not reported: %+v", summary)
	}
	if summary.Summary.Records < 150 {
		t.Errorf("summary %+v", summary)
	}
}

// rewriteParquet rewrites a Parquet file through Arrow's JSON form,
// applying fault (if any) to row 1, with the given codec; it keeps the
// Arrow schema (so the Parquet schema too) unless newColumn adds a string
// column "colour".
func rewriteParquet(t *testing.T, path string, fault func(map[string]any), newColumn bool, codec compress.Compression) {
	t.Helper()
	mem := memory.DefaultAllocator
	pf, err := file.OpenParquetFile(path, false)
	if err != nil {
		t.Fatal(err)
	}
	fr, err := pqarrow.NewFileReader(pf, pqarrow.ArrowReadProperties{}, mem)
	if err != nil {
		t.Fatal(err)
	}
	tbl, err := fr.ReadTable(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	pf.Close()
	schema := tbl.Schema()
	var rows []map[string]any
	tr := array.NewTableReader(tbl, 1<<20)
	for tr.Next() {
		var buf bytes.Buffer
		if err := array.RecordToJSON(tr.RecordBatch(), &buf); err != nil {
			t.Fatal(err)
		}
		for _, line := range bytes.Split(bytes.TrimSpace(buf.Bytes()), []byte("\n")) {
			var m map[string]any
			if err := json.Unmarshal(line, &m); err != nil {
				t.Fatal(err)
			}
			rows = append(rows, m)
		}
	}
	tr.Release()
	tbl.Release()
	if fault != nil {
		fault(rows[0])
	}
	if newColumn {
		schema = arrow.NewSchema(append(slices.Clone(schema.Fields()), arrow.Field{Name: "colour", Type: arrow.BinaryTypes.String, Nullable: true}), nil)
	}
	b, _ := json.Marshal(rows)
	rec, _, err := array.RecordFromJSON(mem, schema, bytes.NewReader(b))
	if err != nil {
		t.Fatalf("%s: back from JSON: %v", path, err)
	}
	defer rec.Release()
	out, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w, err := pqarrow.NewFileWriter(schema, out, parquet.NewWriterProperties(parquet.WithCompression(codec)), pqarrow.DefaultWriterProps())
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Write(rec); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}

// BenchmarkValidateLake1M: ocsfmap validate on the lake run writes from 1M
// generated alerts of one day (written once, outside the timing), the
// built binary as users run it. Reports records/s, records per CPU second
// and peak RSS: memory must not grow with the lake.
//
//	go test -run '^$' -bench 'BenchmarkValidate' -benchtime 1x -timeout 60m ./cmd/ocsfmap
func BenchmarkValidateLake1M(b *testing.B)   { benchValidate(b, 1_000_000) }
func BenchmarkValidateLake200k(b *testing.B) { benchValidate(b, 200_000) }

func benchValidate(b *testing.B, n int) {
	in := benchInput(b, n, 1)
	lake := filepath.Join(os.TempDir(), fmt.Sprintf("ocsfmap-bench-lake-%d", n))
	if _, err := os.Stat(lake); err != nil {
		cmd := exec.Command(bin, "run", "-q", "-m", mapping110, "-o", lake+".tmp", in)
		if msg, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("%v\n%s", err, msg)
		}
		if err := os.Rename(lake+".tmp", lake); err != nil {
			b.Fatal(err)
		}
	}
	for _, cores := range []int{1, 2} {
		b.Run(fmt.Sprintf("cores=%d", cores), func(b *testing.B) {
			for b.Loop() {
				cmd := exec.Command(bin, "validate", lake)
				cmd.Env = append(os.Environ(), fmt.Sprintf("GOMAXPROCS=%d", cores))
				start := time.Now()
				msg, err := cmd.CombinedOutput()
				elapsed := time.Since(start)
				if err != nil {
					b.Fatalf("%v\n%s", err, msg)
				}
				// run dead-letters the alerts without a usable time: count what
				// the lake holds.
				var files, records int64
				if _, err := fmt.Sscanf(string(msg), "%d files, %d records, 0 invalid", &files, &records); err != nil || records < int64(n)*9/10 {
					b.Fatalf("unexpected summary (%v):\n%s", err, msg)
				}
				rss := cmd.ProcessState.SysUsage().(*syscall.Rusage).Maxrss / 1024
				cpu := cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
				b.ReportMetric(float64(records)/elapsed.Seconds(), "records/s")
				// On a shared machine the wall clock measures the neighbours
				// too; CPU time per record does not.
				b.ReportMetric(float64(records)/cpu.Seconds(), "records/CPU-s")
				b.ReportMetric(float64(rss), "peak-RSS-MB")
			}
		})
	}
}

// TestValidateUsage: exit 2 for bad usage, 1 for a problem, 0 when clean,
// with the line format the docs give.
func TestValidateUsage(t *testing.T) {
	dir := t.TempDir()
	for _, args := range [][]string{
		{"validate"},
		{"validate", filepath.Join(dir, "missing.ndjson")},
		{"validate", "--ocsf", "9.9", dir},
		{"validate", "--class", "nope", dir},
		{"validate", "--ocsf", "1.3.0", "--profiles", "clud", dir},
	} {
		if _, stderr, code := ocsfmap(t, nil, args...); code != 2 {
			t.Errorf("%v: exit %d, want 2\n%s", args, code, stderr)
		}
	}
	recs, _, code := ocsfmap(t, nil, "map", "-m", mapping110, "../../testdata/dspm/sample.ndjson")
	if code != 0 {
		t.Fatalf("map: exit %d", code)
	}
	good := filepath.Join(dir, "good.ndjson")
	os.WriteFile(good, []byte(recs), 0o644)
	if stdout, stderr, code := ocsfmap(t, nil, "validate", good); code != 0 || stdout != "" || !strings.HasSuffix(stderr, "ok\n") {
		t.Fatalf("clean: exit %d\n%s%s", code, stdout, stderr)
	}
	if _, stderr, code := ocsfmap(t, []byte(recs), "validate", "-"); code != 0 || !strings.Contains(stderr, " 0 problems") {
		t.Fatalf("stdin: exit %d\n%s", code, stderr)
	}
	lines := strings.SplitAfter(recs, "\n")
	bad := filepath.Join(dir, "bad.ndjson")
	os.WriteFile(bad, []byte(lines[0]+strings.Replace(lines[1], `"severity_id":`, `"severity_id":7,"x":`, 1)), 0o644)
	stdout, stderr, code := ocsfmap(t, nil, "validate", bad)
	want := bad + ":2: /severity_id: enum: "
	if code != 1 || !strings.HasPrefix(stdout, want) || !strings.Contains(stderr, "1 invalid, 2 problems") || !strings.Contains(stdout, ": /x: additionalProperties: unknown attribute x") || !strings.Contains(stderr, "  enum ") {
		t.Fatalf("exit %d, want 1 and a line starting %q\n%s%s", code, want, stdout, stderr)
	}
}

// TestValidateShippedLakes: what run writes with every shipped mapping
// (three versions, two classes, rc.2's cloud.account_uid) validates clean.
func TestValidateShippedLakes(t *testing.T) {
	for _, m := range []string{mapping110, mapping130, "../../mappings/zscaler-dspm/security_finding_1.0.0-rc.2.yaml"} {
		lake := filepath.Join(t.TempDir(), "lake")
		if _, stderr, code := ocsfmap(t, nil, "run", "-q", "-m", m, "-o", lake, "../../testdata/dspm/alerts.ndjson"); code != 0 {
			t.Fatalf("%s: run: exit %d\n%s", m, code, stderr)
		}
		if stdout, stderr, code := ocsfmap(t, nil, "validate", lake); code != 0 {
			t.Errorf("%s: validate: exit %d\n%.2000s%s", filepath.Base(m), code, stdout, stderr)
		}
	}
}

// TestValidateTypedScalars: issue 19's typed values, in a record that is
// otherwise valid, are each a problem of rule ocsf_type.
func TestValidateTypedScalars(t *testing.T) {
	recs, _, code := ocsfmap(t, nil, "map", "-m", mapping130, "../../testdata/dspm/sample.ndjson")
	if code != 0 {
		t.Fatalf("map: exit %d", code)
	}
	first := strings.SplitAfter(recs, "\n")[0]
	bad := filepath.Join(t.TempDir(), "bad.ndjson")
	typed := `{"src_endpoint":{"ip":"ec2.amazonaws.com","port":70000,"mac":"not-a-mac"},`
	os.WriteFile(bad, []byte(strings.Replace(first, "{", typed, 1)), 0o644)
	stdout, stderr, code := ocsfmap(t, nil, "validate", bad)
	for _, want := range []string{
		bad + `:1: /src_endpoint/ip: ocsf_type: "ec2.amazonaws.com" is not a valid ip_t (an IPv4 or IPv6 address)`,
		bad + `:1: /src_endpoint/mac: ocsf_type: "not-a-mac" is not a valid mac_t`,
		bad + `:1: /src_endpoint/port: ocsf_type: 70000 is not a valid port_t (an integer from 0 to 65535)`,
	} {
		if !strings.Contains(stdout, want) {
			t.Errorf("no line %q", want)
		}
	}
	if code != 1 || !strings.Contains(stderr, "1 invalid, 3 problems") {
		t.Errorf("exit %d\n%s%s", code, stdout, stderr)
	}
}
