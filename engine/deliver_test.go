package engine

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"

	"github.com/ocsfmap/ocsfmap/engine/source"
)

// How a fake destination fails at its chosen step.
type failMode int

const (
	crashBefore failMode = iota // the process dies as the upload starts: nothing lands, nothing after
	crashAfter                  // it dies once the object is stored, before the upload is acknowledged
	panicPut                    // the destination panics
	errorPut                    // the upload fails; the process lives on
)

func (f failMode) String() string {
	return [...]string{"crash before upload", "crash after upload", "panic", "error"}[f]
}

var errCrashed = errors.New("crashed")

// fakeDest is a bucket in memory that fails at one Put (failAt, counted
// from 0; -1: never) or from a moment the test chooses (crash). After a
// crash nothing more lands: the process is gone, only its leftovers on disk
// and in the bucket remain.
type fakeDest struct {
	staging string
	mode    failMode
	failAt  int

	mu      sync.Mutex
	bucket  map[string][]byte
	puts    int
	crashed bool
}

func newFakeDest(t *testing.T) *fakeDest {
	return &fakeDest{staging: t.TempDir(), failAt: -1, bucket: map[string][]byte{}}
}

func (f *fakeDest) KeyPrefix(class string) string { return "ext/src/" }
func (f *fakeDest) Staging(id string) string      { return filepath.Join(f.staging, BatchFolder(id)) }

func (f *fakeDest) crash() {
	f.mu.Lock()
	f.crashed = true
	f.mu.Unlock()
}

func (f *fakeDest) Put(_ context.Context, key, path string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.crashed {
		return errCrashed
	}
	n := f.puts
	f.puts++
	if n == f.failAt {
		switch f.mode {
		case crashBefore:
			f.crashed = true
			return errCrashed
		case panicPut:
			panic("destination broke")
		case errorPut:
			return errors.New("503 slow down")
		}
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	f.bucket[key] = b
	if n == f.failAt && f.mode == crashAfter {
		f.crashed = true
		return errCrashed
	}
	return os.Remove(path)
}

// deliverAlerts are three inputs of alerts over several partitions, with
// lines that are not JSON (dead letters).
func deliverAlerts() (inputs []Input, ids map[string]string) {
	ids = map[string]string{} // alert id → input
	for i := range 3 {
		name := fmt.Sprintf("in-%d", i)
		var b strings.Builder
		for j := range 120 {
			id := fmt.Sprintf("a-%d-%d", i, j)
			if j%37 == 5 {
				b.WriteString("{not json\n")
				continue
			}
			ids[id] = name
			fmt.Fprintf(&b, `{"alert_id": %q, "risk": "High", "csp_event_timestamp": %d, "csp": "AWS", "account_id": "%012d", "region": "us-east-%d", "alert_description": "%s"}`+"\n",
				id, 1793528130+int64(j%3)*86400+int64(j), 100000000000+(i+j)%4, 1+j%2, strings.Repeat("x", 400))
		}
		inputs = append(inputs, BytesInput(name, []byte(b.String())))
	}
	return inputs, ids
}

// crashingInput wraps in so the destination crashes once `at` records of
// it were read: the process dies while mapping.
func crashingInput(in Input, at int, f *fakeDest) Input {
	return Input{Name: in.Name, Open: func() (source.Records, error) {
		recs, err := in.Open()
		if err != nil {
			return nil, err
		}
		return &crashRecords{Records: recs, left: at, f: f}, nil
	}}
}

type crashRecords struct {
	source.Records
	left int
	f    *fakeDest
	err  error
}

func (c *crashRecords) Next() bool {
	if c.left <= 0 {
		c.f.crash()
		c.err = errCrashed
		return false
	}
	c.left--
	return c.Records.Next()
}

func (c *crashRecords) Err() error { return errors.Join(c.err, c.Records.Err()) }

// The exactly-once law of Deliver: whatever step fails or crashes —
// mapping, each upload before or after the object is stored, a panicking
// destination, or the caller before it commits — delivering the batch
// again leaves every record exactly once in the bucket (no object of the
// failed attempt that the second does not overwrite), every dead letter
// once, and counts that add up.
func TestDeliverExactlyOnce(t *testing.T) {
	m, err := Load("../mappings/zscaler-dspm/security_finding_1.1.0.yaml")
	if err != nil {
		t.Fatal(err)
	}
	inputs, ids := deliverAlerts()
	cfg := func(f *fakeDest) DeliverConfig {
		// Small files: several per partition, so file numbers count.
		return DeliverConfig{Destination: f, RollBytes: 48 << 10, Workers: 2}
	}
	deliver := func(f *fakeDest, dead string, in []Input) (BatchReport, error) {
		c := cfg(f)
		return m.Deliver(context.Background(), Batch{ID: "batch-1", Inputs: in, DeadLetters: dead}, c)
	}

	// A clean delivery: how many files there are to fail at.
	clean := newFakeDest(t)
	rep, err := deliver(clean, filepath.Join(t.TempDir(), "dead.ndjson"), inputs)
	if err != nil || !rep.Complete {
		t.Fatalf("clean delivery: %v (complete %v)", err, rep.Complete)
	}
	files := len(rep.Files)
	if files < 8 || len(clean.bucket) != files {
		t.Fatalf("%d files, %d objects: want several per partition", files, len(clean.bucket))
	}
	checkLake(t, clean, rep, ids)

	type step struct {
		name string
		run  func(f *fakeDest, dead string) (BatchReport, error)
	}
	var steps []step
	for _, mode := range []failMode{crashBefore, crashAfter, panicPut, errorPut} {
		for k := range files {
			steps = append(steps, step{fmt.Sprintf("%s/put %d", mode, k), func(f *fakeDest, dead string) (BatchReport, error) {
				f.mode, f.failAt = mode, k
				return deliver(f, dead, inputs)
			}})
		}
	}
	for _, at := range []int{0, 30, 100} {
		steps = append(steps, step{fmt.Sprintf("crash while mapping/record %d of input 1", at), func(f *fakeDest, dead string) (BatchReport, error) {
			in := slices.Clone(inputs)
			in[1] = crashingInput(in[1], at, f)
			return deliver(f, dead, in)
		}})
	}
	steps = append(steps, step{"crash after Deliver returned, before the caller committed", func(f *fakeDest, dead string) (BatchReport, error) {
		rep, err := deliver(f, dead, inputs)
		if err == nil {
			err = errCrashed // the commit never happened
		}
		return rep, err
	}})

	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			t.Parallel()
			f := newFakeDest(t)
			dead := filepath.Join(t.TempDir(), "dead.ndjson")
			first, err := s.run(f, dead)
			if err == nil {
				t.Fatalf("the failing attempt reported success: %v", err)
			}
			if failed := first.Failed(); len(failed) == 0 && !strings.HasPrefix(s.name, "crash after Deliver") {
				t.Errorf("no input reported failed")
			}
			// A restarted process: a healthy destination over the same
			// bucket and the same staging folder, with what a process
			// killed while writing leaves there.
			left := filepath.Join(f.Staging("batch-1"), "ext", "src", "region=r", "accountId=a", "eventDay=20261101")
			os.MkdirAll(left, 0o755)
			os.WriteFile(filepath.Join(left, ".x.parquet.tmp"), []byte("PAR1"), 0o644)
			os.WriteFile(filepath.Join(left, "x.parquet"), []byte("PAR1"), 0o644)
			g := &fakeDest{staging: f.staging, failAt: -1, bucket: f.bucket}
			rep, err := deliver(g, dead, inputs)
			if err != nil || !rep.Complete {
				t.Fatalf("delivering again: %v", err)
			}
			checkLake(t, g, rep, ids)
		})
	}
}

