package main

import (
	"bytes"
	"encoding/json"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// shapesMapping has an indexed list with a gap (observables[0] skipped by
// its when:), rules that yield empty lists, and objects that may have
// nothing set (evidences[0], an empty json_t, an empty unmapped).
const shapesMapping = `format: ocsfmap/v1
mapping: test/shapes
version: 1.0.0
description: lists with gaps, empty lists, empty objects
ocsf: {version: 1.3.0, class: detection_finding, profiles: [cloud]}
partition:
  region: cloud.region
  account: cloud.account.uid
on_error: dead_letter
fields:
  time: {value: 1793527200000}
  activity_id: {value: 1}
  severity_id: {value: 1}
  metadata.product.name: {value: p}
  metadata.product.vendor_name: {value: v}
  cloud.provider: {value: AWS}
  cloud.region: {value: us-east-1}
  cloud.account.uid: {value: "123456789012"}
  finding_info.uid: {from: id}
  finding_info.title: {value: t}
  finding_info.types: {from: types}
  observables[0].name: {from: a, when: 'a != nil'}
  observables[0].type_id: {value: 1, when: 'a != nil'}
  observables[1].name: {from: b}
  observables[1].type_id: {value: 1}
  resources: {expr: '[]'}
  evidences[0].process.name: {from: pname}
  evidences[0].process.pid: {from: pid}
  evidences[0].data: {from: data}
  unmapped.extra: {from: extra}
`

const shapesInput = `{"id":"A","b":"x","types":[],"data":{},"extra":{}}
{"id":"B","a":"q","b":"y","types":["t1"],"pname":"sh","pid":7,"data":{"k":1},"extra":[]}
{"id":"C","b":"z","types":[],"data":[],"extra":{"k":[]}}
`

// TestListsCompactedAndEmptiesOmitted (issue 19): map and run agree on lists
// with gaps, empty lists and empty objects. The NDJSON has no null element,
// no [] and no {}; the lake read back holds the same records, and both are
// valid OCSF (the lake had null elements: "/observables/0: got null").
func TestListsCompactedAndEmptiesOmitted(t *testing.T) {
	dir := t.TempDir()
	mapping, in := filepath.Join(dir, "m.yaml"), filepath.Join(dir, "in.ndjson")
	os.WriteFile(mapping, []byte(shapesMapping), 0o644)
	os.WriteFile(in, []byte(shapesInput), 0o644)

	stdout, stderr, code := ocsfmap(t, nil, "map", "--validate", "full", "-m", mapping, in)
	if code != 0 || !strings.Contains(stderr, "written 3, dead-lettered 0") {
		t.Fatalf("map: exit %d\n%s", code, stderr)
	}
	var mapped []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(stdout), "\n") {
		var doc map[string]any
		if err := json.Unmarshal([]byte(line), &doc); err != nil {
			t.Fatal(err)
		}
		// An open object's content is the source's: C's {"k": []} stays.
		ocsf := maps.Clone(doc)
		delete(ocsf, "unmapped")
		if b, _ := json.Marshal(ocsf); bytes.Contains(b, []byte("null")) || bytes.Contains(b, []byte("[]")) || bytes.Contains(b, []byte("{}")) {
			t.Errorf("map wrote a null, [] or {}: %s", line)
		}
		mapped = append(mapped, doc)
	}
	wantObservables := map[string]string{"A": `[{"name":"x","type":"Hostname","type_id":1}]`,
		"B": `[{"name":"q","type":"Hostname","type_id":1},{"name":"y","type":"Hostname","type_id":1}]`,
		"C": `[{"name":"z","type":"Hostname","type_id":1}]`}
	for _, doc := range mapped {
		uid := doc["finding_info"].(map[string]any)["uid"].(string)
		if got, _ := json.Marshal(doc["observables"]); string(got) != wantObservables[uid] {
			t.Errorf("%s: observables %s, want %s", uid, got, wantObservables[uid])
		}
		_, ev := doc["evidences"]
		_, un := doc["unmapped"]
		if ev != (uid == "B") || un != (uid == "C") {
			t.Errorf("%s: evidences %v, unmapped %v", uid, doc["evidences"], doc["unmapped"])
		}
	}

	lake := filepath.Join(dir, "lake")
	if _, stderr, code := ocsfmap(t, nil, "run", "-q", "-m", mapping, "-o", lake, in); code != 0 {
		t.Fatalf("run: exit %d\n%s", code, stderr)
	}
	if stdout, stderr, code := ocsfmap(t, nil, "validate", lake); code != 0 || !strings.Contains(stderr, " 0 problems") {
		t.Fatalf("validate: exit %d\n%s%s", code, stdout, stderr)
	}
	files := parquetFiles(t, lake)
	if len(files) != 1 {
		t.Fatalf("%d files", len(files))
	}
	stored := lakeDocs(t, files[0])
	if len(stored) != len(mapped) {
		t.Fatalf("%d rows in the lake, %d mapped", len(stored), len(mapped))
	}
	for i, doc := range mapped {
		for k, want := range doc {
			got := stored[i][k]
			if !reflect.DeepEqual(got, want) {
				g, _ := json.Marshal(got)
				w, _ := json.Marshal(want)
				t.Errorf("row %d: %s: lake %s, map %s", i+1, k, g, w)
			}
		}
		for k := range stored[i] {
			if _, ok := doc[k]; !ok {
				t.Errorf("row %d: %s is in the lake only: %v", i+1, k, stored[i][k])
			}
		}
	}
}

// lakeDocs reads a Parquet file back as JSON documents with pqarrow: nulls
// dropped, JSON text (json_t, open objects) parsed, as the map NDJSON has it.
func lakeDocs(t *testing.T, path string) []map[string]any {
	t.Helper()
	var docs []map[string]any
	for _, line := range lakeJSON(t, path) {
		var doc map[string]any
		if err := json.Unmarshal(line, &doc); err != nil {
			t.Fatal(err)
		}
		docs = append(docs, dropNulls(doc).(map[string]any))
	}
	return docs
}

func dropNulls(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			if e == nil {
				delete(x, k)
				continue
			}
			x[k] = dropNulls(e)
		}
	case []any:
		for i, e := range x {
			x[i] = dropNulls(e)
		}
	case string:
		// JSON columns hold an object or array as text.
		if strings.HasPrefix(x, "{") || strings.HasPrefix(x, "[") {
			var parsed any
			if json.Unmarshal([]byte(x), &parsed) == nil {
				return parsed
			}
		}
	}
	return v
}
