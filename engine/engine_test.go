package engine

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ocsfmap/ocsfmap/engine/alertgen"
	"github.com/ocsfmap/ocsfmap/engine/plan"
	"github.com/ocsfmap/ocsfmap/engine/source"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

var shipped = []string{
	"../mappings/zscaler-dspm/security_finding_1.1.0.yaml",
	"../mappings/zscaler-dspm/security_finding_1.0.0-rc.2.yaml",
	"../mappings/zscaler-dspm/data_security_finding_1.3.0.yaml",
}

func corpus(t testing.TB, n int, seed uint64) [][]byte {
	g := alertgen.New(seed, alertgen.Options{Accounts: 50, Days: 3})
	out := make([][]byte, n)
	for i := range out {
		out[i] = g.AppendNDJSON(nil)
		out[i] = bytes.TrimRight(out[i], "\n")
	}
	return out
}

func load(t testing.TB, path string) *Mapping {
	t.Helper()
	m, err := Load(path)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return m
}

// checkAgreement maps one alert and asserts the plan's verdict is the JSON
// Schema's: a record the plan writes validates, and a record the plan
// rejects in its per-record checks fails the schema when written anyway.
func checkAgreement(t testing.TB, m *Mapping, pm *plan.Mapper, alert []byte) (code string) {
	_, err := pm.Map(alert)
	var pe *plan.Error
	var se *source.SyntaxError
	switch {
	case err == nil:
		if v := m.ValidateClass(pm.Class(), pm.Doc()); len(v) > 0 {
			t.Fatalf("plan wrote a record the schema rejects: %v\nalert: %s\nrecord: %s", v, alert, pm.AppendJSON(nil))
		}
		return ""
	case errors.As(err, &se):
		return "R400"
	case !errors.As(err, &pe):
		t.Fatalf("unexpected error kind %T: %v", err, err)
	}
	switch pe.Code {
	case "R403", "R404", "R406":
		if _, err := pm.MapUnchecked(alert); err != nil {
			t.Fatalf("unchecked map failed: %v", err)
		}
		if v := m.ValidateClass(pm.Class(), pm.Doc()); len(v) == 0 {
			t.Fatalf("plan rejected (%v) a record the schema accepts:\nalert: %s\nrecord: %s", pe, alert, pm.AppendJSON(nil))
		}
	case "R401", "R402", "R409":
	default:
		t.Fatalf("unknown error code %s", pe.Code)
	}
	return pe.Code
}

// TestCorpusAgreesWithSchema maps a generated corpus with every shipped
// mapping: every record written is valid OCSF of its version and class, and
// the plan's checks reject exactly what the full JSON Schema would.
func TestCorpusAgreesWithSchema(t *testing.T) {
	alerts := corpus(t, 3000, 7)
	for _, path := range shipped {
		t.Run(filepath.Base(path), func(t *testing.T) {
			m := load(t, path)
			pm := m.Plan.NewMapper()
			codes := map[string]int{}
			for _, a := range alerts {
				codes[checkAgreement(t, m, pm, a)]++
			}
			t.Logf("%v", codes)
			if codes[""] < len(alerts)*9/10 {
				t.Errorf("only %d of %d alerts mapped: %v", codes[""], len(alerts), codes)
			}
			if codes["R403"] == 0 {
				t.Errorf("the corpus has alerts without a usable time; none was rejected: %v", codes)
			}
		})
	}
}

// FuzzMapAgreesWithSchema feeds mutated alerts to the 1.1.0 mapping: no
// panic, only known error kinds, and the plan agrees with the JSON Schema.
func FuzzMapAgreesWithSchema(f *testing.F) {
	for _, a := range corpus(f, 50, 3) {
		f.Add(a)
	}
	f.Add([]byte(`{"csp_event_timestamp": "2026-11-01T00:00:00Z", "alert_id": 7, "risk": ["high"], "tags": "a:b,c"}`))
	f.Add([]byte(`{"alert_id": "x", "csp_event_timestamp": 1e300}`))
	m := load(f, shipped[0])
	f.Fuzz(func(t *testing.T, alert []byte) {
		pm := m.Plan.NewMapper()
		checkAgreement(t, m, pm, alert)
	})
}

