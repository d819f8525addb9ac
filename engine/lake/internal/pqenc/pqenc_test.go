package pqenc

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/compress"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/metadata"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
	"github.com/klauspost/compress/zstd"

	"github.com/ocsfmap/ocsfmap/engine/columnar"
	"github.com/ocsfmap/ocsfmap/engine/columnar/columnartest"
	"github.com/ocsfmap/ocsfmap/engine/lake/readertest"
	"github.com/ocsfmap/ocsfmap/engine/plan"
)

// Every type and nesting the lake writes: nullable everything, lists of
// structs holding lists, all-null and empty lists, long strings.
var testSchema = arrow.NewSchema([]arrow.Field{
	{Name: "s", Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: "i32", Type: arrow.PrimitiveTypes.Int32, Nullable: true},
	{Name: "i64", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
	{Name: "f", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
	{Name: "b", Type: arrow.FixedWidthTypes.Boolean, Nullable: true},
	{Name: "ts", Type: &arrow.TimestampType{Unit: arrow.Millisecond, TimeZone: "UTC"}, Nullable: true},
	{Name: "obj", Type: arrow.StructOf(
		arrow.Field{Name: "uid", Type: arrow.BinaryTypes.String, Nullable: true},
		arrow.Field{Name: "inner", Type: arrow.StructOf(
			arrow.Field{Name: "n", Type: arrow.PrimitiveTypes.Int32, Nullable: true},
		), Nullable: true},
	), Nullable: true},
	{Name: "tags", Type: arrow.ListOf(arrow.BinaryTypes.String), Nullable: true},
	{Name: "resources", Type: arrow.ListOf(arrow.StructOf(
		arrow.Field{Name: "uid", Type: arrow.BinaryTypes.String, Nullable: true},
		arrow.Field{Name: "labels", Type: arrow.ListOf(arrow.BinaryTypes.String), Nullable: true},
		arrow.Field{Name: "size", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
	)), Nullable: true},
	{Name: "never", Type: arrow.BinaryTypes.String, Nullable: true},
}, nil)

func testProps() (*parquet.WriterProperties, pqarrow.ArrowWriterProperties) {
	return parquet.NewWriterProperties(
			parquet.WithCompression(compress.Codecs.Zstd),
			parquet.WithStats(true),
			parquet.WithDictionaryDefault(false),
			parquet.WithCreatedBy("ocsfmap"),
		),
		pqarrow.NewArrowWriterProperties()
}

// randomBatch fills testSchema with rows of random values; "never" is all
// null.
func randomBatch(t testing.TB, mem memory.Allocator, rows int, seed uint64) arrow.RecordBatch {
	rng := rand.New(rand.NewPCG(seed, 7))
	b := array.NewRecordBuilder(mem, testSchema)
	defer b.Release()
	for range rows {
		for i, f := range testSchema.Fields() {
			if f.Name == "never" {
				b.Field(i).AppendNull()
				continue
			}
			appendRandom(rng, b.Field(i))
		}
	}
	return b.NewRecordBatch()
}

func randomString(rng *rand.Rand) string {
	switch rng.IntN(20) {
	case 0:
		return ""
	case 1:
		return strings.Repeat("long description ", 300+rng.IntN(50)) // > 4096 bytes
	default:
		return fmt.Sprintf("v-%d-é", rng.IntN(1000))
	}
}

func appendRandom(rng *rand.Rand, b array.Builder) {
	if rng.IntN(5) == 0 {
		b.AppendNull()
		return
	}
	switch b := b.(type) {
	case *array.StringBuilder:
		b.Append(randomString(rng))
	case *array.Int32Builder:
		b.Append(rng.Int32N(2000) - 1000)
	case *array.Int64Builder:
		b.Append(rng.Int64() - 1<<62)
	case *array.Float64Builder:
		b.Append(rng.NormFloat64() * 1e6)
	case *array.BooleanBuilder:
		b.Append(rng.IntN(2) == 0)
	case *array.TimestampBuilder:
		b.Append(arrow.Timestamp(1_700_000_000_000 + rng.Int64N(1e10)))
	case *array.StructBuilder:
		b.Append(true)
		for i := range b.NumField() {
			appendRandom(rng, b.FieldBuilder(i))
		}
	case *array.ListBuilder:
		b.Append(true)
		for range rng.IntN(4) { // 0: an empty list
			appendRandom(rng, b.ValueBuilder())
		}
	default:
		panic(fmt.Sprintf("no generator for %T", b))
	}
}

// lowCardinalityBatch is randomBatch with its top-level strings drawn from
// a few values, one of them constant, up to row distinctFrom and all
// distinct after it; nulls kept.
func lowCardinalityBatch(t testing.TB, mem memory.Allocator, rows, distinctFrom int) arrow.RecordBatch {
	src := randomBatch(t, mem, rows, 99)
	defer src.Release()
	rng := rand.New(rand.NewPCG(5, 5))
	cols := make([]arrow.Array, len(testSchema.Fields()))
	for i, f := range testSchema.Fields() {
		if f.Type.ID() != arrow.STRING {
			cols[i] = src.Column(i)
			cols[i].Retain()
			continue
		}
		sb := array.NewStringBuilder(mem)
		for r := range rows {
			switch {
			case f.Name == "never" || src.Column(i).IsNull(r):
				sb.AppendNull()
			case r >= distinctFrom:
				sb.Append(fmt.Sprintf("distinct value %d", r))
			case r%2 == 0:
				sb.Append("constant")
			default:
				sb.Append([]string{"us-east-1", "eu-west-1", "", "ap-northeast-1"}[rng.IntN(4)])
			}
		}
		cols[i] = sb.NewArray()
		sb.Release()
	}
	defer func() {
		for _, c := range cols {
			c.Release()
		}
	}()
	return array.NewRecordBatch(testSchema, cols, int64(rows))
}

// hasDictionary tells whether some column chunk of the file has a
// dictionary page.
func hasDictionary(t *testing.T, data []byte) bool {
	t.Helper()
	md := footer(t, data)
	for g := range md.NumRowGroups() {
		rg := md.RowGroup(g)
		for c := range rg.NumColumns() {
			cc, _ := rg.ColumnChunk(c)
			if cc.HasDictionaryPage() {
				return true
			}
		}
	}
	return false
}

func writeBoth(t *testing.T, batch arrow.RecordBatch, opts Options, rowGroupRows int) (ours, theirs []byte) {
	t.Helper()
	props, arrProps := testProps()
	f, err := FromArrow(testSchema, props, arrProps, opts)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	n, err := f.Write(&buf, batch, rowGroupRows)
	if err != nil {
		t.Fatal(err)
	}
	if n != int64(buf.Len()) {
		t.Fatalf("Write returned %d, wrote %d", n, buf.Len())
	}
	var ref bytes.Buffer
	tbl := array.NewTableFromRecords(testSchema, []arrow.RecordBatch{batch})
	defer tbl.Release()
	chunk := int64(rowGroupRows)
	if chunk <= 0 {
		chunk = max(batch.NumRows(), 1)
	}
	if err := pqarrow.WriteTable(tbl, &ref, chunk, props, arrProps); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes(), ref.Bytes()
}

func readBack(t *testing.T, mem memory.Allocator, data []byte) arrow.Table {
	t.Helper()
	rd, err := file.NewParquetReader(bytes.NewReader(data), file.WithReadProps(parquet.NewReaderProperties(mem)))
	if err != nil {
		t.Fatal(err)
	}
	fr, err := pqarrow.NewFileReader(rd, pqarrow.ArrowReadProperties{BatchSize: 1 << 20}, mem)
	if err != nil {
		t.Fatal(err)
	}
	tbl, err := fr.ReadTable(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return tbl
}

// The files read back, with pqarrow, to exactly the batch written, and to
// the same Arrow schema as pqarrow's own files.
func TestRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		name         string
		rows         int
		pageSize     int
		rowGroupRows int
		dict         bool
	}{
		{"one row", 1, 0, 0, false},
		{"small", 83, 0, 0, false},
		{"many pages", 3000, 4 << 10, 0, false},
		{"row groups", 2500, 64 << 10, 1000, false},
		// With dictionaries: kept (small), falling back to PLAIN when the
		// dictionary outgrows a page (many pages) or the values are mostly
		// distinct (row groups), and skipped for the chunks after that.
		{"dict one row", 1, 0, 0, true},
		{"dict few rows", 83, 0, 0, true}, // below dictMinRows: PLAIN
		{"dict small", 200, 0, 0, true},
		{"dict many pages", 3000, 4 << 10, 0, true},
		{"dict row groups", 2500, 64 << 10, 1000, true},
		{"dict low cardinality", 2500, 4 << 10, 0, true},
		// Pages of indices, then a fallback to PLAIN within the chunk.
		{"dict then distinct", 4000, 4 << 10, 0, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
			defer mem.AssertSize(t, 0)
			batch := randomBatch(t, mem, tc.rows, uint64(tc.rows))
			switch tc.name {
			case "dict low cardinality":
				batch.Release()
				batch = lowCardinalityBatch(t, mem, tc.rows, tc.rows)
			case "dict then distinct":
				batch.Release()
				batch = lowCardinalityBatch(t, mem, tc.rows, 2000)
			}
			defer batch.Release()
			ours, theirs := writeBoth(t, batch, Options{PageSize: tc.pageSize, Dictionary: tc.dict, StoreBelow: 64}, tc.rowGroupRows)
			if tc.name == "dict few rows" && hasDictionary(t, ours) {
				t.Errorf("a dictionary in a chunk of %d rows", tc.rows)
			}
			if wantDict := tc.name == "dict small" || strings.HasPrefix(tc.name, "dict low") || strings.HasPrefix(tc.name, "dict then"); wantDict && !hasDictionary(t, ours) {
				t.Errorf("no column chunk has a dictionary page")
			}

			got := readBack(t, mem, ours)
			defer got.Release()
			want := readBack(t, mem, theirs)
			defer want.Release()
			if !got.Schema().Equal(want.Schema()) {
				t.Fatalf("schema:\n%s\nwant (pqarrow's)\n%s", got.Schema(), want.Schema())
			}
			if got.NumRows() != batch.NumRows() {
				t.Fatalf("rows: %d, want %d", got.NumRows(), batch.NumRows())
			}
			for i := range int(got.NumCols()) {
				chunks := got.Column(i).Data().Chunks()
				col, err := array.Concatenate(chunks, mem)
				if err != nil {
					t.Fatal(err)
				}
				if !array.Equal(col, batch.Column(i)) {
					t.Errorf("column %s does not read back as written", testSchema.Field(i).Name)
				}
				col.Release()
			}
		})
	}
}

// Chunk statistics are those pqarrow writes for the same data: null
// counts, and min/max as PLAIN bytes (none for strings over 4 KB), in every
// row group of a file written after another one with the same Format (the
// lake's use: nothing may carry over).
func TestStatisticsMatchPqarrow(t *testing.T) {
	for _, dict := range []bool{false, true} {
		t.Run(fmt.Sprintf("dictionary=%v", dict), func(t *testing.T) { testStatistics(t, dict) })
	}
}

func testStatistics(t *testing.T, dict bool) {
	mem := memory.NewGoAllocator()
	first := randomBatch(t, mem, 300, 4)
	defer first.Release()
	batch := randomBatch(t, mem, 500, 3)
	defer batch.Release()
	props, arrProps := testProps()
	f, err := FromArrow(testSchema, props, arrProps, Options{Dictionary: dict})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write(io.Discard, first, 0); err != nil {
		t.Fatal(err)
	}
	var buf, ref bytes.Buffer
	if _, err := f.Write(&buf, batch, 200); err != nil {
		t.Fatal(err)
	}
	tbl := array.NewTableFromRecords(testSchema, []arrow.RecordBatch{batch})
	defer tbl.Release()
	if err := pqarrow.WriteTable(tbl, &ref, 200, props, arrProps); err != nil {
		t.Fatal(err)
	}
	a, b := footer(t, buf.Bytes()), footer(t, ref.Bytes())
	if a.NumRows != b.NumRows || a.NumRowGroups() != b.NumRowGroups() || a.NumRowGroups() != 3 {
		t.Fatalf("rows %d / groups %d, want %d / %d (3)", a.NumRows, a.NumRowGroups(), b.NumRows, b.NumRowGroups())
	}
	for g := range a.NumRowGroups() {
		compareStats(t, a.RowGroup(g), b.RowGroup(g))
	}
}

func compareStats(t *testing.T, rgA, rgB *metadata.RowGroupMetaData) {
	t.Helper()
	for c := range rgA.NumColumns() {
		ca, _ := rgA.ColumnChunk(c)
		cb, _ := rgB.ColumnChunk(c)
		name := ca.PathInSchema().String()
		if ca.NumValues() != cb.NumValues() || ca.Compression() != compress.Codecs.Zstd {
			t.Errorf("%s: %d values %s, want %d values ZSTD", name, ca.NumValues(), ca.Compression(), cb.NumValues())
		}
		sa, errA := ca.StatsSet()
		sb, errB := cb.StatsSet()
		if errA != nil || errB != nil || sa != sb {
			t.Errorf("%s: stats set %v (%v), want %v (%v)", name, sa, errA, sb, errB)
			continue
		}
		if !sa {
			continue
		}
		stA, _ := ca.Statistics()
		stB, _ := cb.Statistics()
		if stA.NullCount() != stB.NullCount() || stA.HasMinMax() != stB.HasMinMax() {
			t.Errorf("%s: nulls %d minmax %v, want %d %v", name, stA.NullCount(), stA.HasMinMax(), stB.NullCount(), stB.HasMinMax())
			continue
		}
		if stA.HasMinMax() && (!bytes.Equal(stA.EncodeMin(), stB.EncodeMin()) || !bytes.Equal(stA.EncodeMax(), stB.EncodeMax())) {
			t.Errorf("%s: min/max %x/%x, want %x/%x", name, stA.EncodeMin(), stA.EncodeMax(), stB.EncodeMin(), stB.EncodeMax())
		}
	}
}

func footer(t *testing.T, data []byte) *metadata.FileMetaData {
	t.Helper()
	rd, err := file.NewParquetReader(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	defer rd.Close()
	return rd.MetaData()
}

// BenchmarkSmallFile writes one file of a few rows of findings (the shape
// of a 30-day backfill: ~83 rows per partition) with pqenc and with
// pqarrow's FileWriter, same properties, same batch.
func BenchmarkSmallFile(b *testing.B) {
	root, s := columnartest.FindingTree()
	g := columnartest.NewGen(s, 1, 1, 1)
	bld := columnar.NewBuilder(memory.DefaultAllocator, root)
	var rec plan.Record
	for range 83 {
		g.Fill(&rec)
		bld.Append(&rec)
	}
	batch := bld.NewRecordBatch()
	bld.Release()
	defer batch.Release()
	props := parquet.NewWriterProperties(parquet.WithCompression(compress.Codecs.Zstd), parquet.WithCompressionLevel(1),
		parquet.WithStats(true), parquet.WithDictionaryDefault(false), parquet.WithCreatedBy("ocsfmap"))
	arrProps := pqarrow.NewArrowWriterProperties()

	b.Run("pqenc", func(b *testing.B) {
		f, err := FromArrow(batch.Schema(), props, arrProps, Options{})
		if err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		for b.Loop() {
			if _, err := f.Write(io.Discard, batch, 0); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("pqarrow", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			fw, err := pqarrow.NewFileWriter(batch.Schema(), io.Discard, props, arrProps)
			if err != nil {
				b.Fatal(err)
			}
			if err := fw.Write(batch); err != nil {
				b.Fatal(err)
			}
			if err := fw.Close(); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// FuzzRoundTrip: any batch of random rows and any page size read back with
// pqarrow as written.
func FuzzRoundTrip(f *testing.F) {
	f.Add(uint64(1), uint16(1), uint16(0))
	f.Add(uint64(2), uint16(200), uint16(300))
	f.Add(uint64(3), uint16(1000), uint16(4096))
	f.Fuzz(func(t *testing.T, seed uint64, rows, pageSize uint16) {
		rows = rows%2000 + 1
		mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
		defer mem.AssertSize(t, 0)
		batch := randomBatch(t, mem, int(rows), seed)
		defer batch.Release()
		props, arrProps := testProps()
		enc, err := FromArrow(testSchema, props, arrProps, Options{PageSize: int(pageSize)})
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		if _, err := enc.Write(&buf, batch, int(seed%3)*int(rows)/2); err != nil {
			t.Fatal(err)
		}
		got := readBack(t, mem, buf.Bytes())
		defer got.Release()
		for i := range int(got.NumCols()) {
			col, err := array.Concatenate(got.Column(i).Data().Chunks(), mem)
			if err != nil {
				t.Fatal(err)
			}
			if !array.Equal(col, batch.Column(i)) {
				t.Errorf("column %s does not read back as written", testSchema.Field(i).Name)
			}
			col.Release()
		}
	})
}

// arrow-rs and polars read our files as pqarrow does: every type and
// nesting, several pages and row groups, dictionary pages, and a chunk
// whose pages of indices are followed by PLAIN pages after a fallback.
func TestOtherReadersAgree(t *testing.T) {
	mem := memory.NewGoAllocator()
	dir := t.TempDir()
	var files []string
	for i, tc := range []struct {
		batch        arrow.RecordBatch
		opts         Options
		rowGroupRows int
	}{
		{randomBatch(t, mem, 3000, 1), Options{PageSize: 4 << 10}, 1000},
		{randomBatch(t, mem, 3000, 2), Options{PageSize: 4 << 10, Dictionary: true}, 0},
		{lowCardinalityBatch(t, mem, 4000, 2000), Options{PageSize: 4 << 10, Dictionary: true}, 0},
		{lowCardinalityBatch(t, mem, 2500, 2500), Options{Dictionary: true}, 1000},
		// Pages of a few values, most of them stored, not compressed.
		{randomBatch(t, mem, 600, 3), Options{PageSize: 100, Dictionary: true, StoreBelow: 256}, 0},
	} {
		ours, _ := writeBoth(t, tc.batch, tc.opts, tc.rowGroupRows)
		tc.batch.Release()
		f := filepath.Join(dir, fmt.Sprintf("%d.parquet", i))
		if err := os.WriteFile(f, ours, 0o644); err != nil {
			t.Fatal(err)
		}
		files = append(files, f)
	}
	tables := readertest.Read(t, mem, files)
	for i, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		want := readBack(t, mem, data)
		for k, got := range tables[i] {
			for _, d := range readertest.Diff(want, got, 5) {
				t.Errorf("file %d, %s: %s", i, readertest.Readers[k], d)
			}
			got.Release()
		}
		want.Release()
	}
}

// A stored page is a zstd frame every decoder reads back as the page.
func TestStoredPagesAreZstd(t *testing.T) {
	f := &Format{opts: Options{StoreBelow: 256}}
	dec, err := zstd.NewReader(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer dec.Close()
	for n := range 256 {
		page := bytes.Repeat([]byte{byte(n)}, n)
		for i := range page {
			page[i] += byte(i * 7)
		}
		frame := f.compress(page, []byte("keep"))
		if string(frame[:4]) != "keep" {
			t.Fatalf("%d bytes: dst's bytes lost", n)
		}
		got, err := dec.DecodeAll(frame[4:], nil)
		if err != nil || !bytes.Equal(got, page) {
			t.Fatalf("%d bytes: decoded %x, %v; want %x", n, got, err, page)
		}
		if len(frame)-4 != n+9 {
			t.Errorf("%d bytes: frame of %d bytes, want %d (stored)", n, len(frame)-4, n+9)
		}
	}
}
