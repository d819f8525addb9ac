package service

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/parquet/file"

	"github.com/ocsfmap/ocsfmap/engine/alertgen"
	"github.com/ocsfmap/ocsfmap/engine/store/s3test"
)

func TestSplitAlerts(t *testing.T) {
	for _, c := range []struct {
		name     string
		body     string
		alerts   int
		rejected []int // lines
		out      string
		err      bool
	}{
		{"ndjson", "{\"a\":1}\n{\"b\":2}\n", 2, nil, "{\"a\":1}\n{\"b\":2}\n", false},
		{"ndjson, no final newline, blank lines", "{\"a\":1}\n\n  {\"b\":2}", 2, nil, "{\"a\":1}\n{\"b\":2}\n", false},
		{"bad lines", "nope\n{\"a\":1}\n{\"a\": \n[1]\n", 1, []int{1, 3, 4}, "{\"a\":1}\n", false},
		{"array", "[{\"a\": 1},\n {\"b\": [2, 3]}, 4]", 2, []int{3}, "{\"a\":1}\n{\"b\":[2,3]}\n", false},
		{"one object over lines", "{\n  \"a\": 1,\n  \"b\": \"x\"\n}\n", 1, nil, "{\"a\":1,\"b\":\"x\"}\n", false},
		{"broken array", "[{\"a\":1},", 0, nil, "", true},
		{"empty", "  \n", 0, nil, "", false},
	} {
		t.Run(c.name, func(t *testing.T) {
			out, n, rej, err := splitAlerts([]byte(c.body), nil, limits{}, nil)
			if (err != nil) != c.err {
				t.Fatalf("err = %v", err)
			}
			if n != c.alerts || string(out) != c.out {
				t.Fatalf("%d alerts %q, want %d %q", n, out, c.alerts, c.out)
			}
			var lines []int
			for _, r := range rej {
				lines = append(lines, r.line)
				if r.reason == "" || len(r.raw) == 0 {
					t.Errorf("rejection without reason or bytes: %+v", r)
				}
			}
			if fmt.Sprint(lines) != fmt.Sprint(c.rejected) && !(len(lines) == 0 && len(c.rejected) == 0) {
				t.Fatalf("rejected lines %v, want %v", lines, c.rejected)
			}
		})
	}
}

// TestSplitEnvelopes: for a mapping with input.records, ingest counts the
// records inside envelope documents as delivery will ({"Records":[…]}
// pages, single events beside them, an empty envelope as none), so the
// status's accepted alerts add up to what is written.
func TestSplitEnvelopes(t *testing.T) {
	env := []string{"Records"}
	body := "{\"Records\": [{\"a\": 1},\n {\"b\": 2}, 3]}\n{\"e\": 4}\n{\"Records\": []}\n{bad\n"
	out, n, rej, err := splitAlerts([]byte(body), nil, limits{}, env)
	if err != nil {
		t.Fatal(err)
	}
	if n != 3 || string(out) != "{\"a\":1}\n{\"b\":2}\n{\"e\":4}\n" {
		t.Fatalf("%d alerts %q", n, out)
	}
	if len(rej) != 2 || string(rej[0].raw) != "3" || string(rej[1].raw) != "{bad" || rej[1].line != 5 {
		t.Fatalf("rejected %+v, want the element 3 and the line {bad", rej)
	}
	// A broken envelope is refused whole; the limits hold inside envelopes.
	if _, _, _, err := splitAlerts([]byte(`{"Records": [{"a":1},`), nil, limits{}, env); err == nil {
		t.Fatal("a broken envelope was accepted")
	}
	if _, _, _, err := splitAlerts([]byte(`{"Records": [{"a":1},{"a":2},{"a":3}]}`), nil, limits{alerts: 2}, env); err == nil {
		t.Fatal("an envelope over --max-alerts was accepted")
	}
}

func TestBatchRecord(t *testing.T) {
	in := batch{key: "k-1", accepted: time.UnixMilli(1793562506123), alerts: 2, rejected: 1, ndjson: []byte("{}\n{\"a\":1}\n")}
	rec := in.appendTo(nil)
	out, err := decodeBatch(rec)
	if err != nil {
		t.Fatal(err)
	}
	if out.key != in.key || !out.accepted.Equal(in.accepted) || out.alerts != 2 || out.rejected != 1 || string(out.ndjson) != string(in.ndjson) {
		t.Fatalf("round trip: %+v", out)
	}
	for _, bad := range [][]byte{nil, {2}, rec[:3], append(append([]byte(nil), rec...), "{}\n"...)} {
		if _, err := decodeBatch(bad); err == nil {
			t.Errorf("decodeBatch(%q) accepted a malformed record", bad)
		}
	}
}

