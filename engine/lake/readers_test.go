package lake

import (
	"context"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/ocsfmap/ocsfmap/engine/columnar/columnartest"
	"github.com/ocsfmap/ocsfmap/engine/lake/readertest"
)

// Every file reads back the same, value for value, with arrow-rs (npm
// parquet-wasm) and polars (npm nodejs-polars) as with pqarrow: the files'
// encoder is ours, so one reader agreeing proves little. (DuckDB reads
// them in TestDuckDBInterop.) The lakes cover many small files, several
// files per partition, and partitions big enough that string columns keep a
// dictionary, fall back from one to PLAIN, or never try.
func TestOtherReadersAgree(t *testing.T) {
	for _, tc := range []struct {
		name           string
		accounts, days int
		rows           int
		rollBytes      int64
		dict           bool // some chunk has a dictionary (files of fewer rows have none)
	}{
		{"many partitions", 4, 2, 2000, 32 << 10, false},
		{"one big partition", 1, 1, 6000, 0, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root, s := columnartest.FindingTree()
			dir := t.TempDir()
			opts := testOptions(dir, s)
			if tc.rollBytes > 0 {
				opts.RollBytes = tc.rollBytes
			}
			w, err := New(root, opts)
			if err != nil {
				t.Fatal(err)
			}
			writeN(t, w, columnartest.NewGen(s, tc.accounts, tc.days, 3), tc.rows)
			if err := w.Close(context.Background()); err != nil {
				t.Fatal(err)
			}
			files := parquetFiles(t, dir)
			mem := memory.NewGoAllocator()
			tables := readertest.Read(t, mem, files)
			dicts := 0
			for i, f := range files {
				want, pf := readFile(t, f, mem)
				md := pf.MetaData()
				for g := range md.NumRowGroups() {
					for c := range md.RowGroup(g).NumColumns() {
						if cc, _ := md.RowGroup(g).ColumnChunk(c); cc.HasDictionaryPage() {
							dicts++
						}
					}
				}
				pf.Close()
				for k, got := range tables[i] {
					for _, d := range readertest.Diff(want, got, 5) {
						t.Errorf("%s, %s: %s", f[len(dir):], readertest.Readers[k], d)
					}
					got.Release()
				}
				want.Release()
			}
			if tc.dict && dicts == 0 {
				t.Errorf("no column chunk of %d files has a dictionary", len(files))
			}
		})
	}
}
