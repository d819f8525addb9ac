package service

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ocsfmap/ocsfmap/engine/alertgen"
)

const limitsToken = "limits-test-token-0123456789"

// newIngestService starts a service over one integration file per name,
// serving HTTP on loopback. Its bucket is unreachable and delivery is not
// started: what is accepted stays in the log, as with S3 down.
func newIngestService(t *testing.T, cfg Config, names ...string) (*Service, *httptest.Server) {
	t.Helper()
	for k, v := range map[string]string{
		"AWS_ACCESS_KEY_ID": "AKIALIMITS", "AWS_SECRET_ACCESS_KEY": "limits-secret", "AWS_REGION": "us-east-2",
		"AWS_EC2_METADATA_DISABLED": "true", "AWS_ENDPOINT_URL_S3": "http://127.0.0.1:1", "AWS_ENDPOINT_URL_STS": "http://127.0.0.1:1",
		"AWS_CONFIG_FILE": os.DevNull, "AWS_SHARED_CREDENTIALS_FILE": os.DevNull, "AWS_PROFILE": "",
	} {
		t.Setenv(k, v)
	}
	dir := t.TempDir()
	mapping, _ := filepath.Abs("../../mappings/zscaler-dspm/security_finding_1.1.0.yaml")
	for _, n := range names {
		os.WriteFile(filepath.Join(dir, n+".yaml"), []byte(fmt.Sprintf(`name: %s
destination: amazon-security-lake
mapping: %s
role_arn: arn:aws:iam::444455556666:role/AmazonSecurityLake-Provider-dspmalerts-us-east-2
external_id: limits-external-id-01
bucket: aws-security-data-lake-us-east-2-limits
region: us-east-2
prefix: ext/dspmalerts/
path_style: true
`, n, mapping)), 0o600)
	}
	cfg.Paths = []string{dir}
	cfg.DataDir = filepath.Join(dir, "data")
	cfg.IngestTokens = []string{limitsToken}
	svc, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(svc.Handler())
	t.Cleanup(func() {
		hs.Close()
		svc.Close()
	})
	return svc, hs
}

type ingestResult struct {
	status int
	body   map[string]any
	header http.Header
}

func postAlerts(t *testing.T, hs *httptest.Server, name string, body []byte, gz bool, key string) ingestResult {
	t.Helper()
	if gz {
		var b bytes.Buffer
		zw := gzip.NewWriter(&b)
		zw.Write(body)
		zw.Close()
		body = b.Bytes()
	}
	req, _ := http.NewRequest("POST", hs.URL+"/v1/integrations/"+name+"/alerts", bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+limitsToken)
	if gz {
		req.Header.Set("Content-Encoding", "gzip")
	}
	if key != "" {
		req.Header.Set("Idempotency-Key", key)
	}
	resp, err := hs.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	json.NewDecoder(resp.Body).Decode(&m)
	return ingestResult{resp.StatusCode, m, resp.Header}
}

func fileSize(path string) int64 {
	fi, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return fi.Size()
}