// TestGolden maps testdata/dspm/alerts.ndjson with each shipped mapping and
// compares records and dead letters with testdata/golden (go test -update).
func TestGolden(t *testing.T) {
	in, err := os.ReadFile("../testdata/dspm/alerts.ndjson")
	if err != nil {
		t.Fatal(err)
	}
	for _, path := range shipped {
		name := strings.TrimSuffix(filepath.Base(path), ".yaml")
		t.Run(name, func(t *testing.T) {
			m := load(t, path)
			pm := m.NewMapper()
			var out bytes.Buffer
			for i, line := range bytes.Split(bytes.TrimSpace(in), []byte("\n")) {
				rec, err := pm.MapJSON(line)
				if err != nil {
					fmt.Fprintf(&out, "# line %d: dead letter: %v\n", i+1, err)
					continue
				}
				out.Write(rec)
				out.WriteByte('\n')
			}
			golden := filepath.Join("../testdata/golden", name+".ndjson")
			if *update {
				os.MkdirAll(filepath.Dir(golden), 0o755)
				if err := os.WriteFile(golden, out.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test ./engine -run TestGolden -update)", err)
			}
			if !bytes.Equal(out.Bytes(), want) {
				gotLines, wantLines := strings.Split(out.String(), "\n"), strings.Split(string(want), "\n")
				for i := range min(len(gotLines), len(wantLines)) {
					if gotLines[i] != wantLines[i] {
						t.Fatalf("%s line %d differs:\ngot  %s\nwant %s", golden, i+1, gotLines[i], wantLines[i])
					}
				}
				t.Fatalf("%s: %d lines, want %d", golden, len(gotLines), len(wantLines))
			}
		})
	}
}

// TestRunCountsAddUp runs the pipeline with a filter-free sink and checks
// read = written + dead-lettered, in input order.
func TestRunCountsAddUp(t *testing.T) {
	m := load(t, shipped[0])
	alerts := corpus(t, 1000, 11)
	alerts = append(alerts, []byte(`{"broken": `), []byte(`[1,2]`))
	data := bytes.Join(alerts, []byte("\n"))
	sink := &collect{}
	dead := &deadCollect{}
	counts, err := m.Run(t.Context(), []Input{bytesInput("alerts.ndjson", data)}, Options{Sink: sink, DeadLetters: dead, Workers: 3})
	if err != nil {
		t.Fatal(err)
	}
	if counts.Read != int64(len(alerts)) || counts.Read != counts.Written+counts.DeadLettered+counts.Filtered {
		t.Fatalf("counts do not add up: %+v", counts)
	}
	if int64(len(sink.lines)) != counts.Written || int64(len(dead.items)) != counts.DeadLettered {
		t.Fatalf("sink got %d, dead %d; counts %+v", len(sink.lines), len(dead.items), counts)
	}
	prev := 0
	for _, l := range sink.lines {
		if l <= prev {
			t.Fatalf("records out of input order: line %d after %d", l, prev)
		}
		prev = l
	}
	last := dead.items[len(dead.items)-1]
	if last.Code != "R400" || last.Line != len(alerts) || last.Raw != "[1,2]" {
		t.Fatalf("last dead letter: %+v", last)
	}
}

type collect struct{ lines []int }

func (c *collect) WantsJSON() bool { return true }
func (c *collect) Write(r *Result) error {
	if !json.Valid(r.JSON) {
		return fmt.Errorf("invalid JSON at line %d", r.Line)
	}
	c.lines = append(c.lines, r.Line)
	return nil
}

type deadCollect struct{ items []*DeadLetter }

func (d *deadCollect) Write(x *DeadLetter) error { d.items = append(d.items, x); return nil }

func bytesInput(name string, data []byte) Input {
	return BytesInput(name, data)
}

// TestRunFailPolicyStops: under on_error: fail, the first record a rule
// fails for stops the run with ErrFailPolicy; what came before is written.
func TestRunFailPolicyStops(t *testing.T) {
	src, err := os.ReadFile(shipped[0])
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	os.Symlink(mustAbs(t, "../mappings/zscaler-dspm/templates"), filepath.Join(dir, "templates"))
	path := filepath.Join(dir, "m.yaml")
	os.WriteFile(path, bytes.Replace(src, []byte("on_error: dead_letter"), []byte("on_error: fail"), 1), 0o644)
	m := load(t, path)
	good := corpus(t, 3, 1)
	data := bytes.Join(append(good, []byte(`{"alert_id": "no-time"}`), good[0]), []byte("\n"))
	sink := &collect{}
	counts, err := m.Run(t.Context(), []Input{bytesInput("in.ndjson", data)}, Options{Sink: sink, DeadLetters: &deadCollect{}, Workers: 1})
	if !errors.Is(err, ErrFailPolicy) || !strings.Contains(err.Error(), "in.ndjson:4") {
		t.Fatalf("err = %v", err)
	}
	if counts.Written != 3 || counts.DeadLettered != 1 {
		t.Fatalf("counts %+v", counts)
	}
}

func mustAbs(t *testing.T, p string) string {
	a, err := filepath.Abs(p)
	if err != nil {
		t.Fatal(err)
	}
	return a
}
