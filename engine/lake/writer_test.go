package lake

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet/compress"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"

	"github.com/ocsfmap/ocsfmap/engine/columnar/columnartest"
	"github.com/ocsfmap/ocsfmap/engine/plan"
)

type failingWriter struct {
	w    io.Writer
	left int
}

func (f *failingWriter) Write(p []byte) (int, error) {
	if len(p) > f.left {
		n, _ := f.w.Write(p[:f.left])
		f.left = 0
		return n, errors.New("disk full")
	}
	f.left -= len(p)
	return f.w.Write(p)
}

// fakeClock is an injectable Now.
type fakeClock struct{ t time.Time }

func (c *fakeClock) Now() time.Time { return c.t }

func testOptions(dir string, s columnartest.Slots) Options {
	return Options{Dir: dir, Source: "zscaler_dspm", TimeSlot: s.Time, RegionSlot: s.Region,
		AccountSlot: s.AccountUID, NoSync: true}
}

// writeN writes n generated records and returns the rows per partition key
// (as the relative directory).
// checkedSetup gives a test the finding tree, its slots, an output folder
// and options allocating from mem, a checked allocator that must hold
// nothing once the test is over.
func checkedSetup(t *testing.T) (*plan.Node, columnartest.Slots, string, Options, *memory.CheckedAllocator) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	t.Cleanup(func() { mem.AssertSize(t, 0) })
	root, s := columnartest.FindingTree()
	dir := t.TempDir()
	opts := testOptions(dir, s)
	opts.Allocator = mem
	return root, s, dir, opts, mem
}

func writeN(t testing.TB, w *Writer, g *columnartest.Gen, n int) map[string]int {
	t.Helper()
	counts := map[string]int{}
	var rec plan.Record
	for range n {
		ms := g.Fill(&rec)
		if err := w.Write(&rec); err != nil {
			t.Fatal(err)
		}
		day := time.UnixMilli(ms).UTC().Format("20060102")
		counts["region="+rec.Values[g.Slots.Region].Str+"/accountId="+rec.Values[g.Slots.AccountUID].Str+"/eventDay="+day]++
	}
	return counts
}

// parquetFiles lists the files under dir, failing on any leftover temporary.
func parquetFiles(t *testing.T, dir string) []string {
	t.Helper()
	var files []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		if !strings.HasSuffix(p, ".parquet") || strings.HasPrefix(d.Name(), ".") {
			t.Errorf("unexpected file %s", p)
		}
		files = append(files, p)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(files)
	return files
}

// readFile reads a Parquet file back with a checked allocator and returns
// the table, its parquet schema string and the file reader's metadata check.
func readFile(t *testing.T, path string, mem memory.Allocator) (arrow.Table, *file.Reader) {
	t.Helper()
	pf, err := file.OpenParquetFile(path, false, file.WithReadProps(nil))
	if err != nil {
		t.Fatal(err)
	}
	fr, err := pqarrow.NewFileReader(pf, pqarrow.ArrowReadProperties{BatchSize: 1024}, mem)
	if err != nil {
		t.Fatal(err)
	}
	tbl, err := fr.ReadTable(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return tbl, pf
}

// TestWriteReadBack runs on one core, where files are encoded on the
// Writer's goroutine, and on two, where helpers encode them.
func TestWriteReadBack(t *testing.T) {
	for _, procs := range []int{1, 2} {
		t.Run(fmt.Sprintf("GOMAXPROCS=%d", procs), func(t *testing.T) {
			defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(procs))
			testWriteReadBack(t)
		})
	}
}

