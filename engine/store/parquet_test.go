package store

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/compress"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
)

// A real Parquet file survives the trip: read back from the bucket, it opens
// and holds the rows written. (Arrow appears here only, in a test.)
func TestS3DeliverParquet(t *testing.T) {
	newSTS(t)
	bucket := newBucket(t)
	staging := t.TempDir()
	key := partKey("20240105", "0190a1b2-real")
	p := filepath.Join(staging, filepath.FromSlash(key))
	os.MkdirAll(filepath.Dir(p), 0o755)

	schema := arrow.NewSchema([]arrow.Field{{Name: "time", Type: arrow.PrimitiveTypes.Int64}, {Name: "finding_uid", Type: arrow.BinaryTypes.String}}, nil)
	b := array.NewRecordBuilder(memory.DefaultAllocator, schema)
	defer b.Release()
	b.Field(0).(*array.Int64Builder).AppendValues([]int64{1704412800000, 1704412801000, 1704412802000}, nil)
	b.Field(1).(*array.StringBuilder).AppendValues([]string{"a-1", "a-2", "a-3"}, nil)
	rec := b.NewRecordBatch()
	defer rec.Release()
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	w, err := pqarrow.NewFileWriter(schema, f, parquet.NewWriterProperties(parquet.WithCompression(compress.Codecs.Zstd)), pqarrow.DefaultWriterProps())
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Write(rec); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}

	d := NewDeliverer(s3Dest(t, bucket), DeliverOptions{KeyPrefix: testPrefix, Logger: quiet(t)})
	if _, err := d.Deliver(context.Background(), staging); err != nil {
		t.Fatal(err)
	}
	body, _, err := vgw.Get(context.Background(), bucket, key)
	if err != nil {
		t.Fatal(err)
	}
	tbl, err := pqarrow.ReadTable(context.Background(), bytes.NewReader(body), nil, pqarrow.ArrowReadProperties{}, memory.DefaultAllocator)
	if err != nil {
		t.Fatalf("the delivered object is not Parquet: %v", err)
	}
	defer tbl.Release()
	if tbl.NumRows() != 3 || tbl.NumCols() != 2 || tbl.Schema().Field(1).Name != "finding_uid" {
		t.Errorf("read back %d rows, schema %v", tbl.NumRows(), tbl.Schema())
	}
}
