package columnar

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/ocsfmap/ocsfmap/engine/columnar/columnartest"
	"github.com/ocsfmap/ocsfmap/engine/plan"
)

func TestArrowSchema(t *testing.T) {
	root, _ := columnartest.FindingTree()
	got := ArrowSchema(root).String()
	want := `schema:
  fields: 10
    - class_uid: type=int32, nullable
    - cloud: type=struct<account: struct<uid: utf8 nullable> nullable, provider: utf8 nullable, region: utf8 nullable>, nullable
    - compliance: type=struct<requirements: list<item: utf8, nullable> nullable>, nullable
    - finding: type=struct<title: utf8 nullable, types: list<item: utf8, nullable> nullable, uid: utf8 nullable>, nullable
    - metadata: type=struct<product: struct<name: utf8 nullable, vendor_name: utf8 nullable> nullable, profiles: list<item: utf8, nullable> nullable, version: utf8 nullable>, nullable
    - resources: type=list<item: struct<data: utf8 nullable, labels: list<item: utf8, nullable> nullable, name: utf8 nullable, owner: struct<type_id: int32 nullable, uid: utf8 nullable> nullable, uid: utf8 nullable>, nullable>, nullable
    - severity: type=utf8, nullable
    - time: type=int64, nullable
    - time_dt: type=timestamp[ms, tz=UTC], nullable
    - unmapped: type=utf8, nullable`
	if got != want {
		t.Errorf("schema:\n%s\nwant:\n%s", got, want)
	}
	root2, _ := columnartest.FindingTree()
	if !ArrowSchema(root2).Equal(ArrowSchema(root)) {
		t.Error("schema differs between two builds of the same tree")
	}
}

func TestBuilderAppend(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	root, s := columnartest.FindingTree()
	b := NewBuilder(mem, root)
	defer b.Release()

	rec := &plan.Record{Values: make([]plan.Value, s.N)}
	str := func(v string) plan.Value { return plan.Value{Kind: plan.String, Str: v} }
	num := func(v int64) plan.Value { return plan.Value{Kind: plan.Int, Int: v} }

	// Row 1: full, with a hole in requirements (compacted: OCSF has no null
	// elements) and a JSON value to sort.
	v := rec.Values
	v[s.ClassUID] = num(2001)
	v[s.Time] = num(1772323200123)
	v[s.TimeDT] = num(1772323200123)
	v[s.AccountUID] = str("123456789012")
	v[s.Region] = str("us-east-1")
	v[s.Req1] = str("PCI")
	v[s.FindingUID] = str("f-1")
	v[s.FindingTypes] = plan.Value{Kind: plan.List, List: []plan.Value{str("a"), str("b")}}
	v[s.ResData] = plan.Value{Kind: plan.JSON, JSON: map[string]any{"z": 1.5, "a": []any{"x<y", nil, true}}}
	v[s.OwnerUID] = str("o-1")
	v[s.OwnerTypeID] = num(3)
	v[s.UnmappedTheme] = str("Data \"Exposure\"\n")
	v[s.UnmappedAge] = num(12)
	b.Append(rec)

	// Row 2: almost empty: objects with no values are null structs, lists
	// with no items are null lists, json_t with no keys is null; so are an
	// empty list and an empty JSON object or array, and resources[0], which
	// holds nothing else.
	clear(rec.Values)
	v[s.FindingTypes] = plan.Value{Kind: plan.List, List: []plan.Value{}}
	v[s.ResLabels] = plan.Value{Kind: plan.List}
	v[s.ResData] = plan.Value{Kind: plan.JSON, JSON: map[string]any{}}
	v[s.UnmappedTheme] = plan.Value{Kind: plan.JSON, JSON: []any{}}
	v[s.Time] = num(5)
	v[s.Severity] = str("High")
	v[s.Provider] = plan.Value{Kind: plan.Int, Int: 42} // number into a string column
	b.Append(rec)

	// Row 3: a mismatched kind is a null, counted.
	clear(rec.Values)
	v[s.ClassUID] = str("not a number")
	v[s.Req0] = str("only first")
	b.Append(rec)

	if b.Len() != 3 {
		t.Fatalf("Len = %d", b.Len())
	}
	if b.Bytes() <= 0 {
		t.Fatalf("Bytes = %d", b.Bytes())
	}
	if b.Mismatched() != 1 {
		t.Errorf("Mismatched = %d, want 1", b.Mismatched())
	}
	batch := b.NewRecordBatch()
	defer batch.Release()
	if b.Len() != 0 || b.Bytes() != 0 {
		t.Errorf("after batch: Len %d Bytes %d", b.Len(), b.Bytes())
	}
	var buf bytes.Buffer
	if err := array.RecordToJSON(batch, &buf); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	want := []string{
		`{"class_uid":2001,"cloud":{"account":{"uid":"123456789012"},"provider":null,"region":"us-east-1"},"compliance":{"requirements":["PCI"]},"finding":{"title":null,"types":["a","b"],"uid":"f-1"},"metadata":null,"resources":[{"data":"{\"a\":[\"x\u003cy\",null,true],\"z\":1.5}","labels":null,"name":null,"owner":{"type_id":3,"uid":"o-1"},"uid":null}],"severity":null,"time":1772323200123,"time_dt":"2026-03-01T00:00:00.123Z","unmapped":"{\"age\":12,\"theme\":\"Data \\\"Exposure\\\"\\n\"}"}`,
		`{"class_uid":null,"cloud":{"account":null,"provider":"42","region":null},"compliance":null,"finding":null,"metadata":null,"resources":null,"severity":"High","time":5,"time_dt":null,"unmapped":null}`,
		`{"class_uid":null,"cloud":null,"compliance":{"requirements":["only first"]},"finding":null,"metadata":null,"resources":null,"severity":null,"time":null,"time_dt":null,"unmapped":null}`,
	}
	if len(lines) != len(want) {
		t.Fatalf("got %d rows:\n%s", len(lines), buf.String())
	}
	for i := range want {
		if normJSON(t, lines[i]) != normJSON(t, want[i]) {
			t.Errorf("row %d:\n got %s\nwant %s", i, lines[i], want[i])
		}
	}

	// JSON columns hold compact JSON with sorted keys and no HTML escaping.
	data := batch.Column(5).(*array.List).ListValues().(*array.Struct).Field(0).(*array.String)
	if got := data.Value(0); got != `{"a":["x<y",null,true],"z":1.5}` {
		t.Errorf("resources[0].data = %s", got)
	}

	// The builder is reusable: a second batch from the same builders.
	g := columnartest.NewGen(s, 5, 1, 1)
	for range 100 {
		g.Fill(rec)
		b.Append(rec)
	}
	batch2 := b.NewRecordBatch()
	defer batch2.Release()
	if batch2.NumRows() != 100 || !batch2.Schema().Equal(batch.Schema()) {
		t.Errorf("second batch: %d rows, schema equal %v", batch2.NumRows(), batch2.Schema().Equal(batch.Schema()))
	}
}