func testWriteReadBack(t *testing.T) {
	root, s, dir, opts, mem := checkedSetup(t)
	var infos []FileInfo
	opts.OnFile = func(fi FileInfo) { infos = append(infos, fi) }
	w, err := New(root, opts)
	if err != nil {
		t.Fatal(err)
	}
	g := columnartest.NewGen(s, 6, 3, 42)
	counts := writeN(t, w, g, 3000)
	if err := w.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	files := parquetFiles(t, dir)
	if len(files) != len(counts) || len(infos) != len(files) {
		t.Fatalf("%d files, %d OnFile calls, %d partitions", len(files), len(infos), len(counts))
	}
	st := w.Stats()
	if st.Files != int64(len(files)) || st.Rows != 3000 || st.Buffered != 0 || st.Mismatched != 0 || st.Partitions != len(counts) {
		t.Errorf("stats %+v", st)
	}
	var schemaText string
	var total int64
	for _, fi := range infos {
		rel := strings.TrimPrefix(filepath.ToSlash(filepath.Dir(fi.Path)), filepath.ToSlash(dir)+"/ext/zscaler_dspm/")
		if fi.Key != "ext/zscaler_dspm/"+rel+"/"+filepath.Base(fi.Path) {
			t.Errorf("key %s for %s", fi.Key, fi.Path)
		}
		if counts[rel] != int(fi.Rows) {
			t.Errorf("%s: %d rows, want %d", rel, fi.Rows, counts[rel])
		}
		tbl, pf := readFile(t, fi.Path, mem)
		total += tbl.NumRows()
		// One Parquet schema in every file.
		if schemaText == "" {
			schemaText = pf.MetaData().Schema.String()
		} else if got := pf.MetaData().Schema.String(); got != schemaText {
			t.Errorf("%s: schema differs:\n%s\nvs\n%s", fi.Path, got, schemaText)
		}
		// zstd and statistics on every column chunk.
		for rg := range pf.NumRowGroups() {
			md := pf.MetaData().RowGroup(rg)
			for c := range md.NumColumns() {
				cc, err := md.ColumnChunk(c)
				if err != nil {
					t.Fatal(err)
				}
				if cc.Compression() != compress.Codecs.Zstd {
					t.Fatalf("%s column %s: codec %v", fi.Path, cc.PathInSchema(), cc.Compression())
				}
				if ok, err := cc.StatsSet(); !ok || err != nil {
					t.Errorf("%s column %s: no statistics", fi.Path, cc.PathInSchema())
				}
			}
		}
		// Sorted by time, within the partition's day, matching FileInfo.
		times := tbl.Column(tbl.Schema().FieldIndices("time")[0]).Data().Chunk(0).(*array.Int64).Int64Values()
		if !slices.IsSorted(times) || times[0] != fi.MinTime || times[len(times)-1] != fi.MaxTime {
			t.Errorf("%s: times not sorted or min/max wrong", fi.Path)
		}
		if day := time.UnixMilli(times[0]).UTC().Format("20060102"); day != fi.EventDay {
			t.Errorf("%s: day %s, eventDay %s", fi.Path, day, fi.EventDay)
		}
		// time_dt: timestamp(ms, UTC), never nanoseconds.
		dt := tbl.Schema().Field(tbl.Schema().FieldIndices("time_dt")[0]).Type.(*arrow.TimestampType)
		if dt.Unit != arrow.Millisecond || dt.TimeZone != "UTC" {
			t.Errorf("time_dt read back as %s", dt)
		}
		tbl.Release()
		pf.Close()
	}
	if total != 3000 {
		t.Errorf("read back %d rows", total)
	}
	if !strings.Contains(schemaText, "element") {
		t.Errorf("lists are not 3-level LIST/element:\n%s", schemaText)
	}
}