// A retry racing its original waits for it, then gets its answer.
func TestKeyBookRetryRacesOriginal(t *testing.T) {
	kb, err := openKeyBook(filepath.Join(t.TempDir(), "keys"), time.Hour, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, done := kb.begin("k"); done {
		t.Fatal("a new key is done")
	}
	got := make(chan response)
	go func() {
		r, done := kb.begin("k")
		if !done {
			t.Error("the retry did not see the original's answer")
		}
		got <- r
	}()
	time.Sleep(10 * time.Millisecond)
	kb.finish("k", response{Accepted: 7}, true)
	if r := <-got; r.Accepted != 7 {
		t.Fatalf("retry answered %+v", r)
	}
	if err := kb.close(); err != nil {
		t.Fatal(err)
	}
	// Keys survive a reopen, within retention.
	kb, err = openKeyBook(filepath.Join(filepath.Dir(kb.f.Name()), "keys"), time.Hour, 0)
	if err != nil {
		t.Fatal(err)
	}
	if r, done := kb.begin("k"); !done || r.Accepted != 7 {
		t.Fatalf("after reopen: %+v %v", r, done)
	}
}

// TestServiceInProcess runs the service in this process (for the race
// detector) against versitygw and the STS stub: concurrent clients, some
// retrying with the same key, then a drain; every alert accepted is
// written or dead-lettered once, and the rows are in the bucket.
func TestServiceInProcess(t *testing.T) {
	const (
		region = "us-east-2"
		bucket = "aws-security-data-lake-us-east-2-inproc"
		role   = "arn:aws:iam::444455556666:role/AmazonSecurityLake-Provider-dspmalerts-us-east-2"
		extID  = "inproc-external-id-0001"
		token  = "inproc-token-0123456789"
	)
	lake, err := s3test.StartLake(s3test.LakeConfig{Dir: t.TempDir(), Region: region, Bucket: bucket, RoleARN: role,
		ExternalID: extID, Account: "111122223333", WriterKey: "AKIAINPROCWRITER", WriterSecret: "inproc-writer-secret"})
	if err != nil {
		t.Fatal(err)
	}
	defer lake.Close()
	srv := lake.S3
	for k, v := range lake.Env {
		t.Setenv(k, v)
	}
	dir := t.TempDir()
	mapping, _ := filepath.Abs("../../mappings/zscaler-dspm/security_finding_1.1.0.yaml")
	// An alert rule: the epochs' deliveries must apply the rules compiled at load.
	rules := "rules:\n  - name: high-and-critical\n    enabled: true\n    scope: 'lower(risk ?? \"\") in [\"critical\", \"high\"]'\n"
	os.WriteFile(filepath.Join(dir, "dspm.yaml"), []byte(lake.Integration("dspm", mapping, rules)), 0o600)
	svc, err := New(Config{Paths: []string{dir}, DataDir: filepath.Join(dir, "data"), RollAge: 200 * time.Millisecond,
		RollBytes: 1 << 20, IngestTokens: []string{token}})
	if err != nil {
		t.Fatal(err)
	}
	if err := svc.Start(); err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(svc.Handler())
	defer hs.Close()

	const clients, batches, per = 6, 8, 40
	var wg sync.WaitGroup
	for c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			g := alertgen.New(uint64(c+1), alertgen.Options{Accounts: 5, Days: 1})
			for b := range batches {
				var body []byte
				for range per {
					body = g.AppendNDJSON(body)
				}
				// Every batch is sent twice with its key: the second must ingest nothing.
				for range 2 {
					req, _ := http.NewRequest("POST", hs.URL+"/v1/integrations/dspm/alerts", bytes.NewReader(body))
					req.Header.Set("Authorization", "Bearer "+token)
					req.Header.Set("Idempotency-Key", fmt.Sprintf("c%d-b%d", c, b))
					resp, err := http.DefaultClient.Do(req)
					if err != nil {
						t.Error(err)
						return
					}
					resp.Body.Close()
					if resp.StatusCode != http.StatusAccepted {
						t.Errorf("status %d", resp.StatusCode)
					}
				}
			}
		}()
	}
	wg.Wait()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	st, _ := svc.Status("dspm")
	if err := svc.Drain(ctx); err != nil {
		t.Fatal(err)
	}
	if st.Alerts.Accepted != clients*batches*per {
		t.Fatalf("accepted %d, want %d (a retry was ingested twice?)", st.Alerts.Accepted, clients*batches*per)
	}
	// Reopen to read the final status from disk.
	svc, err = New(Config{Paths: []string{dir}, DataDir: filepath.Join(dir, "data"), IngestTokens: []string{token}})
	if err != nil {
		t.Fatal(err)
	}
	defer svc.Close()
	st, _ = svc.Status("dspm")
	a := st.Alerts
	if a.Written+a.DeadLettered+a.Filtered != clients*batches*per || a.Filtered == 0 || a.Written == 0 || st.Backlog.Alerts != 0 || st.State != "Success" {
		b, _ := json.Marshal(st)
		t.Fatalf("status after drain: %s", b)
	}
	objs, err := srv.Objects(context.Background(), bucket)
	if err != nil {
		t.Fatal(err)
	}
	var rows int64
	for k := range objs {
		if !strings.HasPrefix(k, "ext/dspmalerts/region=") {
			t.Errorf("key %s", k)
		}
		body, _, err := srv.Get(context.Background(), bucket, k)
		if err != nil {
			t.Fatal(err)
		}
		r, err := file.NewParquetReader(bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		rows += r.NumRows()
		r.Close()
	}
	if rows != a.Written {
		t.Fatalf("%d rows in the bucket, %d written", rows, a.Written)
	}
}

