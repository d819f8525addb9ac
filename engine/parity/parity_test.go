package parity

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/ocsfmap/ocsfmap/engine"
	"github.com/ocsfmap/ocsfmap/engine/conformance"
	"github.com/ocsfmap/ocsfmap/engine/lake/duckdbtest"
)

// TestMapAndRunAgree is the law over every shipped mapping: the records
// `ocsfmap map --validate full` writes for the sample alerts, generated
// alerts and fuzzed alerts (odd values, odd bytes) are, read back from the
// lake `ocsfmap run` writes for the same alerts (pqarrow and DuckDB), the
// same records with their nulls dropped, each valid against the full JSON
// Schema; `ocsfmap validate` finds the lake valid; and run dead-letters
// only what map does, or what it cannot place in a partition.
func TestMapAndRunAgree(t *testing.T) {
	paths := shippedMappings(t)
	ms := make([]*engine.Mapping, len(paths))
	for i, p := range paths {
		ms[i] = loadMapping(t, p)
	}
	runs := make([]*lakeRun, len(paths))
	tmp := t.TempDir()
	queries := map[string]string{}
	for i, p := range paths {
		t.Run(strings.TrimSuffix(filepath.Base(p), ".yaml"), func(t *testing.T) {
			alerts := inputsFor(t, p, ms[i])
			// The lake outlives the subtest: DuckDB reads every lake at the end.
			r := mapAndRun(t, ms[i], alerts, filepath.Join(tmp, fmt.Sprint(i)))
			t.Logf("%d alerts: map wrote %d (dead-lettered %d, filtered %d), run could not place %d of them",
				len(alerts), len(r.mapped), r.mapDead, r.filtered, r.unplaced)
			// Alerts a mapping leaves out on purpose (another class's) do not
			// count; fuzzing the top fields of a nested source (CloudTrail)
			// dead-letters about half of them.
			if kept := len(alerts) - r.filtered; len(r.expect) < 50 || len(r.expect) < kept/3 {
				t.Errorf("only %d of %d alerts (not filtered) are in both map's output and the lake: the law was checked on too few records", len(r.expect), kept)
			}
			r.check(t, "pqarrow", r.readPqarrow(t))
			r.validate(t)
			runs[i] = r
			for c, cl := range r.classLakes() {
				if len(cl.files) > 0 {
					queries[fmt.Sprintf("%d/%d", i, c)] = duckDBQuery(cl.dir)
				} else if len(r.files) > 0 {
					t.Errorf("no file of class %s: the law was not checked on it", cl.p.Class.Name)
				}
			}
		})
	}
	if len(queries) == 0 {
		return
	}
	res := duckdbtest.Query(t, queries) // one DuckDB process for every lake
	for i, p := range paths {
		if runs[i] == nil {
			continue // its subtest stopped early and said why
		}
		t.Run(strings.TrimSuffix(filepath.Base(p), ".yaml")+"/DuckDB", func(t *testing.T) {
			r := runs[i]
			var got []lakeRecord
			for c, cl := range r.classLakes() {
				got = append(got, duckDBRecords(t, cl.p, r.lakeDir, cl.files, res[fmt.Sprintf("%d/%d", i, c)])...)
			}
			r.check(t, "DuckDB", got)
		})
	}
}

// FuzzParity runs the law on mutated alerts, one per line, with every
// shipped mapping. It reads the lake with pqarrow only: a DuckDB process per
// input would make fuzzing crawl (TestMapAndRunAgree reads with both).
//
//	go test -run '^$' -fuzz FuzzParity -fuzztime 5m ./engine/parity
func FuzzParity(f *testing.F) {
	paths := shippedMappings(f)
	ms := make([]*engine.Mapping, len(paths))
	for i, p := range paths {
		ms[i] = loadMapping(f, p)
	}
	gen := generated(8, 5)
	odd := fuzzed(8, 5, sourceFields(ms), generatedNext(6))
	for i := range gen {
		f.Add(bytes.Join([][]byte{gen[i], odd[i]}, []byte("\n")))
	}
	f.Add([]byte(`{"csp_event_timestamp": "2026-11-01T00:00:00Z", "alert_id": 7, "risk": ["high"], "tags": "a:b,c", "region": "us-east-1", "account_id": 1}`))
	f.Add([]byte(`{"alert_id": "\ud800", "csp_event_timestamp": 1e300, "region": "", "account_id": {}}`))
	f.Fuzz(func(t *testing.T, in []byte) {
		var alerts [][]byte
		for _, line := range bytes.Split(in, []byte("\n")) {
			if len(bytes.TrimSpace(line)) > 0 {
				alerts = append(alerts, line)
			}
		}
		if len(alerts) == 0 || len(alerts) > 64 {
			return
		}
		for i, m := range ms {
			t.Run(filepath.Base(paths[i]), func(t *testing.T) {
				r := mapAndRun(t, m, alerts, t.TempDir())
				r.check(t, "pqarrow", r.readPqarrow(t))
				r.validate(t)
			})
		}
	})
}

