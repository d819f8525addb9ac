package columnar

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/ocsfmap/ocsfmap/engine/plan"
	"github.com/ocsfmap/ocsfmap/engine/spec"
)

const objectsHeader = `format: ocsfmap/v1
mapping: t/objects
version: 1.0.0
ocsf: {version: 1.1.0, class: security_finding, profiles: [cloud, datetime]}
fields:
  time: {expr: 'epoch_ms(t)'}
  activity_id: {value: 1}
  state_id: {value: 1}
  severity_id: {value: 1}
  finding.uid: {from: id}
  finding.title: {value: x}
  cloud.provider: {value: AWS}
  metadata.product.vendor_name: {value: v}
  metadata.product.name: {value: p}
`

func compilePlan(t *testing.T, fields string) *plan.Plan {
	t.Helper()
	m, diags := spec.Parse(filepath.Join(t.TempDir(), "m.yaml"), []byte(objectsHeader+fields))
	if diags.HasErrors() {
		t.Fatal(diags.Render())
	}
	p, diags := plan.Compile(m)
	if diags.HasErrors() {
		t.Fatal(diags.Render())
	}
	return p
}

// TestWholeObjectColumns: objects set as a whole by an expression are
// structs of the object's attributes, typed as rules setting those
// attributes one by one type them (never JSON strings), and a batch holds
// what the plan's own JSON record holds.
func TestWholeObjectColumns(t *testing.T) {
	whole := compilePlan(t, `  resources:
    expr: 'res == nil ? nil : map(res, ({"uid": #.arn, "type": #.type, "owner": #.owner, "labels": #.labels, "data": #.data}))'
  vulnerabilities[0].cve: {from: cve}
  process.file: {expr: 'file'}
  process.pid: {value: 1}
`)
	byRule := compilePlan(t, `  resources[0].uid: {from: a}
  resources[0].type: {from: a}
  resources[0].labels: {from: a}
  resources[0].data: {from: a}
  resources[0].owner.name: {from: a}
  resources[0].owner.type_id: {from: n}
  resources[0].owner.account.uid: {from: a}
  resources[0].owner.groups: {from: a}
  vulnerabilities[0].cve.uid: {from: a}
  vulnerabilities[0].cve.created_time: {from: n}
  vulnerabilities[0].cve.cvss[0].base_score: {from: n}
  vulnerabilities[0].cve.cvss[0].version: {from: a}
  process.file.name: {from: a}
  process.file.type_id: {from: n}
  process.file.modified_time_dt: {from: a}
  process.file.hashes[0].value: {from: a}
  process.file.hashes[0].algorithm_id: {from: n}
  process.pid: {value: 1}
`)
	ws, rs := ArrowSchema(whole.Root), ArrowSchema(byRule.Root)
	for _, name := range []string{"resources", "vulnerabilities", "process"} {
		wf, _ := ws.FieldsByName(name)
		rf, _ := rs.FieldsByName(name)
		if len(wf) != 1 || len(rf) != 1 {
			t.Fatalf("%s: no column", name)
		}
		if err := typeWithin(rf[0].Type, wf[0].Type, name); err != "" {
			t.Errorf("%s\n rules: %s\n whole: %s", err, rf[0].Type, wf[0].Type)
		}
	}

	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	b := NewBuilder(mem, whole.Root)
	defer b.Release()
	m := whole.NewMapper()
	var want []string
	for _, in := range []string{
		`{"t": 1793528130, "id": "a", "res": [{"arn": "arn:1", "type": "bucket", "owner": {"name": "al", "type_id": 1, "groups": [{"name": "g"}]}, "labels": ["x"], "data": {"k": [1, "v"]}}, {"arn": "arn:2"}], "cve": {"uid": "CVE-1", "created_time": 1793528130000, "cvss": [{"version": "3.1", "base_score": 9.8}]}, "file": {"name": "f", "type_id": 1, "modified_time_dt": "2026-10-31T08:15:30.5Z", "hashes": [{"algorithm_id": 1, "value": "ab"}]}}`,
		`{"t": 1793528131, "id": "b"}`,
		`{"t": 1793528132, "id": "c", "res": [{"arn": "arn:3", "owner": {}}]}`,
	} {
		rec, err := m.Map([]byte(in))
		if err != nil {
			t.Fatalf("%s: %v", in, err)
		}
		want = append(want, string(m.AppendJSON(nil)))
		b.Append(rec)
	}
	if b.Mismatched() != 0 {
		t.Fatalf("%d mismatched values", b.Mismatched())
	}
	batch := b.NewRecordBatch()
	defer batch.Release()
	var buf bytes.Buffer
	if err := array.RecordToJSON(batch, &buf); err != nil {
		t.Fatal(err)
	}
	rows := strings.Split(strings.TrimSpace(buf.String()), "\n")
	for i, row := range rows {
		got, exp := dropNulls(decode(t, row)), decode(t, want[i])
		// Where the batch's JSON differs from OCSF JSON by design: a json_t
		// column holds JSON text, and Arrow writes timestamps its own way.
		res, _ := got["resources"].([]any)
		for _, r := range res {
			if d, ok := r.(map[string]any)["data"].(string); ok {
				r.(map[string]any)["data"] = decode(t, `{"v":`+d+`}`)["v"]
			}
		}
		msDatetimes(got)
		msDatetimes(exp)
		if !reflect.DeepEqual(got, exp) {
			t.Errorf("row %d:\nbatch %v\n plan %v", i, got, exp)
		}
	}
}