func normJSON(t *testing.T, s string) string {
	t.Helper()
	var v any
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		t.Fatalf("%v: %s", err, s)
	}
	b, _ := json.Marshal(v)
	return string(b)
}

func BenchmarkAppend(b *testing.B) {
	root, s := columnartest.FindingTree()
	bl := NewBuilder(memory.NewGoAllocator(), root)
	defer bl.Release()
	g := columnartest.NewGen(s, 200, 1, 1)
	recs := make([]plan.Record, 1024)
	for i := range recs {
		g.Fill(&recs[i])
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		bl.Append(&recs[i%len(recs)])
		if bl.Len() == 8192 { // as the lake takes batches: a view, then reuse
			bl.View().Release()
			bl.Reset()
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N), "ns/record")
}

// The Builder's columns keep their buffers from batch to batch: a View of
// every batch must equal an owned copy of the same rows, be valid Arrow
// (offsets, lengths, bitmaps), and not see the rows of the batch before.
func TestBuilderViewReuse(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	root, s := columnartest.FindingTree()
	viewed, copied := NewBuilder(mem, root), NewBuilder(mem, root)
	defer viewed.Release()
	defer copied.Release()
	g := columnartest.NewGen(s, 20, 2, 7)
	rec := &plan.Record{Values: make([]plan.Value, s.N)}
	// Sizes that end mid-bitmap-byte, a batch of one row, and a longer one
	// after shorter ones (the reused buffers hold stale bytes past its end).
	for _, rows := range []int{13, 1, 700, 9, 1500} {
		for range rows {
			g.Fill(rec)
			viewed.Append(rec)
			copied.Append(rec)
		}
		want := copied.NewRecordBatch()
		got := viewed.View()
		for i, col := range got.Columns() {
			if err := validArray(col); err != nil {
				t.Fatalf("%d rows, column %s: %v", rows, got.ColumnName(i), err)
			}
		}
		if got.NumRows() != int64(rows) || !array.RecordEqual(got, want) {
			t.Fatalf("%d rows: the view differs from the copied batch", rows)
		}
		got.Release()
		viewed.Reset()
		want.Release()
		if viewed.Len() != 0 || viewed.Bytes() != 0 {
			t.Fatalf("after Reset: Len %d Bytes %d", viewed.Len(), viewed.Bytes())
		}
	}
}

// validArray checks what Arrow readers rely on: offsets (ValidateFull where
// the array type has it), field and element lengths, and null counts that
// match the bitmaps, down the whole column.
func validArray(a arrow.Array) error {
	if v, ok := a.(interface{ ValidateFull() error }); ok {
		if err := v.ValidateFull(); err != nil {
			return err
		}
	}
	nulls := 0
	for i := range a.Len() {
		if a.IsNull(i) {
			nulls++
		}
	}
	if nulls != a.NullN() {
		return fmt.Errorf("%s: NullN %d, bitmap has %d", a.DataType(), a.NullN(), nulls)
	}
	switch a := a.(type) {
	case *array.Struct:
		for i := range a.NumField() {
			if a.Field(i).Len() != a.Len() {
				return fmt.Errorf("field %d: %d rows, struct %d", i, a.Field(i).Len(), a.Len())
			}
			if err := validArray(a.Field(i)); err != nil {
				return err
			}
		}
	case *array.List:
		return validArray(a.ListValues())
	}
	return nil
}