// lakeRun is what map and run did with the same alerts.
type lakeRun struct {
	m        *engine.Mapping
	raw      map[string][]byte // alert by input name
	mapped   map[string][]byte // map's record by input name
	mapDead  int               // alerts map dead-lettered
	filtered int               // alerts map and run leave out on purpose (drop_when)
	unplaced int               // alerts map wrote and run could not place in a partition (R405)
	expect   []expected        // what the lake must hold: map's records that run placed
	runOnly  int               // alerts run wrote and map dead-lettered (each reported)
	lakeDir  string
	files    []string
}

// maxReported bounds the failures reported per kind: the first few say
// what is wrong, a thousand more only bury them.
const maxReported = 5

// mapAndRun runs map and run over the alerts, each alert its own input
// named after its index, so that a dead letter or a record says which alert
// it came from, and reports the alerts one of them writes and the other
// dead-letters. The lake and run's dead letters go in dir.
func mapAndRun(t testing.TB, m *engine.Mapping, alerts [][]byte, dir string) *lakeRun {
	t.Helper()
	names := make([]string, len(alerts))
	r := &lakeRun{m: m, raw: map[string][]byte{}}
	for i, a := range alerts {
		names[i] = fmt.Sprintf("alert-%04d", i+1)
		r.raw[names[i]] = a
	}
	inputs := func() []engine.Input {
		in := make([]engine.Input, len(alerts))
		for i, a := range alerts {
			line := append(append([]byte(nil), a...), '\n')
			in[i] = engine.BytesInput(names[i], line)
		}
		return in
	}

	// ocsfmap map --validate full (cmd_map.go): the pipeline into a sink of
	// JSON lines.
	sink := &jsonSink{lines: map[string][]byte{}}
	mapDead := &deadLetters{byInput: map[string]*engine.DeadLetter{}}
	counts, err := m.Run(context.Background(), inputs(), engine.Options{Sink: sink, DeadLetters: mapDead, Validation: engine.ValidateFull})
	if err != nil {
		t.Fatalf("map: %v", err)
	}
	if counts.Written != int64(len(sink.lines)) {
		t.Fatalf("map counted %d records written, its sink took %d", counts.Written, len(sink.lines))
	}
	r.mapped, r.mapDead = sink.lines, len(mapDead.byInput)

	// ocsfmap run -o DIR (cmd_run.go): a delivery into a local lake, with
	// run's defaults (--validate plan, no default region or account).
	r.lakeDir = filepath.Join(dir, "lake")
	rep, err := m.Deliver(context.Background(), engine.Batch{ID: "parity", Inputs: inputs()}, engine.DeliverConfig{
		Destination: m.LocalLake(r.lakeDir, ""), DeadLetters: filepath.Join(dir, "dead-letters.ndjson"),
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	runDead := readDeadLetters(t, rep.DeadLetters)
	r.files = parquetFiles(t, r.lakeDir)

	// The lake must hold map's records, less those run could not place in
	// a partition (map needs none).
	var runOnly, mapOnly []string
	for _, name := range names {
		line, mapped := r.mapped[name]
		rd, runDeadLettered := runDead[name]
		switch {
		case mapped && runDeadLettered && rd.Code == "R405":
			r.unplaced++
		case mapped && runDeadLettered:
			mapOnly = append(mapOnly, fmt.Sprintf("%s: map --validate full writes it, run dead-letters it: %s %s\n  alert: %s\n  map:   %s",
				name, rd.Code, rd.Reason, clipAlert(r.raw[name]), clip(string(line))))
		case mapped:
			doc, err := decodeRecord(line)
			if err != nil {
				t.Fatalf("%s: map wrote a line that is not a JSON object: %v\n%s", name, err, line)
			}
			r.expect = append(r.expect, expected{input: name, doc: doc})
		case !runDeadLettered:
			md := mapDead.byInput[name]
			if md == nil {
				// Left out on purpose (drop_when): run must leave it out too,
				// which the lake's rows show.
				r.filtered++
				continue
			}
			runOnly = append(runOnly, fmt.Sprintf("%s: run writes it, map --validate full dead-letters it: %s %s\n  alert: %s",
				name, md.Code, md.Reason, clipAlert(r.raw[name])))
		}
	}
	r.runOnly = len(runOnly)
	reportSome(t, "alerts map writes and run dead-letters", mapOnly)
	reportSome(t, "alerts run writes and map --validate full dead-letters (run's default --validate plan lets them through)", runOnly)
	return r
}

// check holds the lake's rows, as one reader reads them, to the law: each
// of map's records is a row, and every row is valid OCSF.
func (r *lakeRun) check(t testing.TB, reader string, got []lakeRecord) {
	t.Helper()
	if want := len(r.expect) + r.runOnly; len(got) != want {
		t.Errorf("%s reads %d rows from the lake; map wrote %d records that run placed, and run wrote %d alerts that map dead-lettered: %d expected",
			reader, len(got), len(r.expect), r.runOnly, want)
	}
	compare(t, reader, r.expect, got, r.runOnly, r.raw)
	invalid := kinds{}
	for _, rec := range got {
		for _, v := range r.m.ValidateClass(r.classOf(rec.doc), rec.doc) {
			invalid.add(v.Pointer+" "+v.Keyword, fmt.Sprintf("%s: %s\n  record: %s", rec.where, v, clip(key(rec.doc))))
		}
	}
	invalid.report(t, "violations of the JSON Schema in lake rows read back ("+reader+")")
}

// validate runs `ocsfmap validate` on the lake: the project's own checker,
// with the Security Lake contract.
func (r *lakeRun) validate(t testing.TB) {
	t.Helper()
	if len(r.files) == 0 {
		return // run wrote nothing
	}
	problems := kinds{}
	c, err := conformance.New(conformance.Options{}, func(p conformance.Problem) {
		problems.add(p.Pointer+" "+p.Rule, strings.TrimPrefix(p.String(), r.lakeDir+string(filepath.Separator)))
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Check(r.lakeDir); err != nil {
		t.Fatalf("validate: %v", err)
	}
	problems.report(t, "problems `ocsfmap validate` finds in the lake run wrote")
}

// expected is a record map wrote, normalized.
type expected struct {
	input string
	doc   any
}

// compare matches map's records with the lake's rows as multisets of
// normalized records: the lake's order is its own (rows sorted by time per
// partition). A record without an equal row is reported with its nearest
// unmatched row (fewest differing attributes) and how they differ. extra
// rows are expected (run wrote records map dead-lettered, reported apart).
func compare(t testing.TB, reader string, want []expected, got []lakeRecord, extra int, raw map[string][]byte) {
	t.Helper()
	rows := map[string][]int{}
	for i, r := range got {
		k := key(r.doc)
		rows[k] = append(rows[k], i)
	}
	used := make([]bool, len(got))
	var missing []expected
	for _, w := range want {
		k := key(w.doc)
		if idx := rows[k]; len(idx) > 0 {
			used[idx[0]] = true
			rows[k] = idx[1:]
			continue
		}
		missing = append(missing, w)
	}
	// The nearest row is looked for among the unmatched rows of the same
	// time first: every OCSF record has one and the fuzzer seldom repeats it.
	byTime := map[string][]int{}
	for i, r := range got {
		if !used[i] {
			k := timeOf(r.doc)
			byTime[k] = append(byTime[k], i)
		}
	}
	// One message per kind of difference (the attributes that differ and
	// how), with its count and first example: one defect that touches
	// every record must not hide another that touches a few.
	type group struct {
		n       int
		example string
	}
	groups := map[string]*group{}
	var order []string
	for _, w := range missing {
		candidates := byTime[timeOf(w.doc)]
		if len(candidates) == 0 {
			for i := range got {
				if !used[i] {
					candidates = append(candidates, i)
				}
			}
		}
		best, bestDiff := -1, []difference(nil)
		for _, i := range candidates {
			d := diff(w.doc, got[i].doc, "", 50, nil)
			if best < 0 || len(d) < len(bestDiff) {
				best, bestDiff = i, d
			}
		}
		sig, example := "no row left in the lake", fmt.Sprintf("%s: map's record has no row in the lake (%s): every row is taken\n  map: %s", w.input, reader, clip(key(w.doc)))
		if best >= 0 {
			var sigs, lines []string
			for _, d := range bestDiff {
				sigs = append(sigs, d.path+" "+d.what)
				lines = append(lines, d.text)
			}
			sig = strings.Join(sigs, "; ")
			if len(lines) > 8 {
				lines = append(lines[:8], fmt.Sprintf("… (%d differences in all)", len(lines)))
			}
			example = fmt.Sprintf("%s: map's record differs from the nearest lake row %s (%s):\n    %s\n  alert: %s",
				w.input, got[best].where, reader, strings.Join(lines, "\n    "), clipAlert(raw[w.input]))
		}
		g := groups[sig]
		if g == nil {
			g = &group{example: example}
			groups[sig] = g
			order = append(order, sig)
		}
		g.n++
	}
	sort.SliceStable(order, func(i, j int) bool { return groups[order[i]].n > groups[order[j]].n })
	var msgs []string
	for _, sig := range order {
		msgs = append(msgs, fmt.Sprintf("[%d records: %s] e.g. %s", groups[sig].n, sig, groups[sig].example))
	}
	if len(missing) > 0 {
		t.Errorf("%d records map --validate full writes are not in the lake as written (%s), %d kinds of difference:\n%s",
			len(missing), reader, len(msgs), strings.Join(msgs[:min(len(msgs), 2*maxReported)], "\n"))
	}
	if left := len(got) - (len(want) - len(missing)); len(missing) == 0 && left > extra {
		t.Errorf("%s: %d lake rows match no record of map, %d expected (records map dead-lettered)", reader, left, extra)
	}
}

// kinds counts failures by kind (an attribute and a rule), keeping the
// first example of each: one defect that touches every record must not
// hide another that touches a few.
type kinds struct {
	n       map[string]int
	example map[string]string
	order   []string
}

func (k *kinds) add(kind, example string) {
	if k.n == nil {
		k.n, k.example = map[string]int{}, map[string]string{}
	}
	if k.n[kind] == 0 {
		k.example[kind] = example
		k.order = append(k.order, kind)
	}
	k.n[kind]++
}

// report fails the test with each kind, most frequent first, its count
// and its first example.
func (k *kinds) report(t testing.TB, what string) {
	t.Helper()
	if len(k.order) == 0 {
		return
	}
	sort.SliceStable(k.order, func(i, j int) bool { return k.n[k.order[i]] > k.n[k.order[j]] })
	total, msgs := 0, make([]string, 0, len(k.order))
	for _, kind := range k.order {
		total += k.n[kind]
		msgs = append(msgs, fmt.Sprintf("[%d × %s] e.g. %s", k.n[kind], kind, k.example[kind]))
	}
	t.Errorf("%d %s, %d kinds:\n%s", total, what, len(msgs), strings.Join(msgs[:min(len(msgs), 2*maxReported)], "\n"))
}

// reportSome fails the test with the first maxReported messages of a kind
// and the count of the rest.
func reportSome(t testing.TB, what string, msgs []string) {
	t.Helper()
	if len(msgs) == 0 {
		return
	}
	shown := msgs[:min(len(msgs), maxReported)]
	t.Errorf("%d %s; the first %d:\n%s", len(msgs), what, len(shown), strings.Join(shown, "\n"))
}

// jsonSink is map's sink (cmd_map.go's jsonLines) keeping each input's line.
type jsonSink struct{ lines map[string][]byte }

func (s *jsonSink) WantsJSON() bool { return true }

func (s *jsonSink) Write(r *engine.Result) error {
	if _, dup := s.lines[r.Input]; dup {
		return fmt.Errorf("two records from input %s", r.Input)
	}
	s.lines[r.Input] = append([]byte(nil), r.JSON...)
	return nil
}

type deadLetters struct {
	mu      sync.Mutex
	byInput map[string]*engine.DeadLetter
}

func (d *deadLetters) Write(dl *engine.DeadLetter) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	c := *dl
	d.byInput[dl.Input] = &c
	return nil
}

// readDeadLetters reads run's dead-letter file (absent when none).
func readDeadLetters(t testing.TB, path string) map[string]*engine.DeadLetter {
	t.Helper()
	out := map[string]*engine.DeadLetter{}
	f, err := os.Open(path)
	if os.IsNotExist(err) {
		return out
	}
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<24)
	for sc.Scan() {
		var dl engine.DeadLetter
		if err := json.Unmarshal(sc.Bytes(), &dl); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		out[dl.Input] = &dl
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// clipAlert shortens an alert for a message, keeping enough to reproduce.
func clipAlert(a []byte) string {
	if len(a) > 600 {
		return string(a[:600]) + "…"
	}
	return string(a)
}