// H3: small gzip bodies of junk lines must not turn into a rejected-lines
// file a hundred times their size, nor an array of millions of numbers into
// gigabytes of it: the request is refused whole, with a reason.
func TestIngestJunkDoesNotAmplify(t *testing.T) {
	svc, hs := newIngestService(t, Config{}, "dspm")
	in := svc.lookup("dspm")
	rejected := filepath.Join(in.dir, "rejected.ndjson")

	// Lines of control bytes: each grows ~6× once JSON-escaped.
	junk := bytes.Repeat(append(bytes.Repeat([]byte{1}, 200), '\n'), 80_000) // 16 MB
	var sent int
	for range 8 {
		res := postAlerts(t, hs, "dspm", junk, true, "")
		if res.status != http.StatusBadRequest || !strings.Contains(fmt.Sprint(res.body["error"]), "not JSON objects") {
			t.Fatalf("a body of 80,000 junk lines: %d %v", res.status, res.body)
		}
		sent++
	}
	if n := fileSize(rejected); n > 0 {
		t.Fatalf("%d refused junk requests left %d bytes of rejected lines", sent, n)
	}

	// [1,1,1,…]: 8 M elements in a 16 MB body (a few KB gzipped).
	arr := append(append([]byte{'['}, bytes.Repeat([]byte("1,"), 8<<20-2)...), '1', ']')
	begin := time.Now()
	res := postAlerts(t, hs, "dspm", arr, true, "")
	if res.status != http.StatusBadRequest || time.Since(begin) > 20*time.Second {
		t.Fatalf("an array of 8 M numbers: %d %v after %v", res.status, res.body, time.Since(begin))
	}
	// [{},{},…] past --max-alerts: 413, nothing in the log.
	objs := append(append([]byte{'['}, bytes.Repeat([]byte("{},"), svc.cfg.MaxAlerts)...), '{', '}', ']')
	if res := postAlerts(t, hs, "dspm", objs, true, ""); res.status != http.StatusRequestEntityTooLarge ||
		!strings.Contains(fmt.Sprint(res.body["error"]), "--max-alerts") {
		t.Fatalf("an array of %d alerts: %d %v", svc.cfg.MaxAlerts+1, res.status, res.body)
	}
	if n := fileSize(rejected); n > 0 {
		t.Fatalf("refused arrays left %d bytes of rejected lines", n)
	}
	if st, _ := svc.Status("dspm"); st.Alerts.Accepted != 0 || st.Alerts.Rejected != 0 {
		t.Fatalf("refused requests were counted: %+v", st.Alerts)
	}

	// Under the limits, the rejected lines keep at most maxStoredRaw each
	// and maxStoredRawPerRequest in all: 200 lines of 64 KiB of control
	// bytes beside one alert store ~1 MiB of them, not 13 MB ×6.
	g := alertgen.New(1, alertgen.Options{Accounts: 1, Days: 1})
	body := g.AppendNDJSON(nil)
	long := append(bytes.Repeat([]byte{2}, 64<<10), '\n')
	body = append(body, append(bytes.Repeat([]byte("x"), 100<<10), '\n')...) // one line over maxStoredRaw
	for range 200 {
		body = append(body, long...)
	}
	res = postAlerts(t, hs, "dspm", body, true, "")
	if res.status != http.StatusAccepted || res.body["accepted"].(float64) != 1 || res.body["rejected"].(float64) != 201 {
		t.Fatalf("one alert and 201 junk lines: %d %v", res.status, res.body)
	}
	if n := fileSize(rejected); n > 8*maxStoredRawPerRequest {
		t.Fatalf("201 rejected lines of %d KB stored %d bytes", len(body)>>10, n)
	}
	f, _ := os.Open(rejected)
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	lines := 0
	for sc.Scan() {
		var d struct {
			Line         int    `json:"line"`
			Raw          string `json:"raw"`
			RawTruncated bool   `json:"raw_truncated"`
			RawBytes     int    `json:"raw_bytes"`
		}
		if err := json.Unmarshal(sc.Bytes(), &d); err != nil {
			t.Fatal(err)
		}
		if lines++; lines == 1 && (d.Line != 2 || !d.RawTruncated || d.RawBytes != 100<<10 || len(d.Raw) != maxStoredRaw || d.Raw[0] != 'x') {
			t.Fatalf("the long line's dead letter: line %d, truncated %v, %d of %d bytes", d.Line, d.RawTruncated, len(d.Raw), d.RawBytes)
		}
		if !d.RawTruncated && len(d.Raw) != 64<<10 {
			t.Fatalf("line %d: %d bytes kept, not marked truncated", d.Line, len(d.Raw))
		}
	}
	if lines != 201 {
		t.Fatalf("%d rejected lines stored, want 201 (each with its reason)", lines)
	}
}

