package lake

import (
	"context"
	"math/rand/v2"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/compute"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/ocsfmap/ocsfmap/engine/columnar"
	"github.com/ocsfmap/ocsfmap/engine/columnar/columnartest"
	"github.com/ocsfmap/ocsfmap/engine/plan"
)

// gatherBatch must give what Arrow's own Take gives on the concatenated
// sources, for every type of a finding (nested structs, lists of structs and
// of strings, nulls at each level), sliced sources included.
func TestGatherMatchesTake(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	root, s := columnartest.FindingTree()
	g := columnartest.NewGen(s, 7, 3, 42)
	var srcs []arrow.RecordBatch
	defer func() {
		for _, b := range srcs {
			b.Release()
		}
	}()
	var rec plan.Record
	for _, rows := range []int{300, 1, 517} {
		bld := columnar.NewBuilder(mem, root)
		for range rows + 20 {
			g.Fill(&rec)
			bld.Append(&rec)
		}
		full := bld.NewRecordBatch()
		bld.Release()
		// Sliced, so every source has an offset.
		srcs = append(srcs, full.NewSlice(10, int64(10+rows)))
		full.Release()
	}
	schema := srcs[0].Schema()

	rng := rand.New(rand.NewPCG(1, 2))
	var refs []rowRef
	var flat []int32 // the same rows in the concatenation
	base := []int32{0, 300, 301}
	for range 2000 {
		src := rng.IntN(len(srcs))
		row := rng.IntN(int(srcs[src].NumRows()))
		refs = append(refs, rowRef{int32(src), int32(row)})
		flat = append(flat, base[src]+int32(row))
	}

	got, err := gatherBatch(mem, schema, srcs, refs)
	if err != nil {
		t.Fatal(err)
	}
	defer got.Release()

	tbl := array.NewTableFromRecords(schema, srcs)
	defer tbl.Release()
	cols := make([]arrow.Array, schema.NumFields())
	for i := range cols {
		c, err := array.Concatenate(tbl.Column(i).Data().Chunks(), mem)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Release()
		cols[i] = c
	}
	all := array.NewRecordBatch(schema, cols, tbl.NumRows())
	defer all.Release()
	idx := array.NewInt32Builder(mem)
	idx.AppendValues(flat, nil)
	indices := idx.NewArray()
	idx.Release()
	defer indices.Release()
	ctx := compute.WithAllocator(context.Background(), mem)
	vals, is := compute.NewDatum(all), compute.NewDatum(indices)
	defer vals.Release()
	defer is.Release()
	out, err := compute.Take(ctx, *compute.DefaultTakeOptions(), vals, is)
	if err != nil {
		t.Fatal(err)
	}
	want := out.(*compute.RecordDatum).Value
	defer want.Release()

	if got.NumRows() != want.NumRows() {
		t.Fatalf("rows: got %d, want %d", got.NumRows(), want.NumRows())
	}
	for i := range schema.NumFields() {
		if !array.Equal(got.Column(i), want.Column(i)) {
			t.Errorf("column %s differs from Take", schema.Field(i).Name)
		}
		if v, ok := got.Column(i).(interface{ ValidateFull() error }); ok {
			if err := v.ValidateFull(); err != nil {
				t.Errorf("column %s: %v", schema.Field(i).Name, err)
			}
		}
	}
}
