package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
)

// objectsMapping sets resources (a list of objects) and a nested object
// from expressions: object literals, and objects as the data has them.
const objectsMapping = `format: ocsfmap/v1
mapping: t/objects
version: 1.0.0
ocsf: {version: 1.1.0, class: security_finding, profiles: [cloud]}
partition:
  region: {from: region}
  account: {from: account}
fields:
  time: {expr: 'epoch_ms(t)'}
  activity_id: {value: 1}
  state_id: {value: 1}
  severity_id: {value: 1}
  finding.uid: {from: id}
  finding.title: {value: x}
  cloud.provider: {value: AWS}
  cloud.region: {from: region}
  cloud.account.uid: {from: account}
  metadata.product.vendor_name: {value: v}
  metadata.product.name: {value: p}
  resources:
    expr: 'res == nil ? nil : map(res, ({"uid": #.arn, "type": #.type, "owner": {"name": #.owner, "type_id": #.owner_type}, "labels": #.labels}))'
  vulnerabilities[0].cve: {from: cve}
`

const objectsInput = `{"t": 1793528130, "id": "a", "region": "us-east-1", "account": "123456789012", "res": [{"arn": "arn:1", "type": "bucket", "owner": "alice", "owner_type": 1, "labels": ["x", "y"]}, {"arn": "arn:2", "type": "role"}]}
{"t": 1793528131, "id": "b", "region": "us-east-1", "account": "123456789012", "res": [{"arn": "arn:3"}], "cve": {"uid": "CVE-2024-1", "cvss": [{"version": "3.1", "base_score": 7.5}], "references": ["https://example.com"]}}
{"t": 1793528132, "id": "c", "region": "us-east-1", "account": "123456789012"}
{"t": 1793528133, "id": "d", "region": "us-east-1", "account": "123456789012", "res": [{"arn": "arn:4"}], "cve": {"uid": "CVE-2024-2", "cvsss": []}}
`

// TestObjectsFromExpressionsInTheLake: objects built by expressions are
// structs in the lake, not JSON strings: each record run writes, read back
// with pqarrow, is the record map writes (nulls aside), and ocsfmap validate
// finds the lake valid. A key the OCSF object lacks is a dead letter under
// the default checks, naming the rule and the value's JSON pointer.
func TestObjectsFromExpressionsInTheLake(t *testing.T) {
	dir := t.TempDir()
	mapping := filepath.Join(dir, "objects.yaml")
	in := filepath.Join(dir, "in.ndjson")
	for p, text := range map[string]string{mapping: objectsMapping, in: objectsInput} {
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}

	mapDead := filepath.Join(dir, "map-dead.ndjson")
	out, stderr, code := ocsfmap(t, nil, "map", "-m", mapping, "--validate", "full", "--dead-letter", mapDead, in)
	if code != 0 || !strings.Contains(stderr, "read 4, written 3, dead-lettered 1") {
		t.Fatalf("map: exit %d\n%s", code, stderr)
	}
	var dead map[string]any
	if err := json.Unmarshal([]byte(readFile(t, mapDead)), &dead); err != nil {
		t.Fatal(err)
	}
	if dead["code"] != "R402" || !strings.HasPrefix(dead["rule"].(string), mapping+":22:") || dead["line"] != 4.0 ||
		!strings.HasPrefix(dead["reason"].(string), `/vulnerabilities/0/cve/cvsss: cve has no attribute "cvsss" (did you mean "cvss"?)`) {
		t.Fatalf("dead letter: %v", dead)
	}
	var want []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		want = append(want, decodeRecord(t, []byte(line)))
	}

	lake := filepath.Join(dir, "lake")
	runDead := filepath.Join(dir, "run-dead.ndjson")
	if _, stderr, code := ocsfmap(t, nil, "run", "-m", mapping, "-o", lake, "--dead-letter", runDead, in); code != 0 ||
		!strings.Contains(stderr, "read 4, written 3, dead-lettered 1") {
		t.Fatalf("run: exit %d\n%s", code, stderr)
	}
	if stdout, stderr, code := ocsfmap(t, nil, "validate", lake); code != 0 || stdout != "" || !strings.Contains(stderr, " 0 problems") {
		t.Fatalf("validate: exit %d\n%s%s", code, stdout, stderr)
	}

	files := parquetFiles(t, lake)
	if len(files) != 1 {
		t.Fatalf("%d files", len(files))
	}
	got := lakeRecords(t, files[0])
	sort.Slice(got, func(i, j int) bool { return got[i]["time"].(json.Number) < got[j]["time"].(json.Number) })
	if len(got) != len(want) {
		t.Fatalf("%d lake records, %d from map", len(got), len(want))
	}
	for i := range want {
		if !reflect.DeepEqual(got[i], want[i]) {
			t.Errorf("record %d:\n lake %v\n  map %v", i, got[i], want[i])
		}
	}
	if res, _ := got[0]["resources"].([]any); len(res) != 2 {
		t.Fatalf("resources of the first record: %v", got[0]["resources"])
	}
}

// lakeRecords reads a Parquet file with pqarrow as JSON records, nulls left
// out as map leaves them out.
func lakeRecords(t *testing.T, path string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, line := range lakeJSON(t, path) {
		out = append(out, dropNullFields(decodeRecord(t, line)))
	}
	return out
}

// lakeJSON reads a Parquet file with pqarrow (checking that every buffer is
// released) as JSON lines, one a row, as arrow writes them.
func lakeJSON(t *testing.T, path string) [][]byte {
	t.Helper()
	var buf bytes.Buffer
	withParquetTable(t, path, func(tbl arrow.Table) {
		tr := array.NewTableReader(tbl, 1024)
		defer tr.Release()
		for tr.Next() {
			if err := array.RecordToJSON(tr.RecordBatch(), &buf); err != nil {
				t.Fatal(err)
			}
		}
	})
	if buf.Len() == 0 {
		return nil
	}
	return bytes.Split(bytes.TrimSpace(buf.Bytes()), []byte("\n"))
}

// withParquetTable reads a whole Parquet file with pqarrow and hands the
// table to use; the allocator is checked for leaks once use returns.
func withParquetTable(t *testing.T, path string, use func(arrow.Table)) {
	t.Helper()
	mem := memory.NewCheckedAllocator(memory.DefaultAllocator)
	defer mem.AssertSize(t, 0)
	f, err := file.OpenParquetFile(path, false)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := pqarrow.NewFileReader(f, pqarrow.ArrowReadProperties{}, mem)
	if err != nil {
		t.Fatal(err)
	}
	tbl, err := r.ReadTable(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer tbl.Release()
	use(tbl)
}

func decodeRecord(t *testing.T, b []byte) map[string]any {
	t.Helper()
	var m map[string]any
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	if err := d.Decode(&m); err != nil {
		t.Fatalf("%v: %s", err, b)
	}
	return m
}

func dropNullFields(m map[string]any) map[string]any {
	for k, v := range m {
		switch x := v.(type) {
		case nil:
			delete(m, k)
		case map[string]any:
			dropNullFields(x)
		case []any:
			for _, e := range x {
				if em, ok := e.(map[string]any); ok {
					dropNullFields(em)
				}
			}
		}
	}
	return m
}