// H3: the rejected lines, the log and the keys share the --max-log budget:
// past it ingest answers 503 with Retry-After, and junk alone cannot fill
// it (the rejected lines keep to their share, dropping the oldest).
func TestIngestDiskBudget(t *testing.T) {
	const budget = 2 << 20
	svc, hs := newIngestService(t, Config{MaxLogBytes: budget}, "dspm")
	in := svc.lookup("dspm")
	onDisk := func() (total int64) {
		filepath.Walk(in.dir, func(_ string, fi os.FileInfo, err error) error {
			if err == nil && !fi.IsDir() {
				total += fi.Size()
			}
			return nil
		})
		return total
	}
	junk := bytes.Repeat(append(bytes.Repeat([]byte("not json "), 100), '\n'), 900) // 810 KB a request
	for i := range 40 {
		if res := postAlerts(t, hs, "dspm", junk, true, ""); res.status != http.StatusAccepted {
			t.Fatalf("junk request %d: %d %v (rejected lines must not use up the budget)", i, res.status, res.body)
		}
	}
	if n := onDisk(); n > budget/2 {
		t.Fatalf("40 junk requests: %d bytes on disk, over their share of the %d budget", n, budget)
	}
	g := alertgen.New(7, alertgen.Options{Accounts: 2, Days: 1})
	var full ingestResult
	accepted := 0
	for i := 0; ; i++ {
		var body []byte
		for range 50 {
			body = g.AppendNDJSON(body)
		}
		res := postAlerts(t, hs, "dspm", body, false, fmt.Sprintf("budget-%d", i))
		if res.status == http.StatusServiceUnavailable {
			full = res
			break
		}
		if res.status != http.StatusAccepted || i > 1000 {
			t.Fatalf("request %d: %d %v", i, res.status, res.body)
		}
		accepted += 50
	}
	if full.header.Get("Retry-After") == "" || !strings.Contains(fmt.Sprint(full.body["error"]), "budget") {
		t.Fatalf("503 without Retry-After or reason: %v %v", full.header, full.body)
	}
	if n := onDisk(); n > budget+64<<10 {
		t.Fatalf("%d bytes on disk past a budget of %d", n, budget)
	}
	if st, _ := svc.Status("dspm"); st.Alerts.Accepted != int64(accepted) || accepted < 200 {
		t.Fatalf("accepted %d, answered 202 for %d", st.Alerts.Accepted, accepted)
	}
}

// M3: a client that goes away once its body is sent does not make the log
// look broken: /readyz stays 200, and what it sent is accepted.
func TestIngestClientGoneIsNotALogFailure(t *testing.T) {
	svc, hs := newIngestService(t, Config{}, "dspm")
	g := alertgen.New(3, alertgen.Options{Accounts: 2, Days: 1})
	var body []byte
	for range 2000 {
		body = g.AppendNDJSON(body)
	}
	const clients = 10
	for i := range clients {
		c, err := net.Dial("tcp", hs.Listener.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(c, "POST /v1/integrations/dspm/alerts HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nIdempotency-Key: gone-%d\r\nContent-Length: %d\r\n\r\n", limitsToken, i, len(body))
		c.Write(body)
		c.Close()
	}
	// Every request is accepted (its key is known) even though no client waited.
	deadline := time.Now().Add(30 * time.Second)
	for {
		st, _ := svc.Status("dspm")
		if st.Alerts.Accepted == clients*2000 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("accepted %d of %d alerts whose clients left", st.Alerts.Accepted, clients*2000)
		}
		time.Sleep(50 * time.Millisecond)
	}
	resp, err := hs.Client().Get(hs.URL + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("/readyz after clients left: %d %s", resp.StatusCode, b)
	}
}

