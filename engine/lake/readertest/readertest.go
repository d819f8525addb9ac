// Package readertest reads Parquet files with readers independent of
// arrow-go, for tests of the Parquet the lake writes (its encoder is ours,
// so its correctness must rest on more than one reader): arrow-rs through
// npm parquet-wasm, and polars through npm nodejs-polars. `make tools`
// installs both into $OCSFMAP_TOOLS/readers (.ci/tools-readers.sh).
package readertest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
)

// Readers names the readers Read uses, in the order of its results.
var Readers = []string{"arrow-rs", "polars"}

// Read reads each file whole with every reader of Readers and returns, per
// file, one table per reader (as each reader types it: polars, for one,
// reads strings as string views and lists as large lists). The caller
// releases the tables. A missing tool fails the test (never skips it): run
// make tools.
func Read(t testing.TB, mem memory.Allocator, files []string) [][]arrow.Table {
	t.Helper()
	tools := os.Getenv("OCSFMAP_TOOLS")
	if tools == "" {
		t.Fatal("OCSFMAP_TOOLS is not set: run make test (or make tools, then OCSFMAP_TOOLS=<repo>/.tools go test)")
	}
	modules := filepath.Join(tools, "readers")
	for _, pkg := range []string{"parquet-wasm", "nodejs-polars"} {
		if _, err := os.Stat(filepath.Join(modules, "node_modules", pkg)); err != nil {
			t.Fatalf("%s missing in %s: run make tools (%v)", pkg, modules, err)
		}
	}
	out := t.TempDir()
	_, here, _, _ := runtime.Caller(0)
	in, _ := json.Marshal(files)
	cmd := exec.Command("node", filepath.Join(filepath.Dir(here), "readers.cjs"), modules, out)
	cmd.Stdin = bytes.NewReader(in)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("readers: %v\n%s", err, stderr.String())
	}
	res := make([][]arrow.Table, len(files))
	for i := range files {
		for _, r := range Readers {
			tbl, err := readStream(mem, filepath.Join(out, fmt.Sprintf("%d.%s.arrows", i, r)))
			if err != nil {
				t.Fatalf("%s reading %s: %v", r, files[i], err)
			}
			res[i] = append(res[i], tbl)
		}
	}
	return res
}

func readStream(mem memory.Allocator, path string) (arrow.Table, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	rd, err := ipc.NewReader(bytes.NewReader(data), ipc.WithAllocator(mem))
	if err != nil {
		return nil, err
	}
	defer rd.Release()
	var recs []arrow.RecordBatch
	for rd.Next() {
		rec := rd.RecordBatch()
		rec.Retain()
		recs = append(recs, rec)
	}
	if err := rd.Err(); err != nil {
		return nil, err
	}
	tbl := array.NewTableFromRecords(rd.Schema(), recs)
	for _, r := range recs {
		r.Release()
	}
	return tbl, nil
}

// Diff compares got with want (pqarrow's reading of the same file) value by
// value, as JSON: the same columns in the same order, the same rows, and
// in each cell the same value whatever Arrow type the reader chose for it
// (string or string view, list or large list). It returns the differences,
// at most max of them.
func Diff(want, got arrow.Table, max int) []string {
	var diffs []string
	add := func(format string, args ...any) bool {
		diffs = append(diffs, fmt.Sprintf(format, args...))
		return len(diffs) < max
	}
	if want.NumRows() != got.NumRows() {
		add("%d rows, want %d", got.NumRows(), want.NumRows())
		return diffs
	}
	if want.NumCols() != got.NumCols() {
		add("%d columns, want %d", got.NumCols(), want.NumCols())
		return diffs
	}
	for c := range int(want.NumCols()) {
		wf, gf := want.Schema().Field(c), got.Schema().Field(c)
		if wf.Name != gf.Name {
			if !add("column %d is %q, want %q", c, gf.Name, wf.Name) {
				return diffs
			}
			continue
		}
		wv, gv := cells(want.Column(c)), cells(got.Column(c))
		for r := range wv {
			if wv[r] != gv[r] {
				if !add("%s row %d: %s, want %s", wf.Name, r, clip(gv[r]), clip(wv[r])) {
					return diffs
				}
			}
		}
	}
	return diffs
}

// cells renders every value of a column as JSON.
func cells(col *arrow.Column) []string {
	var out []string
	for _, chunk := range col.Data().Chunks() {
		for i := range chunk.Len() {
			b, err := json.Marshal(chunk.GetOneForMarshal(i))
			if err != nil {
				b = []byte("error: " + err.Error())
			}
			out = append(out, string(b))
		}
	}
	return out
}

func clip(s string) string {
	if len(s) > 200 {
		return s[:200] + "…"
	}
	return strings.ToValidUTF8(s, "?")
}

// Strings reads one string column of a Parquet file with pqarrow, path
// naming it through its structs (Strings(t, f, "finding", "uid")): how tests
// count what landed in a bucket by finding.uid.
func Strings(t testing.TB, parquet []byte, path ...string) []string {
	t.Helper()
	rdr, err := file.NewParquetReader(bytes.NewReader(parquet))
	if err != nil {
		t.Fatal(err)
	}
	defer rdr.Close()
	r, err := pqarrow.NewFileReader(rdr, pqarrow.ArrowReadProperties{}, memory.DefaultAllocator)
	if err != nil {
		t.Fatal(err)
	}
	tbl, err := r.ReadTable(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer tbl.Release()
	idx := tbl.Schema().FieldIndices(path[0])
	if len(idx) == 0 {
		t.Fatalf("no column %s", path[0])
	}
	var out []string
	for _, chunk := range tbl.Column(idx[0]).Data().Chunks() {
		col := chunk
		for _, name := range path[1:] {
			st, ok := col.(*array.Struct)
			if !ok {
				t.Fatalf("%s is not a struct", strings.Join(path, "."))
			}
			fi, ok := st.DataType().(*arrow.StructType).FieldIdx(name)
			if !ok {
				t.Fatalf("no column %s", strings.Join(path, "."))
			}
			col = st.Field(fi)
		}
		s, ok := col.(*array.String)
		if !ok {
			t.Fatalf("%s is %s, not a string", strings.Join(path, "."), col.DataType())
		}
		for i := 0; i < s.Len(); i++ {
			out = append(out, s.Value(i))
		}
	}
	return out
}
