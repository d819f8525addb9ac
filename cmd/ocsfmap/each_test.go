package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
)

// TestEachInTheLake: a one-to-many rule (each: with its field table) puts
// every element of an input array into the lake as an element of a list of
// structs, equal to what map writes, in an envelope input as CloudTrail
// and GuardDuty deliver them; ocsfmap validate finds the lake valid.
func TestEachInTheLake(t *testing.T) {
	dir := t.TempDir()
	mapping := filepath.Join(dir, "each.yaml")
	in := filepath.Join(dir, "page.json")
	src := strings.Replace(objectsMapping, `  resources:
    expr: 'res == nil ? nil : map(res, ({"uid": #.arn, "type": #.type, "owner": {"name": #.owner, "type_id": #.owner_type}, "labels": #.labels}))'
  vulnerabilities[0].cve: {from: cve}
`, `  resources:
    each: res
    when: '#.arn != nil'
    fields:
      uid: {from: arn}
      type: {from: type, default: unknown}
      owner.name: {from: owner}
      owner.type_id: {from: owner_type}
      labels: {from: labels}
`, 1)
	src = strings.Replace(src, "partition:", "input: {records: [items]}\npartition:", 1)
	page := `{"items": [
  {"t": 1793528130, "id": "a", "region": "us-east-1", "account": "123456789012", "res": [{"arn": "arn:1", "type": "bucket", "owner": "alice", "owner_type": 1, "labels": ["x", "y"]}, {"arn": "arn:2"}, {"type": "no arn"}, {"arn": "arn:3", "type": "role"}]},
  {"t": 1793528131, "id": "b", "region": "us-east-1", "account": "123456789012"}
]}`
	for p, text := range map[string]string{mapping: src, in: page} {
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	out, stderr, code := ocsfmap(t, nil, "map", "-m", mapping, "--validate", "full", "--strict", in)
	if code != 0 || !strings.Contains(stderr, "read 2, written 2") {
		t.Fatalf("map: exit %d\n%s", code, stderr)
	}
	var want []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		want = append(want, decodeRecord(t, []byte(line)))
	}
	if res, _ := want[0]["resources"].([]any); len(res) != 3 {
		t.Fatalf("resources of a: %v, want the three elements with an arn", want[0]["resources"])
	}
	lake := filepath.Join(dir, "lake")
	if _, stderr, code := ocsfmap(t, nil, "run", "-m", mapping, "-o", lake, "--strict", in); code != 0 {
		t.Fatalf("run: exit %d\n%s", code, stderr)
	}
	if stdout, stderr, code := ocsfmap(t, nil, "validate", lake); code != 0 || stdout != "" || !strings.Contains(stderr, " 0 problems") {
		t.Fatalf("validate: exit %d\n%s%s", code, stdout, stderr)
	}
	files := parquetFiles(t, lake)
	got := lakeRecords(t, files[0])
	sort.Slice(got, func(i, j int) bool { return got[i]["time"].(json.Number) < got[j]["time"].(json.Number) })
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("lake:\n%v\nmap:\n%v", got, want)
	}
}
