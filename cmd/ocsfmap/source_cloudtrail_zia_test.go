package main

import (
	"compress/gzip"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// sourceRun is one shipped mapping run over real public samples: what run
// must write, filter and dead-letter.
type sourceRun struct {
	mapping  string
	source   string // the custom source (lake prefix ext/<source>/)
	written  int
	filtered int
	// perClass is map's count per class of a mapping with classes; run
	// writes each class under ext/<source>/<class>/.
	perClass string
}

// TestCloudTrailAndZIASamplesInTheLake runs the AWS CloudTrail and Zscaler ZIA
// mappings over their real samples (testdata/*/SOURCES) as run delivers them:
// CloudTrail log files as {"Records":[…]} documents, plain and gzip, single
// events and EventBridge events; ZIA NSS feeds in two templates. Every record
// is written (or filtered on purpose), validate finds the lake valid, and every
// record map --validate full accepts comes back from the lake equal. CloudTrail
// is one mapping with two classes: map writes each event in its class, run
// each class's files under a folder of their own.
func TestCloudTrailAndZIASamplesInTheLake(t *testing.T) {
	dir := t.TempDir()
	envelope := "../../testdata/aws-cloudtrail/awsdocs-log-file-examples.json"
	gz := filepath.Join(dir, "123456789012_CloudTrail_us-east-2_20140306T2125Z_example.json.gz")
	gzipCopy(t, envelope, gz)
	cloudtrail := []string{envelope, gz,
		"../../testdata/aws-cloudtrail/awsdocs-sign-in-events.json",
		"../../testdata/aws-cloudtrail/elastic-console-login.ndjson",
		"../../testdata/aws-cloudtrail/elastic-api-calls.ndjson",
		"../../testdata/aws-cloudtrail/eventbridge-iam.ndjson",
	}
	zia := []string{
		"../../testdata/zscaler-zia/elastic-web.ndjson",
		"../../testdata/zscaler-zia/elastic-web-cloud-nss-v9.ndjson",
	}
	for _, c := range []struct {
		inputs []string
		runs   []sourceRun
	}{
		// 29 CloudTrail events: 20 API calls, 9 console sign-ins, each in its class.
		{cloudtrail, []sourceRun{
			{mapping: "../../mappings/aws-cloudtrail/cloudtrail_1.1.0.yaml", source: "cloudtrail", written: 29,
				perClass: "written per class: api_activity 20, authentication 9"},
		}},
		{zia, []sourceRun{
			{mapping: "../../mappings/zscaler-zia/http_activity_1.1.0.yaml", source: "zscaler-zia-web", written: 9},
		}},
	} {
		for _, r := range c.runs {
			t.Run(filepath.Base(filepath.Dir(r.mapping))+"/"+filepath.Base(r.mapping), func(t *testing.T) {
				checkSourceRun(t, dir, r, c.inputs)
			})
		}
	}
}

func checkSourceRun(t *testing.T, dir string, r sourceRun, inputs []string) {
	t.Helper()
	counts := fmt.Sprintf("read %d, written %d, dead-lettered 0, filtered %d", r.written+r.filtered, r.written, r.filtered)
	mapDead := filepath.Join(dir, r.source+"-map-dead.ndjson")
	out, stderr, code := ocsfmap(t, nil, append([]string{"map", "-m", r.mapping, "--validate", "full", "--strict",
		"--dead-letter", mapDead}, inputs...)...)
	if code != 0 || !strings.Contains(stderr, counts) {
		t.Fatalf("map: exit %d, want %q\n%s", code, counts, stderr)
	}
	var want []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		want = append(want, decodeRecord(t, []byte(line)))
	}
	if r.perClass != "" {
		if !strings.Contains(stderr, r.perClass) {
			t.Fatalf("map: want %q\n%s", r.perClass, stderr)
		}
		for _, rec := range want {
			op, _ := rec["api"].(map[string]any)
			if login := rec["class_uid"] == json.Number("3002"); login == (op != nil) {
				t.Errorf("a record of the wrong class: %v", rec)
			}
		}
	}

	lake := filepath.Join(dir, "lake-"+r.source)
	args := []string{"run", "-m", r.mapping, "-o", lake, "--source", r.source, "--strict",
		"--dead-letter", filepath.Join(dir, r.source+"-run-dead.ndjson")}
	if _, stderr, code := ocsfmap(t, nil, append(args, inputs...)...); code != 0 || !strings.Contains(stderr, counts) {
		t.Fatalf("run: exit %d, want %q\n%s", code, counts, stderr)
	}
	if stdout, stderr, code := ocsfmap(t, nil, "validate", lake); code != 0 || stdout != "" || !strings.Contains(stderr, " 0 problems") {
		t.Fatalf("validate: exit %d\n%s%s", code, stdout, stderr)
	}

	var got []map[string]any
	files := parquetFiles(t, lake)
	for _, f := range files {
		if !strings.Contains(filepath.ToSlash(f), "/ext/"+r.source+"/") {
			t.Errorf("%s is not under the custom source's prefix ext/%s/", f, r.source)
		}
		recs := lakeRecords(t, f)
		if r.perClass != "" {
			// One class per file, in its class's folder.
			class := map[bool]string{true: "authentication", false: "api_activity"}[recs[0]["class_uid"] == json.Number("3002")]
			for _, rec := range recs {
				if rec["class_uid"] != recs[0]["class_uid"] || !strings.Contains(filepath.ToSlash(f), "/ext/"+r.source+"/"+class+"/") {
					t.Errorf("%s holds a record of class %v", f, rec["class_uid"])
				}
			}
		}
		got = append(got, recs...)
	}
	if len(got) != len(want) {
		t.Fatalf("%d lake records in %d files, %d from map", len(got), len(files), len(want))
	}
	// Pair each lake record with an equal one from map (files and partitions
	// reorder them; the samples hold duplicates, so each is used once).
	used := make([]bool, len(want))
	for _, g := range got {
		found := false
		for j := range want {
			if !used[j] && reflect.DeepEqual(asMapWrites(t, g, want[j]), want[j]) {
				used[j], found = true, true
				break
			}
		}
		if !found {
			t.Errorf("lake record not written by map: %v", g)
		}
	}
}

func gzipCopy(t *testing.T, src, dst string) {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(dst)
	if err != nil {
		t.Fatal(err)
	}
	zw := gzip.NewWriter(f)
	if _, err := zw.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

type byKey struct {
	recs []map[string]any
	keys []string
}

func (b byKey) Len() int           { return len(b.recs) }
func (b byKey) Less(i, j int) bool { return b.keys[i] < b.keys[j] }
func (b byKey) Swap(i, j int) {
	b.recs[i], b.recs[j] = b.recs[j], b.recs[i]
	b.keys[i], b.keys[j] = b.keys[j], b.keys[i]
}