// M4: slow bodies cannot starve ingest: another integration has slots of
// its own, and a body slower than the minimum rate is cut, freeing its
// slot for a normal request of the same integration.
func TestIngestSlowBodiesDoNotStarve(t *testing.T) {
	svc, hs := newIngestService(t, Config{MaxIngests: 4, IngestWait: 4 * time.Second, BodyGrace: time.Second, MinReadRate: 1 << 10}, "a", "b")
	_ = svc
	answers := make(chan string, 8)
	var wg sync.WaitGroup
	stop := make(chan struct{})
	defer func() { close(stop); wg.Wait() }()
	for range 4 {
		c, err := net.Dial("tcp", hs.Listener.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(c, "POST /v1/integrations/a/alerts HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nContent-Length: 1000000\r\n\r\n{", limitsToken)
		wg.Add(2)
		go func() { // one byte a second, for as long as the server reads
			defer wg.Done()
			for {
				select {
				case <-stop:
					c.Close()
					return
				case <-time.After(time.Second):
					if _, err := c.Write([]byte(" ")); err != nil {
						return
					}
				}
			}
		}()
		go func() {
			defer wg.Done()
			line, _ := bufio.NewReader(c).ReadString('\n')
			answers <- strings.TrimSpace(line)
		}()
	}
	time.Sleep(300 * time.Millisecond) // the slow requests hold a's slots
	body := alertgen.New(5, alertgen.Options{Accounts: 1, Days: 1}).AppendNDJSON(nil)
	begin := time.Now()
	if res := postAlerts(t, hs, "b", body, false, ""); res.status != http.StatusAccepted || time.Since(begin) > time.Second {
		t.Fatalf("integration b while a's slots are held: %d %v after %v", res.status, res.body, time.Since(begin))
	}
	if res := postAlerts(t, hs, "a", body, false, ""); res.status != http.StatusAccepted {
		t.Fatalf("integration a behind 4 slow bodies: %d %v after %v", res.status, res.body, time.Since(begin))
	}
	for range 4 {
		select {
		case a := <-answers:
			if !strings.Contains(a, " 408 ") {
				t.Fatalf("a slow body was answered %q, want 408", a)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("a slow body is still being read")
		}
	}
}

// M5: the recent-alerts ring keeps no alert over maxRecentAlert.
func TestRecentRingBounded(t *testing.T) {
	in := &integration{recent: newRing(recentAlerts)}
	big := fmt.Appendf(nil, `{"a":"%s"}`, strings.Repeat("x", maxRecentAlert))
	in.keepRecent(time.Now(), append(append([]byte("{\"n\":1}\n"), big...), '\n'))
	got := in.recent.list()
	if len(got) != 1 || string(got[0].Alert) != `{"n":1}` {
		t.Fatalf("the ring kept %d alerts (an alert of %d bytes among them?)", len(got), len(big))
	}
}

// H3: the Idempotency-Key file recovers from a failed write (a full disk)
// once writes work again, instead of failing every later commit.
func TestKeyBookRecoversFromWriteError(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keys")
	kb, err := openKeyBook(path, time.Hour, 0)
	if err != nil {
		t.Fatal(err)
	}
	kb.remember("before", response{Accepted: 1}, time.Now())
	kb.f.Close() // every write now fails, as on a full disk
	kb.remember("during", response{Accepted: 2}, time.Now())
	if err := kb.sync(); err == nil {
		t.Fatal("sync on a closed file did not fail")
	}
	kb.remember("after", response{Accepted: 3}, time.Now())
	if err := kb.sync(); err != nil {
		t.Fatalf("the key file did not recover: %v", err)
	}
	if err := kb.close(); err != nil {
		t.Fatal(err)
	}
	kb, err = openKeyBook(path, time.Hour, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer kb.close()
	for i, k := range []string{"before", "during", "after"} {
		if r, done := kb.begin(k); !done || r.Accepted != i+1 {
			t.Errorf("key %q after the recovery: %+v %v", k, r, done)
		}
	}
}

// H3: delivery's dead letters keep to their share of the disk budget: the
// oldest epochs' files go after a delivery, the newest stays.
func TestDeadLettersKeepToTheirShare(t *testing.T) {
	const budget = 8 << 20 // a share of 1 MiB
	svc, _ := newIngestService(t, Config{MaxLogBytes: budget}, "dspm")
	in := svc.lookup("dspm")
	dir := filepath.Join(in.dir, "dead-letters")
	os.MkdirAll(dir, 0o755)
	for i := range 6 {
		os.WriteFile(filepath.Join(dir, fmt.Sprintf("%020d.ndjson", i+1)), bytes.Repeat([]byte("x"), 400<<10), 0o644)
	}
	in.pruneDeadLetters()
	size, names := folderFiles(dir)
	if size > budget/budgetShare || len(names) != 2 || filepath.Base(names[1]) != fmt.Sprintf("%020d.ndjson", 6) {
		t.Fatalf("after pruning: %d bytes in %v", size, names)
	}
	// One epoch's file over the share is kept: it is the newest.
	os.WriteFile(filepath.Join(dir, fmt.Sprintf("%020d.ndjson", 7)), bytes.Repeat([]byte("x"), 2<<20), 0o644)
	in.pruneDeadLetters()
	if _, names := folderFiles(dir); len(names) != 1 {
		t.Fatalf("after pruning past a big newest file: %v", names)
	}
}

// M5: an array body is split element by element, into the log record: no
// allocation per element (the review's 5.57 M-element array took 322 MB).
func TestSplitArrayStreams(t *testing.T) {
	const n = 100_000
	body := append(append([]byte{'['}, bytes.Repeat([]byte(`{"a":1},`), n-1)...), `{"a":1}]`...)
	out := make([]byte, 0, len(body))
	allocs := testing.AllocsPerRun(3, func() {
		var alerts int
		var err error
		out, alerts, _, err = splitAlerts(body, out[:0], limits{alerts: n}, nil)
		if alerts != n || err != nil {
			t.Fatalf("%d alerts, %v", alerts, err)
		}
	})
	if allocs > n/100 {
		t.Fatalf("%.0f allocations to split an array of %d alerts", allocs, n)
	}
}