// checkLake: every alert of ids in the bucket once, in a file whose
// outcome names its input; counts add up; the dead letters once each; the
// staging folder emptied.
func checkLake(t *testing.T, f *fakeDest, rep BatchReport, ids map[string]string) {
	t.Helper()
	if rep.Read != rep.Written+rep.DeadLettered+rep.Filtered {
		t.Errorf("counts do not add up: %+v", rep.Counts)
	}
	if rep.Written != int64(len(ids)) || rep.DeadLettered != 3*4 {
		t.Errorf("written %d of %d alerts, %d dead letters", rep.Written, len(ids), rep.DeadLettered)
	}
	outcome := map[string]FileOutcome{}
	for _, fo := range rep.Files {
		outcome[fo.Key] = fo
		if fo.Err != nil {
			t.Errorf("%s: %v", fo.Key, fo.Err)
		}
	}
	seen := map[string]int{}
	var rows int64
	for key, body := range f.bucket {
		fo, ok := outcome[key]
		if !ok {
			t.Errorf("object %s is not one of the batch's files: a duplicate left by the failed attempt", key)
			continue
		}
		uids := findingUIDs(t, body)
		rows += int64(len(uids))
		if int64(len(uids)) != fo.Rows {
			t.Errorf("%s: %d rows, outcome says %d", key, len(uids), fo.Rows)
		}
		for _, id := range uids {
			seen[id]++
			if !slices.Contains(fo.Inputs, ids[id]) {
				t.Errorf("%s holds %s of %s, outcome names %v", key, id, ids[id], fo.Inputs)
			}
			if want := "region=" + fo.Region + "/accountId=" + fo.Account + "/eventDay=" + fo.EventDay + "/"; !strings.Contains(key, want) {
				t.Errorf("%s: outcome's partition %s", key, want)
			}
		}
	}
	for id := range ids {
		if seen[id] != 1 {
			t.Errorf("alert %s delivered %d times", id, seen[id])
		}
	}
	if rows != rep.Written {
		t.Errorf("%d rows in the bucket, %d written", rows, rep.Written)
	}
	dl, err := os.ReadFile(rep.DeadLetters)
	if err != nil {
		t.Fatal(err)
	}
	if n := bytes.Count(dl, []byte("\n")); n != int(rep.DeadLettered) {
		t.Errorf("%d dead letters in the file, %d counted", n, rep.DeadLettered)
	}
	if left, _ := os.ReadDir(f.staging); len(left) != 0 {
		t.Errorf("staging not emptied: %v", left)
	}
}

