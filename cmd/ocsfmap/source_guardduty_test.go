package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"
)

const guardDutyMapping = "../../mappings/aws-guardduty/detection_finding_1.1.0.yaml"

// TestGuardDutySamplesToValidLake runs the GuardDuty mapping over the public
// samples as they come: an EventBridge event, get-findings output of the CLI
// ({"Findings": […]}, PascalCase) and of the CLI again gzip-compressed, plus an empty envelope and an event of another source.
// Every finding is written, none dead-lettered, the other event filtered; the lake passes ocsfmap validate; and each record that map
// --validate full accepts comes back from the lake, read with pqarrow, equal
// to it once nulls are dropped.
func TestGuardDutySamplesToValidLake(t *testing.T) {
	samples, err := filepath.Glob("../../testdata/aws-guardduty/*.json*")
	if err != nil || len(samples) < 4 {
		t.Fatalf("samples: %v %v", samples, err)
	}
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty-findings.json")
	if err := os.WriteFile(empty, []byte(`{"Findings": []}`+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	// An event of another source on the same EventBridge bus: left out on
	// purpose (drop_when), counted as filtered.
	other := filepath.Join(dir, "other-source.json")
	if err := os.WriteFile(other, []byte(`{"version": "0", "id": "e-1", "detail-type": "Object Created", "source": "aws.s3", "region": "us-east-1", "detail": {"bucket": {"name": "b"}}}`+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	inputs := append(samples, empty, other)

	mapDead := filepath.Join(dir, "map-dead.ndjson")
	out, stderr, code := ocsfmap(t, nil, append([]string{"map", "-m", guardDutyMapping, "--validate", "full", "--strict", "--dead-letter", mapDead}, inputs...)...)
	if code != 0 || !strings.Contains(stderr, "read 5, written 4, dead-lettered 0, filtered 1") {
		t.Fatalf("map: exit %d\n%s", code, stderr)
	}
	if _, err := os.Stat(mapDead); !os.IsNotExist(err) {
		t.Fatalf("map wrote dead letters: %s", readFile(t, mapDead))
	}
	want := map[string]map[string]any{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		rec := dropNullFields(decodeRecord(t, []byte(line)))
		want[findingUID(t, rec)] = rec
	}

	lake := filepath.Join(dir, "lake")
	if _, stderr, code := ocsfmap(t, nil, append([]string{"run", "-m", guardDutyMapping, "-o", lake, "--dead-letter", filepath.Join(dir, "run-dead.ndjson")}, inputs...)...); code != 0 ||
		!strings.Contains(stderr, "read 5, written 4, dead-lettered 0, filtered 1") {
		t.Fatalf("run: exit %d\n%s", code, stderr)
	}
	if stdout, stderr, code := ocsfmap(t, nil, "validate", lake); code != 0 || stdout != "" || !strings.Contains(stderr, "4 records, 0 invalid, 0 problems") {
		t.Fatalf("validate: exit %d\n%s%s", code, stdout, stderr)
	}

	got := map[string]map[string]any{}
	for _, f := range parquetFiles(t, lake) {
		if !strings.Contains(f, "/ext/aws-guardduty/region=us-east-") {
			t.Errorf("not the Security Lake layout: %s", f)
		}
		for _, rec := range lakeRecords(t, f) {
			got[findingUID(t, rec)] = rec
		}
	}
	for uid, rec := range got {
		got[uid] = asMapWrites(t, rec, want[uid]).(map[string]any)
	}
	if len(got) != len(want) {
		t.Fatalf("%d findings in the lake, %d from map", len(got), len(want))
	}
	uids := make([]string, 0, len(want))
	for uid := range want {
		uids = append(uids, uid)
	}
	sort.Strings(uids)
	for _, uid := range uids {
		if !reflect.DeepEqual(got[uid], want[uid]) {
			g, _ := json.Marshal(got[uid])
			w, _ := json.Marshal(want[uid])
			t.Errorf("%s:\n lake %s\n  map %s", uid, g, w)
		}
	}

	// Several resources per finding (each S3 bucket) are covered by the
	// mapping tests, for want of a public sample with more than one.
	probe := got["arn:aws:guardduty:us-east-1:726064622671:detector/a8b006e056e2d054c79f0a8f26820e00/finding/c0b069a09b9f39764cf3d9e44251e079"]
	if ev, _ := probe["evidences"].([]any); len(ev) != 2 {
		t.Errorf("evidences of the port probe (two hosts): %v", probe["evidences"])
	}
}

func findingUID(t *testing.T, rec map[string]any) string {
	t.Helper()
	fi, _ := rec["finding_info"].(map[string]any)
	uid, _ := fi["uid"].(string)
	if uid == "" {
		t.Fatalf("record without finding_info.uid: %v", rec)
	}
	return uid
}

// asMapWrites undoes the two ways the lake writes a value differently from
// map, so the records compare: a json_t attribute (unmapped, data) is a JSON
// text column, decoded here where map has an object or a list; and a *_dt
// timestamp column prints without trailing zeros (".75Z", not ".750Z").
func asMapWrites(t *testing.T, got, want any) any {
	t.Helper()
	switch w := want.(type) {
	case map[string]any:
		if text, ok := got.(string); ok {
			d := json.NewDecoder(bytes.NewReader([]byte(text)))
			d.UseNumber()
			var v map[string]any
			if err := d.Decode(&v); err != nil {
				t.Fatalf("json_t column %q: %v", text, err)
			}
			return dropNullFields(v)
		}
		g, ok := got.(map[string]any)
		if !ok {
			return got
		}
		for k, gv := range g {
			if wt, ok := w[k].(string); ok && strings.HasSuffix(k, "_dt") {
				if gt, ok := gv.(string); ok && sameInstant(gt, wt) {
					g[k] = wt
				}
				continue
			}
			g[k] = asMapWrites(t, gv, w[k])
		}
		return g
	case []any:
		g, ok := got.([]any)
		if !ok || len(g) != len(w) {
			return got
		}
		for i := range g {
			g[i] = asMapWrites(t, g[i], w[i])
		}
		return g
	}
	return got
}

func sameInstant(a, b string) bool {
	ta, err1 := time.Parse(time.RFC3339Nano, a)
	tb, err2 := time.Parse(time.RFC3339Nano, b)
	return err1 == nil && err2 == nil && ta.Equal(tb)
}
