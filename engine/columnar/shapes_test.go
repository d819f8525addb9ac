package columnar

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/ocsfmap/ocsfmap/engine/plan"
	"github.com/ocsfmap/ocsfmap/engine/spec"
)

// TestShapesAgreeWithJSON maps records whose lists have gaps, rules that
// yield [] and objects left with nothing set, through a compiled plan, and
// checks each row the Builder writes is the mapper's JSON line (issue 19:
// the columns kept a null element for the gap, an empty list and an empty
// object, which OCSF refuses, while the JSON left them out).
func TestShapesAgreeWithJSON(t *testing.T) {
	const src = `format: ocsfmap/v1
mapping: t/shapes
version: 1.0.0
ocsf: {version: 1.3.0, class: detection_finding, profiles: [cloud]}
fields:
  time: {value: 1793527200000}
  activity_id: {value: 1}
  severity_id: {value: 1}
  metadata.product.name: {value: p}
  metadata.product.vendor_name: {value: v}
  cloud.provider: {value: AWS}
  finding_info.uid: {from: id}
  finding_info.title: {value: t}
  finding_info.types: {from: types}
  observables[0].name: {from: a, when: 'a != nil'}
  observables[0].type_id: {value: 1, when: 'a != nil'}
  observables[1].name: {from: b, when: 'b != nil'}
  observables[1].type_id: {value: 2, when: 'b != nil'}
  observables[2].name: {from: c}
  observables[2].type_id: {value: 3}
  resources: {from: res}
  evidences[0].data: {from: data}
  evidences[1].data: {from: data2}
  unmapped.extra: {from: extra}
`
	m, diags := spec.Parse(filepath.Join(t.TempDir(), "m.yaml"), []byte(src))
	if diags.HasErrors() {
		t.Fatal(diags.Render())
	}
	p, diags := plan.Compile(m)
	if diags.HasErrors() {
		t.Fatal(diags.Render())
	}
	records := []struct{ in, want string }{
		// observables[0] skipped, [1] and [2] set: two elements, no null.
		{`{"id":"A","b":"x","c":"y","types":[],"res":[],"data":{},"data2":{"k":1},"extra":{}}`,
			`{"evidences":[{"data":{"k":1}}],"observables":[{"name":"x","type_id":2},{"name":"y","type_id":3}]}`},
		// Only the last item: one element.
		{`{"id":"B","c":"z","types":["t"],"res":[null,{}],"data":[],"extra":[]}`,
			`{"finding_info":{"types":["t"]},"observables":[{"name":"z","type_id":3}]}`},
		// Every item; an empty evidences[0] before a full [1].
		{`{"id":"C","a":"p","b":"q","c":"r","res":[{"uid":"u"}],"data2":[1],"extra":{"k":[]}}`,
			`{"evidences":[{"data":[1]}],"observables":[{"name":"p","type_id":1},{"name":"q","type_id":2},{"name":"r","type_id":3}],"resources":[{"uid":"u"}],"unmapped":{"extra":{"k":[]}}}`},
	}
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	b := NewBuilder(mem, p.Root)
	defer b.Release()
	mp := p.NewMapper()
	var lines []map[string]any
	for _, r := range records {
		rec, err := mp.Map([]byte(r.in))
		if err != nil {
			t.Fatalf("%s: %v", r.in, err)
		}
		line := mp.AppendJSON(nil)
		var doc, kept map[string]any
		json.Unmarshal(line, &doc)
		json.Unmarshal(line, &kept)
		lines = append(lines, kept)
		// The attributes this test is about are as OCSF wants them.
		var want map[string]any
		json.Unmarshal([]byte(r.want), &want)
		for _, k := range []string{"evidences", "observables", "resources", "unmapped"} {
			if !reflect.DeepEqual(stripDerived(doc[k]), want[k]) {
				t.Errorf("%s: %s = %v, want %v", r.in, k, doc[k], want[k])
			}
		}
		gotFI, _ := doc["finding_info"].(map[string]any)
		wantFI, _ := want["finding_info"].(map[string]any)
		if !reflect.DeepEqual(gotFI["types"], wantFI["types"]) {
			t.Errorf("%s: finding_info.types = %v", r.in, gotFI["types"])
		}
		b.Append(rec)
	}
	batch := b.NewRecordBatch()
	defer batch.Release()
	var buf bytes.Buffer
	if err := array.RecordToJSON(batch, &buf); err != nil {
		t.Fatal(err)
	}
	rows := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(rows) != len(lines) {
		t.Fatalf("%d rows, %d records", len(rows), len(lines))
	}
	for i, row := range rows {
		var got map[string]any
		json.Unmarshal([]byte(row), &got)
		got = columnsAsJSON(got).(map[string]any)
		if !reflect.DeepEqual(got, lines[i]) {
			g, _ := json.Marshal(got)
			w, _ := json.Marshal(lines[i])
			t.Errorf("row %d:\n columns %s\n json    %s", i+1, g, w)
		}
	}
}

// stripDerived drops the captions the plan derives (type beside type_id),
// which the expectations leave out.
func stripDerived(v any) any {
	if l, ok := v.([]any); ok {
		for _, e := range l {
			if m, ok := e.(map[string]any); ok {
				delete(m, "type")
			}
		}
	}
	return v
}

// columnsAsJSON turns a row as Arrow writes it as JSON into the record's
// JSON: null fields dropped, json_t columns (JSON text) parsed.
func columnsAsJSON(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			if e == nil {
				delete(x, k)
				continue
			}
			x[k] = columnsAsJSON(e)
		}
	case []any:
		for i, e := range x {
			x[i] = columnsAsJSON(e)
		}
	case string:
		var parsed any
		if (strings.HasPrefix(x, "{") || strings.HasPrefix(x, "[")) && json.Unmarshal([]byte(x), &parsed) == nil {
			return parsed
		}
	}
	return v
}