// findingUIDs reads finding.uid of every row of a Parquet file.
func findingUIDs(t *testing.T, body []byte) []string {
	t.Helper()
	pf, err := file.NewParquetReader(bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer pf.Close()
	fr, err := pqarrow.NewFileReader(pf, pqarrow.ArrowReadProperties{BatchSize: 4096}, memory.DefaultAllocator)
	if err != nil {
		t.Fatal(err)
	}
	tbl, err := fr.ReadTable(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer tbl.Release()
	idx := tbl.Schema().FieldIndices("finding")
	if len(idx) != 1 {
		t.Fatalf("no finding column in %v", tbl.Schema())
	}
	var out []string
	for _, chunk := range tbl.Column(idx[0]).Data().Chunks() {
		st := chunk.(*array.Struct)
		typ := st.DataType().(*arrow.StructType)
		fi, ok := typ.FieldIdx("uid")
		if !ok {
			t.Fatal("no finding.uid")
		}
		uid := st.Field(fi).(*array.String)
		for i := range uid.Len() {
			out = append(out, uid.Value(i))
		}
	}
	return out
}

// One lake writer per class: CloudTrail's mapping routes records to two
// classes; Deliver writes each class's records under its own custom
// source's prefix, and no file holds two classes.
func TestDeliverOneClassPerFile(t *testing.T) {
	m, err := Load(cloudTrail)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	dest := m.LocalLake(dir, "ext/cloudtrail/")
	if a, b := dest.KeyPrefix("api_activity"), dest.KeyPrefix("authentication"); a != "ext/cloudtrail/api_activity/" || b != "ext/cloudtrail/authentication/" {
		t.Fatalf("prefixes %s, %s", a, b)
	}
	var inputs []Input
	for _, f := range []string{"elastic-api-calls.ndjson", "elastic-console-login.ndjson", "awsdocs-sign-in-events.json"} {
		inputs = append(inputs, FileInput("../testdata/aws-cloudtrail/"+f))
	}
	rep, err := m.Deliver(t.Context(), Batch{ID: "two-classes", Inputs: inputs},
		DeliverConfig{Destination: dest, DeadLetters: filepath.Join(t.TempDir(), "dead.ndjson"), Validation: ValidateFull})
	if err != nil {
		t.Fatal(err)
	}
	if !rep.Complete || rep.DeadLettered != 0 || rep.Written != rep.Read || len(rep.ByClass) != 2 {
		t.Fatalf("report %+v", rep.Counts)
	}
	written := map[string]int{}
	for class, n := range rep.ByClass {
		written[class] = int(n)
	}
	files := rep.Files
	rows := map[string]int{}
	for _, f := range files {
		if f.Err != nil || !strings.HasPrefix(f.Key, "ext/cloudtrail/"+f.Class+"/") {
			t.Errorf("%s (%s): %v", f.Key, f.Class, f.Err)
		}
		body, err := os.ReadFile(filepath.Join(dir, f.Key))
		if err != nil {
			t.Fatal(err)
		}
		pf, err := file.NewParquetReader(bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		// Each class's own schema: "api" is api_activity's alone, "service"
		// authentication's alone.
		own := map[string]string{"api_activity": "api", "authentication": "service"}
		root := pf.MetaData().Schema.Root()
		for class, col := range own {
			if has := root.FieldIndexByName(col) >= 0; has != (class == f.Class) {
				t.Errorf("%s: column %s present %v: not one %s file", f.Key, col, has, f.Class)
			}
		}
		pf.Close()
		rows[f.Class] += int(f.Rows)
	}
	if rows["api_activity"] != written["api_activity"] || rows["authentication"] != written["authentication"] || len(written) != 2 {
		t.Fatalf("rows per class %v, written %v", rows, written)
	}
}