// BenchmarkSplitAlerts: one 500-alert NDJSON request, checked and copied
// into its log record.
func BenchmarkSplitAlerts(b *testing.B) {
	g := alertgen.New(1, alertgen.Options{Accounts: 20, Days: 1})
	var body []byte
	for range 500 {
		body = g.AppendNDJSON(body)
	}
	out := make([]byte, 0, len(body))
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		var n int
		out, n, _, _ = splitAlerts(body, out[:0], limits{}, nil)
		if n != 500 {
			b.Fatal(n)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*500), "ns/alert")
}

func TestKeepRecentKeepsOrder(t *testing.T) {
	in := &integration{recent: newRing(recentAlerts)}
	in.keepRecent(time.Now(), []byte("{\"n\":1}\n{\"n\":2}\n{\"n\":3}\n{\"n\":4}\n{\"n\":5}\n{\"n\":6}\n{\"n\":7}\n"))
	var got []string
	for _, r := range in.recent.list() { // newest first
		got = append(got, string(r.Alert))
	}
	if want := `[{"n":7} {"n":6} {"n":5} {"n":4} {"n":3}]`; fmt.Sprint(got) != want {
		t.Fatalf("recent %v, want %s", got, want)
	}
}

// Keys older than the retention are forgotten, in memory and in the file.
func TestKeyBookForgets(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keys")
	kb, err := openKeyBook(path, time.Hour, 0)
	if err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-2 * time.Hour)
	for i := range 5000 {
		kb.remember(fmt.Sprintf("old-%d", i), response{Accepted: 1}, old)
	}
	kb.remember("new", response{Accepted: 2}, time.Now())
	if err := kb.sync(); err != nil {
		t.Fatal(err)
	}
	if _, done := kb.begin("old-1"); done {
		t.Fatal("a key past the retention is still remembered")
	}
	kb.finish("old-1", response{}, false)
	if r, done := kb.begin("new"); !done || r.Accepted != 2 {
		t.Fatalf("a fresh key was forgotten: %+v %v", r, done)
	}
	if err := kb.close(); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(path)
	if n := bytes.Count(b, []byte{'\n'}); n != 1 {
		t.Fatalf("the key file holds %d lines after compaction, want 1", n)
	}
}

// TestKeyBookCountLimit (issue 20, L6): Idempotency-Keys are bounded in
// number, not only in age: past the limit the oldest are forgotten, in
// memory and, once compacted, in the file; the newest are kept.
func TestKeyBookCountLimit(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keys")
	kb, err := openKeyBook(path, time.Hour, 1000)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 5000 {
		k := fmt.Sprintf("key-%d", i)
		kb.begin(k)
		kb.finish(k, response{Accepted: 1}, true)
		if len(kb.keys) > 1000 {
			t.Fatalf("after %d keys, %d remembered: past the limit", i+1, len(kb.keys))
		}
	}
	if r, done := kb.begin("key-4999"); !done || r.Accepted != 1 {
		t.Fatal("the newest key was forgotten")
	}
	if _, done := kb.begin("key-0"); done {
		t.Fatal("the oldest key is still remembered")
	}
	kb.finish("key-0", response{}, false)
	if err := kb.close(); err != nil {
		t.Fatal(err)
	}
	kb, err = openKeyBook(path, time.Hour, 1000)
	if err != nil {
		t.Fatal(err)
	}
	if len(kb.keys) > 1000 {
		t.Fatalf("reopened with %d keys, past the limit", len(kb.keys))
	}
	if _, done := kb.begin("key-4999"); !done {
		t.Fatal("the newest key did not survive a reopen")
	}
}