// TestSortedAndRowsIntact checks the sort moves whole rows: every row's
// finding.uid still belongs to its time.
func TestSortedAndRowsIntact(t *testing.T) {
	root, s, dir, opts, mem := checkedSetup(t)
	w, err := New(root, opts)
	if err != nil {
		t.Fatal(err)
	}
	g := columnartest.NewGen(s, 1, 1, 7) // one account in one region: one file
	var rec plan.Record
	want := map[string]int64{}
	for range 500 {
		ms := g.Fill(&rec)
		want[rec.Values[s.FindingUID].Str] = ms
		if err := w.Write(&rec); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	files := parquetFiles(t, dir)
	if len(files) != 1 {
		t.Fatalf("%d files", len(files))
	}
	tbl, pf := readFile(t, files[0], mem)
	defer pf.Close()
	defer tbl.Release()
	times := tbl.Column(tbl.Schema().FieldIndices("time")[0]).Data().Chunk(0).(*array.Int64)
	finding := tbl.Column(tbl.Schema().FieldIndices("finding")[0]).Data().Chunk(0).(*array.Struct)
	uids := finding.Field(2).(*array.String)
	if !slices.IsSorted(times.Int64Values()) {
		t.Error("not sorted")
	}
	for i := range int(tbl.NumRows()) {
		if want[uids.Value(i)] != times.Value(i) {
			t.Fatalf("row %d: uid %s has time %d, want %d", i, uids.Value(i), times.Value(i), want[uids.Value(i)])
		}
	}
}

func TestRollBySize(t *testing.T) {
	root, s := columnartest.FindingTree()
	dir := t.TempDir()
	opts := testOptions(dir, s)
	opts.RollBytes = 64 << 10
	w, err := New(root, opts)
	if err != nil {
		t.Fatal(err)
	}
	g := columnartest.NewGen(s, 1, 1, 3)
	writeN(t, w, g, 2000)
	mid := w.Stats()
	if err := w.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	files := parquetFiles(t, dir)
	// ~600 B of Arrow per row: 2000 rows roll about every 100 rows.
	if mid.Files < 5 || len(files) != int(w.Stats().Files) {
		t.Errorf("files before close %d, after %d", mid.Files, len(files))
	}
	if w.Stats().Rows != 2000 {
		t.Errorf("rows %d", w.Stats().Rows)
	}
}

func TestRollByAge(t *testing.T) {
	root, s := columnartest.FindingTree()
	dir := t.TempDir()
	clock := &fakeClock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	opts := testOptions(dir, s)
	opts.Now = clock.Now
	opts.RollAge = time.Minute
	w, err := New(root, opts)
	if err != nil {
		t.Fatal(err)
	}
	g := columnartest.NewGen(s, 1, 1, 3)
	writeN(t, w, g, 10)
	clock.t = clock.t.Add(59 * time.Second)
	writeN(t, w, g, 10)
	if st := w.Stats(); st.Files != 0 || st.Buffered != 20 {
		t.Fatalf("before age: %+v", st)
	}
	// The next write after the age rolls (the scan runs on Write).
	clock.t = clock.t.Add(2 * time.Second)
	writeN(t, w, g, 1)
	if st := w.Stats(); st.Files != 1 || st.Rows != 21 || st.Buffered != 0 {
		t.Fatalf("after age on Write: %+v", st)
	}
	// An idle stream rolls on Tick.
	writeN(t, w, g, 5)
	if err := w.Tick(clock.t.Add(30 * time.Second)); err != nil {
		t.Fatal(err)
	}
	if st := w.Stats(); st.Files != 1 {
		t.Fatalf("tick before age rolled: %+v", st)
	}
	if err := w.Tick(clock.t.Add(61 * time.Second)); err != nil {
		t.Fatal(err)
	}
	if st := w.Stats(); st.Files != 2 || st.Rows != 26 || st.Buffered != 0 {
		t.Fatalf("after Tick: %+v", st)
	}
	if err := w.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := len(parquetFiles(t, dir)); n != 2 {
		t.Errorf("%d files", n)
	}
}

// With NoRollAge, however old the rows, neither Write nor Tick rolls: the
// caller's batch is the roll, and Close writes one file.
func TestNoRollAge(t *testing.T) {
	root, s := columnartest.FindingTree()
	dir := t.TempDir()
	clock := &fakeClock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	opts := testOptions(dir, s)
	opts.Now = clock.Now
	opts.RollAge, opts.NoRollAge = time.Minute, true
	w, err := New(root, opts)
	if err != nil {
		t.Fatal(err)
	}
	g := columnartest.NewGen(s, 1, 1, 3)
	writeN(t, w, g, 10)
	clock.t = clock.t.Add(time.Hour)
	writeN(t, w, g, 10)
	if err := w.Tick(clock.t.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if st := w.Stats(); st.Files != 0 || st.Buffered != 20 {
		t.Fatalf("rolled by age: %+v", st)
	}
	if err := w.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := len(parquetFiles(t, dir)); n != 1 {
		t.Errorf("%d files", n)
	}
}

// TestMaxBuffered: over the cap, buffered rows are spilled to disk, the
// memory held stays bounded, and still every partition gets exactly one
// file, whole and sorted, with no spill file left behind.
func TestMaxBuffered(t *testing.T) {
	root, s, dir, opts, mem := checkedSetup(t)
	opts.MaxBuffered = 1 << 20
	var infos []FileInfo
	opts.OnFile = func(fi FileInfo) { infos = append(infos, fi) }
	w, err := New(root, opts)
	if err != nil {
		t.Fatal(err)
	}
	g := columnartest.NewGen(s, 20, 2, 5)
	var rec plan.Record
	counts := map[string]int{}
	uids := map[string]int64{}
	for range 6000 {
		ms := g.Fill(&rec)
		if err := w.Write(&rec); err != nil {
			t.Fatal(err)
		}
		day := time.UnixMilli(ms).UTC().Format("20060102")
		counts["region="+rec.Values[s.Region].Str+"/accountId="+rec.Values[s.AccountUID].Str+"/eventDay="+day]++
		uids[rec.Values[s.FindingUID].Str] = ms
		if b := w.Stats().BufferBytes; b > opts.MaxBuffered {
			t.Fatalf("buffered %d > cap", b)
		}
	}
	st := w.Stats()
	if st.Spills < 3 || st.Files != 0 || st.Buffered != 6000 {
		t.Fatalf("before close: %+v; want several spills and no file yet", st)
	}
	spills, _ := filepath.Glob(filepath.Join(dir, ".ocsfmap-spill-*", "*"))
	if len(spills) != int(st.Spills) {
		t.Errorf("%d spill files for %d spills", len(spills), st.Spills)
	}
	if err := w.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if st := w.Stats(); st.Rows != 6000 || st.Buffered != 0 || st.Files != int64(len(counts)) {
		t.Errorf("after close: %+v, %d partitions", st, len(counts))
	}
	if left, _ := filepath.Glob(filepath.Join(dir, ".ocsfmap-spill-*")); len(left) != 0 {
		t.Errorf("spill folder left: %v", left)
	}
	if n := len(parquetFiles(t, dir)); n != len(counts) {
		t.Errorf("%d files for %d partitions", n, len(counts))
	}
	seen := 0
	for _, fi := range infos {
		rel := strings.TrimPrefix(fi.Key, "ext/zscaler_dspm/")
		rel = rel[:strings.LastIndexByte(rel, '/')]
		if counts[rel] != int(fi.Rows) {
			t.Errorf("%s: %d rows, want %d", rel, fi.Rows, counts[rel])
		}
		tbl, pf := readFile(t, fi.Path, mem)
		times := tbl.Column(tbl.Schema().FieldIndices("time")[0]).Data().Chunk(0).(*array.Int64)
		finding := tbl.Column(tbl.Schema().FieldIndices("finding")[0]).Data().Chunk(0).(*array.Struct)
		ids := finding.Field(2).(*array.String)
		if !slices.IsSorted(times.Int64Values()) {
			t.Errorf("%s: not sorted", fi.Path)
		}
		for i := range int(tbl.NumRows()) {
			if uids[ids.Value(i)] != times.Value(i) {
				t.Fatalf("%s row %d: uid %s has time %d, want %d", fi.Path, i, ids.Value(i), times.Value(i), uids[ids.Value(i)])
			}
			delete(uids, ids.Value(i))
			seen++
		}
		tbl.Release()
		pf.Close()
	}
	if seen != 6000 || len(uids) != 0 {
		t.Errorf("read %d rows back; %d records missing", seen, len(uids))
	}
}

// TestRollWithSpill: a partition reaching RollBytes is written from its
// spilled runs and the rows in memory, and the other partitions' rows of
// the chunk survive (spilled) until Close.
func TestRollWithSpill(t *testing.T) {
	root, s, dir, opts, mem := checkedSetup(t)
	opts.MaxBuffered = 512 << 10
	opts.RollBytes = 300 << 10
	w, err := New(root, opts)
	if err != nil {
		t.Fatal(err)
	}
	counts := writeN(t, w, columnartest.NewGen(s, 2, 1, 13), 4000)
	mid := w.Stats()
	if mid.Files == 0 || mid.Spills == 0 {
		t.Fatalf("want rolls and spills before close: %+v", mid)
	}
	if err := w.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	more := writeN(t, w, columnartest.NewGen(s, 2, 1, 14), 500)
	if err := w.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	for k, n := range more {
		counts[k] += n
	}
	got := map[string]int64{}
	for _, f := range parquetFiles(t, dir) {
		tbl, pf := readFile(t, f, mem)
		rel := strings.TrimPrefix(filepath.ToSlash(filepath.Dir(f)), filepath.ToSlash(dir)+"/ext/zscaler_dspm/")
		got[rel] += tbl.NumRows()
		times := tbl.Column(tbl.Schema().FieldIndices("time")[0]).Data().Chunk(0).(*array.Int64)
		if !slices.IsSorted(times.Int64Values()) {
			t.Errorf("%s: not sorted", f)
		}
		tbl.Release()
		pf.Close()
	}
	for k, n := range counts {
		if got[k] != int64(n) {
			t.Errorf("%s: %d rows, want %d", k, got[k], n)
		}
	}
	if st := w.Stats(); st.Rows != 4500 || st.Buffered != 0 {
		t.Errorf("stats %+v", st)
	}
}

// TestAtomicFinalize: a write that fails mid-file leaves no file under a
// final name and no temporary either; files already written stay complete.
func TestAtomicFinalize(t *testing.T) {
	for _, noSync := range []bool{true, false} {
		t.Run(fmt.Sprintf("NoSync=%v", noSync), func(t *testing.T) { testAtomicFinalize(t, noSync) })
	}
}

func testAtomicFinalize(t *testing.T, noSync bool) {
	root, s := columnartest.FindingTree()
	dir := t.TempDir()
	opts := testOptions(dir, s)
	opts.NoSync = noSync
	var seen []string
	opts.OnFile = func(fi FileInfo) {
		// The file exists under its final name, complete, when OnFile runs.
		if _, err := os.Stat(fi.Path); err != nil {
			t.Errorf("OnFile before rename: %v", err)
		}
		seen = append(seen, fi.Path)
	}
	w, err := New(root, opts)
	if err != nil {
		t.Fatal(err)
	}
	g := columnartest.NewGen(s, 2, 1, 9)
	writeN(t, w, g, 200)
	if err := w.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	before := len(seen)
	// The next file fails after 3000 bytes: the writer reports it, removes
	// the temporary and is unusable afterwards.
	w.sink = func(f io.Writer) io.Writer { return &failingWriter{w: f, left: 3000} }
	writeN(t, w, g, 50)
	err = w.Close(context.Background())
	if err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Fatalf("Close = %v, want the sink's error", err)
	}
	if w.Write(&plan.Record{}) == nil {
		t.Error("writer not poisoned after a failed file")
	}
	files := parquetFiles(t, dir) // fails on any temporary or stray file
	for _, f := range files {
		pf, err := file.OpenParquetFile(f, false)
		if err != nil {
			t.Errorf("%s is not a complete Parquet file: %v", f, err)
			continue
		}
		pf.Close()
	}
	if before == 0 || len(seen) != before || len(files) != before {
		t.Errorf("OnFile saw %d files, %d on disk; want the %d of the first flush", len(seen), len(files), before)
	}
}

// TestSyncedConcurrent: with fsync on, files are finalized by helper
// goroutines, yet OnFile runs on the caller's goroutine after the rename,
// and Flush returns only when all its files are final. Tick from a timer
// goroutine runs concurrently with Write (go test -race).
func TestSyncedConcurrent(t *testing.T) {
	root, s := columnartest.FindingTree()
	dir := t.TempDir()
	opts := testOptions(dir, s)
	opts.NoSync = false
	opts.MaxBuffered = 256 << 10
	var infos []FileInfo // no lock: OnFile must run inside Writer methods, serialized
	opts.OnFile = func(fi FileInfo) {
		if _, err := os.Stat(fi.Path); err != nil {
			t.Errorf("OnFile before rename: %v", err)
		}
		infos = append(infos, fi)
	}
	w, err := New(root, opts)
	if err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	ticked := make(chan error, 1)
	go func() {
		tk := time.NewTicker(5 * time.Millisecond)
		defer tk.Stop()
		for n := 0; ; n++ {
			select {
			case <-stop:
				ticked <- nil
				return
			case now := <-tk.C:
				if n%10 == 9 {
					now = now.Add(time.Hour) // past RollAge: this tick rolls
				}
				if err := w.Tick(now); err != nil {
					ticked <- err
					return
				}
			}
		}
	}()
	g := columnartest.NewGen(s, 8, 2, 21)
	var rec plan.Record
	for i := range 2000 {
		g.Fill(&rec)
		if err := w.Write(&rec); err != nil {
			t.Fatal(err)
		}
		if i == 1000 {
			if err := w.Flush(context.Background()); err != nil {
				t.Fatal(err)
			}
			if st := w.Stats(); st.Buffered != 0 || st.Rows != 1001 || int(st.Files) != len(parquetFiles(t, dir)) {
				t.Fatalf("after Flush: %+v", st)
			}
		}
	}
	close(stop)
	if err := <-ticked; err != nil {
		t.Fatal(err)
	}
	if err := w.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	st := w.Stats()
	files := parquetFiles(t, dir)
	if st.Rows != 2000 || int(st.Files) != len(files) || len(infos) != len(files) {
		t.Errorf("stats %+v, %d files, %d OnFile calls", st, len(files), len(infos))
	}
	var rows int64
	for _, fi := range infos {
		rows += fi.Rows
	}
	if rows != 2000 {
		t.Errorf("OnFile rows %d", rows)
	}
}

func TestPartitionErrors(t *testing.T) {
	root, s := columnartest.FindingTree()
	str := func(v string) plan.Value { return plan.Value{Kind: plan.String, Str: v} }
	tests := []struct {
		name         string
		region, acct plan.Value
		time         plan.Value
		defRegion    string
		wantField    string
		wantDir      string
	}{
		{"ok", str("us-east-1"), str("123456789012"), plan.Value{Kind: plan.Int, Int: 1772323200000}, "", "", "region=us-east-1/accountId=123456789012/eventDay=20260301"},
		{"trimmed", str(" eu-west-1 "), str("external_abc"), plan.Value{Kind: plan.Int, Int: 0}, "", "", "region=eu-west-1/accountId=external_abc/eventDay=19700101"},
		{"default region", plan.Value{}, str("1"), plan.Value{Kind: plan.Int, Int: 1}, "us-west-2", "", "region=us-west-2/accountId=1/eventDay=19700101"},
		{"empty region uses default", str("  "), str("1"), plan.Value{Kind: plan.Int, Int: 1}, "us-west-2", "", "region=us-west-2/accountId=1/eventDay=19700101"},
		{"missing region", plan.Value{}, str("1"), plan.Value{Kind: plan.Int, Int: 1}, "", "region", ""},
		{"missing account", str("r"), plan.Value{}, plan.Value{Kind: plan.Int, Int: 1}, "", "account", ""},
		{"slash", str("us/east"), str("1"), plan.Value{Kind: plan.Int, Int: 1}, "", "region", ""},
		{"dotdot", str("r"), str(".."), plan.Value{Kind: plan.Int, Int: 1}, "", "account", ""},
		{"dot", str("."), str("1"), plan.Value{Kind: plan.Int, Int: 1}, "", "region", ""},
		{"embedded dotdot", str("a..b"), str("1"), plan.Value{Kind: plan.Int, Int: 1}, "", "region", ""},
		{"control", str("r\x00"), str("1"), plan.Value{Kind: plan.Int, Int: 1}, "", "region", ""},
		{"newline", str("r"), str("1\n2"), plan.Value{Kind: plan.Int, Int: 1}, "", "account", ""},
		{"equals", str("r=1"), str("1"), plan.Value{Kind: plan.Int, Int: 1}, "", "region", ""},
		{"backslash", str(`a\b`), str("1"), plan.Value{Kind: plan.Int, Int: 1}, "", "region", ""},
		{"too long", str(strings.Repeat("a", 129)), str("1"), plan.Value{Kind: plan.Int, Int: 1}, "", "region", ""},
		{"not a string", plan.Value{Kind: plan.Int, Int: 5}, str("1"), plan.Value{Kind: plan.Int, Int: 1}, "", "region", ""},
		{"missing time", str("r"), str("1"), plan.Value{}, "", "time", ""},
		{"negative time", str("r"), str("1"), plan.Value{Kind: plan.Int, Int: -1}, "", "time", ""},
		{"time past 9999", str("r"), str("1"), plan.Value{Kind: plan.Int, Int: 253402300800000}, "", "time", ""},
		{"string time", str("r"), str("1"), str("2026-03-01"), "", "time", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			opts := testOptions(dir, s)
			opts.DefaultRegion = tt.defRegion
			w, err := New(root, opts)
			if err != nil {
				t.Fatal(err)
			}
			rec := &plan.Record{Values: make([]plan.Value, s.N)}
			rec.Values[s.Region], rec.Values[s.AccountUID], rec.Values[s.Time] = tt.region, tt.acct, tt.time
			err = w.Write(rec)
			var pe *PartitionError
			if tt.wantField != "" {
				if !errors.As(err, &pe) || pe.Field != tt.wantField {
					t.Fatalf("err = %v, want PartitionError on %s", err, tt.wantField)
				}
				if w.Stats().Buffered != 0 {
					t.Error("rejected record was buffered")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if err := w.Close(context.Background()); err != nil {
				t.Fatal(err)
			}
			files := parquetFiles(t, dir)
			if len(files) != 1 || filepath.ToSlash(filepath.Dir(files[0])) != filepath.ToSlash(dir)+"/ext/zscaler_dspm/"+tt.wantDir {
				t.Errorf("files %v, want under %s", files, tt.wantDir)
			}
		})
	}
}

func TestNewOptions(t *testing.T) {
	root, s := columnartest.FindingTree()
	base := func() Options { return testOptions(t.TempDir(), s) }
	bad := map[string]func(*Options){
		"no dir":          func(o *Options) { o.Dir = "" },
		"no prefix":       func(o *Options) { o.Source = "" },
		"dotdot prefix":   func(o *Options) { o.Prefix = "ext/../x" },
		"bad key":         func(o *Options) { o.AccountKey = "account/id" },
		"time slot":       func(o *Options) { o.TimeSlot = 999 },
		"bad default":     func(o *Options) { o.DefaultAccount = "a/b" },
		"region slot big": func(o *Options) { o.RegionSlot = s.N },
	}
	for name, mod := range bad {
		o := base()
		mod(&o)
		if _, err := New(root, o); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	// Custom prefix and key names (the vendor page's accountid).
	o := base()
	o.Prefix = "/lake/custom/"
	o.AccountKey = "accountid"
	w, err := New(root, o)
	if err != nil {
		t.Fatal(err)
	}
	writeN(t, w, columnartest.NewGen(s, 1, 1, 1), 3)
	var key string
	w.opts.OnFile = func(fi FileInfo) { key = fi.Key }
	if err := w.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(key, "lake/custom/region=") || !strings.Contains(key, "/accountid=") {
		t.Errorf("key %s", key)
	}
}

func TestUUIDv7(t *testing.T) {
	var g uuidGen
	now := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	prev := ""
	for i := range 5000 {
		u := g.next(now.Add(time.Duration(i/1000) * time.Millisecond))
		if len(u) != 36 || u[14] != '7' || !strings.ContainsRune("89ab", rune(u[19])) {
			t.Fatalf("not a UUIDv7: %s", u)
		}
		if u <= prev {
			t.Fatalf("not increasing: %s after %s", u, prev)
		}
		prev = u
	}
	// The clock going backwards does not reorder names.
	if u := g.next(now.Add(-time.Hour)); u <= prev {
		t.Fatalf("clock step back: %s after %s", u, prev)
	}
	if got := g.next(now)[:13]; got != "019ca6de-a400"[:13] && !strings.HasPrefix(got, "019ca") {
		t.Errorf("timestamp bits %s", got)
	}
}

// TestMergeManyRunsStable: many partitions with a few rows in each of many
// spilled runs (the 30-day shape) are merged into one file each, sorted by
// time, and rows of the same millisecond keep their arrival order across
// runs.
func TestMergeManyRunsStable(t *testing.T) {
	root, s, dir, opts, mem := checkedSetup(t)
	opts.MaxBuffered = 256 << 10
	w, err := New(root, opts)
	if err != nil {
		t.Fatal(err)
	}
	g := columnartest.NewGen(s, 30, 6, 21)
	var rec plan.Record
	counts := map[string]int{}
	times := map[string]int64{}
	const n = 5000
	for i := range n {
		ms := g.Fill(&rec)
		// Three distinct times a day: most rows tie with rows of other runs.
		ms = ms - ms%dayMs + int64(i%3)
		rec.Values[s.Time].Int = ms
		rec.Values[s.TimeDT].Int = ms
		if err := w.Write(&rec); err != nil {
			t.Fatal(err)
		}
		day := time.UnixMilli(ms).UTC().Format("20060102")
		counts["region="+rec.Values[s.Region].Str+"/accountId="+rec.Values[s.AccountUID].Str+"/eventDay="+day]++
		times[rec.Values[s.FindingUID].Str] = ms
	}
	if st := w.Stats(); st.Spills < 10 {
		t.Fatalf("%d spills; the test wants many runs", st.Spills)
	}
	if err := w.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	files := parquetFiles(t, dir)
	if len(files) != len(counts) {
		t.Fatalf("%d files for %d partitions", len(files), len(counts))
	}
	seen := 0
	for _, f := range files {
		tbl, pf := readFile(t, f, mem)
		rel := strings.TrimPrefix(filepath.ToSlash(filepath.Dir(f)), filepath.ToSlash(dir)+"/ext/zscaler_dspm/")
		if int(tbl.NumRows()) != counts[rel] {
			t.Errorf("%s: %d rows, want %d", rel, tbl.NumRows(), counts[rel])
		}
		ts := tbl.Column(tbl.Schema().FieldIndices("time")[0]).Data().Chunk(0).(*array.Int64)
		finding := tbl.Column(tbl.Schema().FieldIndices("finding")[0]).Data().Chunk(0).(*array.Struct)
		uids := finding.Field(2).(*array.String)
		prevSeq := -1
		for i := range int(tbl.NumRows()) {
			uid := uids.Value(i)
			if times[uid] != ts.Value(i) {
				t.Fatalf("%s row %d: uid %s has time %d, want %d", rel, i, uid, ts.Value(i), times[uid])
			}
			var seq int
			if _, err := fmt.Sscanf(uid, "alert-%d", &seq); err != nil {
				t.Fatal(err)
			}
			switch {
			case i > 0 && ts.Value(i) < ts.Value(i-1):
				t.Fatalf("%s row %d: time goes back", rel, i)
			case i > 0 && ts.Value(i) == ts.Value(i-1) && seq < prevSeq:
				t.Fatalf("%s row %d: %s after alert-%d at the same time: arrival order lost", rel, i, uid, prevSeq)
			}
			prevSeq = seq
			seen++
		}
		tbl.Release()
		pf.Close()
	}
	if seen != n {
		t.Errorf("read %d rows back, want %d", seen, n)
	}
}

// TestMappedSpillOutlivesNoBatch: a spilled run is read through a memory
// map, and its batches point into it. A merge whose rows are one stretch of
// one spilled batch must still copy them: the run is unmapped as soon as
// its rows are in files, maybe before a helper has encoded the file.
func TestMappedSpillOutlivesNoBatch(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(2)) // encode on helpers
	for seed := range uint64(20) {
		root, s, dir, opts, mem := checkedSetup(t)
		opts.MaxBuffered = 200 << 10
		w, err := New(root, opts)
		if err != nil {
			t.Fatal(err)
		}
		g := columnartest.NewGen(s, 1, 1, seed)
		var rec plan.Record
		rows := 0
		for w.Stats().Spills == 0 { // stop right after the first spill
			g.Fill(&rec)
			if err := w.Write(&rec); err != nil {
				t.Fatal(err)
			}
			rows++
		}
		if err := w.Close(context.Background()); err != nil {
			t.Fatal(err)
		}
		read := 0
		for _, f := range parquetFiles(t, dir) {
			tbl, pf := readFile(t, f, mem)
			read += int(tbl.NumRows())
			tbl.Release()
			pf.Close()
		}
		if read != rows {
			t.Fatalf("seed %d: read %d rows back, wrote %d", seed, read, rows)
		}
	}
}

// TestSpillCutShort: a spill file truncated under the writer (by something
// else) fails Close with an error naming the spill; it does not kill the
// process with SIGBUS through the memory map.
func TestSpillCutShort(t *testing.T) {
	root, s := columnartest.FindingTree()
	dir := t.TempDir()
	opts := testOptions(dir, s)
	opts.MaxBuffered = 1 << 20
	w, err := New(root, opts)
	if err != nil {
		t.Fatal(err)
	}
	writeN(t, w, columnartest.NewGen(s, 20, 2, 9), 3000)
	spills, _ := filepath.Glob(filepath.Join(dir, ".ocsfmap-spill-*", "*"))
	if len(spills) == 0 {
		t.Fatal("no spill file; the test needs one")
	}
	for _, f := range spills {
		if err := os.Truncate(f, 0); err != nil {
			t.Fatal(err)
		}
	}
	err = w.Close(context.Background())
	if err == nil || !strings.Contains(err.Error(), "spill") {
		t.Fatalf("Close = %v, want an error reading the spill", err)
	}
	if left, _ := filepath.Glob(filepath.Join(dir, ".ocsfmap-spill-*")); len(left) != 0 {
		t.Errorf("spill folder left: %v", left)
	}
}
