package conformance

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/ocsfmap/ocsfmap/engine/plan"
)

// validRecords maps the sample alerts with a shipped mapping: records the
// engine writes, so valid by construction (and by its own tests).
func validRecords(t testing.TB, mapping string, n int) []map[string]any {
	t.Helper()
	p, diags := plan.Load(filepath.Join("..", "..", "mappings", "zscaler-dspm", mapping))
	if diags.HasErrors() {
		t.Fatal(diags.Render())
	}
	f, err := os.Open(filepath.Join("..", "..", "testdata", "dspm", "alerts.ndjson"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	m := p.NewMapper()
	var out []map[string]any
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() && len(out) < n {
		if _, err := m.Map(sc.Bytes()); err != nil {
			continue
		}
		var rec map[string]any
		d := json.NewDecoder(bytes.NewReader(m.AppendJSON(nil)))
		d.UseNumber()
		if err := d.Decode(&rec); err != nil {
			t.Fatal(err)
		}
		out = append(out, rec)
	}
	if len(out) < n {
		t.Fatalf("%s: only %d records", mapping, len(out))
	}
	return out
}

// fault breaks one record in one way; want lists every problem the record
// must then have, as "rule pointer".
type fault struct {
	name  string
	apply func(r map[string]any)
	want  []string
}

var faults = []fault{
	{"enum", func(r map[string]any) { r["severity_id"] = json.Number("42") }, []string{"enum /severity_id"}},
	{"type", func(r map[string]any) { r["time"] = "yesterday" }, []string{"type /time"}},
	{"required", func(r map[string]any) {
		delete(r["finding_info"].(map[string]any), "uid")
	}, []string{"required /finding_info/uid"}},
	{"constraint", func(r map[string]any) {
		r["resources"].([]any)[0].(map[string]any)["owner"] = map[string]any{"type_id": json.Number("0")}
	}, []string{"at_least_one /resources/0/owner"}},
	{"caption", func(r map[string]any) { r["severity"] = "Severe" }, []string{"caption /severity"}},
	{"type_uid", func(r map[string]any) {
		act, _ := toInt(r["activity_id"])
		r["type_uid"] = json.Number(fmt.Sprint(200600 + (act+1)%3 + 1))
		delete(r, "type_name") // keeps the caption check out of it
	}, []string{"type_uid /type_uid"}},
	{"unknown attribute", func(r map[string]any) { r["colour"] = "red" }, []string{"additionalProperties /colour"}},
	{"unknown version", func(r map[string]any) { r["metadata"].(map[string]any)["version"] = "1.2.3-beta" }, []string{"version /metadata/version"}},
	{"time_dt", func(r map[string]any) { r["time_dt"] = "2001-01-01T00:00:00.000Z" }, []string{"time_dt /time_dt"}},
	{"class", func(r map[string]any) { r["class_uid"] = json.Number("9999") }, []string{"class /class_uid"}},
	{"ocsf_type", func(r map[string]any) {
		r["src_endpoint"] = map[string]any{"ip": "ec2.amazonaws.com", "port": json.Number("70000"), "mac": "not-a-mac"}
	}, []string{"ocsf_type /src_endpoint/ip", "ocsf_type /src_endpoint/mac", "ocsf_type /src_endpoint/port"}},
}

// TestFaultCorpus mixes valid records of two versions and classes with
// records each broken in one known way: every fault is found, with its rule
// and pointer, and nothing is reported on a valid record. The corpus is
// checked as NDJSON and as gzipped NDJSON.
func TestFaultCorpus(t *testing.T) {
	valid := validRecords(t, "data_security_finding_1.3.0.yaml", 40)
	valid = append(valid, validRecords(t, "security_finding_1.1.0.yaml", 20)...)
	var lines [][]byte
	want := map[int64][]string{} // line -> problems
	for i, rec := range valid {
		lines = append(lines, mustJSON(t, rec))
		if i%2 == 1 && i/2 < len(faults) && i < 40 { // faults on 1.3.0 records (finding_info exists there)
			f := faults[i/2]
			broken := clone(t, rec)
			f.apply(broken)
			lines = append(lines, mustJSON(t, broken))
			want[int64(len(lines))] = f.want
		}
	}
	lines = append(lines, []byte(`{"class_uid": 2006, "metadata": `)) // cut short
	want[int64(len(lines))] = []string{"json "}
	if len(want) != len(faults)+1 {
		t.Fatalf("corpus has %d faults, want %d", len(want), len(faults)+1)
	}
	data := append(bytes.Join(lines, []byte("\n")), '\n')

	dir := t.TempDir()
	plain := filepath.Join(dir, "corpus.ndjson")
	if err := os.WriteFile(plain, data, 0o644); err != nil {
		t.Fatal(err)
	}
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(data)
	zw.Close()
	zipped := filepath.Join(dir, "corpus.ndjson.gz")
	if err := os.WriteFile(zipped, gz.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{plain, zipped} {
		got := map[int64][]string{}
		c, err := New(Options{}, func(p Problem) {
			if p.File != path {
				t.Errorf("problem in %s", p.File)
			}
			got[p.Line] = append(got[p.Line], p.Rule+" "+p.Pointer)
		})
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Check(path); err != nil {
			t.Fatal(err)
		}
		for line, w := range want {
			g := got[line]
			sort.Strings(g)
			if !slices.Equal(g, w) {
				t.Errorf("%s:%d: got %q, want %q", filepath.Base(path), line, g, w)
			}
		}
		for line, g := range got {
			if _, ok := want[line]; !ok {
				t.Errorf("%s:%d: problems %q in a valid record", filepath.Base(path), line, g)
			}
		}
		s := c.Summary()
		if s.Records != int64(len(lines)) || s.Invalid != int64(len(want)) || s.Files != 1 {
			t.Errorf("summary %+v, want %d records, %d invalid", s, len(lines), len(want))
		}
	}
}

func mustJSON(t testing.TB, v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func clone(t testing.TB, rec map[string]any) map[string]any {
	var out map[string]any
	d := json.NewDecoder(bytes.NewReader(mustJSON(t, rec)))
	d.UseNumber()
	if err := d.Decode(&out); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestProblemString(t *testing.T) {
	for _, tc := range []struct {
		p    Problem
		want string
	}{
		{Problem{File: "a.ndjson", Line: 3, Pointer: "/severity", Rule: "caption", Message: "m"}, "a.ndjson:3: /severity: caption: m"},
		{Problem{File: "x.parquet", Row: 7, Pointer: "/time", Rule: "sorted", Message: "m"}, "x.parquet#7: /time: sorted: m"},
		{Problem{File: "x.parquet", Rule: "compression", Message: "m"}, "x.parquet: compression: m"},
	} {
		if got := tc.p.String(); got != tc.want {
			t.Errorf("got %q, want %q", got, tc.want)
		}
	}
}

func TestOptionsErrors(t *testing.T) {
	for _, tc := range []struct {
		opts Options
		want string
	}{
		{Options{Version: "9.9"}, "--ocsf 9.9: not an OCSF version"},
		{Options{Version: "1.1.0", Class: "data_security_finding"}, "--class data_security_finding: OCSF 1.1.0 has no such class"},
		{Options{Class: "no_such_class"}, "--class no_such_class: no such class"},
		{Options{Version: "1.3.0", Profiles: []string{"clud"}}, `OCSF 1.3.0 has no profile "clud"`},
	} {
		_, err := New(tc.opts, func(Problem) {})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: error %v, want %q", tc.opts, err, tc.want)
		}
	}
}