// typeWithin reports where a struct type rules give is not part of the
// type an object set as a whole gets: every field of the one must be in
// the other, with the same type.
func typeWithin(part, whole arrow.DataType, path string) string {
	switch p := part.(type) {
	case *arrow.StructType:
		w, ok := whole.(*arrow.StructType)
		if !ok {
			return path + ": not a struct"
		}
		for _, f := range p.Fields() {
			i, ok := w.FieldIdx(f.Name)
			if !ok {
				return path + "." + f.Name + ": missing"
			}
			if err := typeWithin(f.Type, w.Field(i).Type, path+"."+f.Name); err != "" {
				return err
			}
		}
		return ""
	case *arrow.ListType:
		w, ok := whole.(*arrow.ListType)
		if !ok {
			return path + ": not a list"
		}
		return typeWithin(p.Elem(), w.Elem(), path+"[]")
	}
	if !arrow.TypeEqual(part, whole) {
		return path + ": " + part.String() + " vs " + whole.String()
	}
	return ""
}

func decode(t *testing.T, s string) map[string]any {
	t.Helper()
	var m map[string]any
	d := json.NewDecoder(strings.NewReader(s))
	d.UseNumber()
	if err := d.Decode(&m); err != nil {
		t.Fatalf("%v: %s", err, s)
	}
	return m
}

// msDatetimes turns datetime_t values (X_dt) into ms since the epoch.
func msDatetimes(m map[string]any) {
	for k, v := range m {
		switch x := v.(type) {
		case string:
			if ts, err := time.Parse(time.RFC3339Nano, x); err == nil && strings.HasSuffix(k, "_dt") {
				m[k] = ts.UnixMilli()
			}
		case map[string]any:
			msDatetimes(x)
		case []any:
			for _, e := range x {
				if em, ok := e.(map[string]any); ok {
					msDatetimes(em)
				}
			}
		}
	}
}

// dropNulls removes null fields, as the plan's JSON leaves them out.
func dropNulls(m map[string]any) map[string]any {
	for k, v := range m {
		switch x := v.(type) {
		case nil:
			delete(m, k)
		case map[string]any:
			dropNulls(x)
		case []any:
			for _, e := range x {
				if em, ok := e.(map[string]any); ok {
					dropNulls(em)
				}
			}
		}
	}
	return m
}
