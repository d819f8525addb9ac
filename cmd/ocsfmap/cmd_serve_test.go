package main

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ocsfmap/ocsfmap/engine/lake/readertest"
)

const serveToken = "serve-test-ingest-token-0123456789"

// serveFixture is a fake Security Lake, an integration file pointing at it,
// and `ocsfmap serve` processes started (and killed) against it.
type serveFixture struct {
	t      testing.TB
	lake   *fakeLake
	bucket string
	dir    string // the integration file's folder
	data   string // --data
	integ  string // the integration file
	addr   string
	args   []string
	cmd    *exec.Cmd
	logs   *bytes.Buffer
	logMu  *sync.Mutex
}

func newServeFixture(t testing.TB, rules string, extra ...string) *serveFixture {
	t.Helper()
	const (
		region = "us-east-2"
		role   = "arn:aws:iam::444455556666:role/AmazonSecurityLake-Provider-dspmalerts-us-east-2"
		extID  = "serve-test-external-id-01"
	)
	bucket := fmt.Sprintf("aws-security-data-lake-us-east-2-serve-%d", time.Now().UnixNano()%1e9)
	lake := startFakeLake(t, region, bucket, role, extID, "111122223333", "AKIASERVEWRITER", "serve-writer-secret")
	dir := t.TempDir()
	mapping, _ := filepath.Abs(mapping110)
	integ := filepath.Join(dir, "dspm.yaml")
	os.WriteFile(integ, []byte(lake.Integration("dspm", mapping, rules)), 0o600)
	f := &serveFixture{t: t, lake: lake, bucket: bucket, dir: dir, data: filepath.Join(dir, "data"), integ: integ,
		logs: &bytes.Buffer{}, logMu: &sync.Mutex{}}
	f.args = append([]string{"serve", "-c", integ, "--data", f.data, "--log-format", "json"}, extra...)
	t.Cleanup(func() {
		if f.cmd != nil && f.cmd.ProcessState == nil {
			f.cmd.Process.Kill()
			f.cmd.Wait()
		}
		if t.Failed() {
			f.logMu.Lock()
			t.Logf("serve logs:\n%s", f.logs.String())
			f.logMu.Unlock()
		}
	})
	return f
}

// start starts serve on a free port and waits until it answers /healthz.
func (f *serveFixture) start() {
	f.t.Helper()
	if f.addr == "" {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			f.t.Fatal(err)
		}
		f.addr = ln.Addr().String()
		ln.Close()
	}
	cmd := exec.Command(bin, append(f.args, "--listen", f.addr)...)
	cmd.Env = append(f.lake.environ(os.Environ()), "OCSFMAP_INGEST_TOKEN="+serveToken)
	cmd.Stdout = io.Discard
	pr, pw := io.Pipe()
	cmd.Stderr = pw
	go func() {
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			f.logMu.Lock()
			f.logs.Write(sc.Bytes())
			f.logs.WriteByte('\n')
			f.logMu.Unlock()
		}
	}()
	if err := cmd.Start(); err != nil {
		f.t.Fatal(err)
	}
	f.cmd = cmd
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get("http://" + f.addr + "/healthz")
		if err == nil {
			resp.Body.Close()
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	f.t.Fatalf("serve did not answer /healthz within 30s")
}

func (f *serveFixture) kill() {
	f.cmd.Process.Signal(syscall.SIGKILL)
	f.cmd.Wait()
}

// freeAddr is a loopback address no one listens on.
func freeAddr(t testing.TB) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// stop sends SIGTERM and waits for the drain; serve must exit 0.
func (f *serveFixture) stop() {
	f.t.Helper()
	f.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- f.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			f.t.Fatalf("serve after SIGTERM: %v", err)
		}
	case <-time.After(2 * time.Minute):
		f.cmd.Process.Kill()
		f.t.Fatal("serve did not drain within 2 minutes")
	}
}

type postResult struct {
	status int
	body   map[string]any
	header http.Header
}

func (f *serveFixture) post(token, key string, body []byte, hdr ...string) (postResult, error) {
	req, _ := http.NewRequest("POST", "http://"+f.addr+"/v1/integrations/dspm/alerts", bytes.NewReader(body))
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if key != "" {
		req.Header.Set("Idempotency-Key", key)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	c := http.Client{Timeout: 30 * time.Second}
	resp, err := c.Do(req)
	if err != nil {
		return postResult{}, err
	}
	defer resp.Body.Close()
	var m map[string]any
	json.NewDecoder(resp.Body).Decode(&m)
	return postResult{status: resp.StatusCode, body: m, header: resp.Header}, nil
}

func (f *serveFixture) status() map[string]any {
	f.t.Helper()
	req, _ := http.NewRequest("GET", "http://"+f.addr+"/v1/integrations/dspm", nil)
	req.Header.Set("Authorization", "Bearer "+serveToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	json.NewDecoder(resp.Body).Decode(&m)
	return m
}

// bucketUIDs reads every object under the prefix back as Parquet and counts
// rows by finding.uid.
func (f *serveFixture) bucketUIDs() (map[string]int, int) {
	f.t.Helper()
	objs, err := f.lake.srv.Objects(context.Background(), f.bucket)
	if err != nil {
		f.t.Fatal(err)
	}
	key := regexp.MustCompile(`^ext/dspmalerts/region=[a-z0-9-]+/accountId=(\d{12}|external_[A-Za-z0-9._-]+)/eventDay=\d{8}/[0-9a-f-]{36}\.parquet$`)
	uids := map[string]int{}
	for k := range objs {
		if !key.MatchString(k) {
			f.t.Errorf("object key %q is not a Security Lake key", k)
			continue
		}
		body, _, err := f.lake.srv.Get(context.Background(), f.bucket, k)
		if err != nil {
			f.t.Fatal(err)
		}
		for _, u := range readertest.Strings(f.t, body, "finding", "uid") {
			uids[u]++
		}
	}
	return uids, len(objs)
}

// deadUIDs counts the dead-lettered alerts by alert_id, over every
// delivery's dead-letter file.
func (f *serveFixture) deadUIDs() map[string]int {
	f.t.Helper()
	out := map[string]int{}
	files, _ := filepath.Glob(filepath.Join(f.data, "dspm", "dead-letters", "*.ndjson"))
	for _, p := range files {
		for _, l := range strings.Split(strings.TrimSpace(readFile(f.t, p)), "\n") {
			var d struct{ Raw string }
			if err := json.Unmarshal([]byte(l), &d); err != nil {
				f.t.Fatalf("%s: %v", p, err)
			}
			for _, u := range alertUIDs(f.t, []byte(d.Raw)) {
				out[u]++
			}
		}
	}
	return out
}

// alertUIDs lists the alert_id (finding.uid) of each NDJSON alert.
func isDone(c <-chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

func alertUIDs(t testing.TB, ndjson []byte) []string {
	var out []string
	for _, l := range bytes.Split(bytes.TrimSpace(ndjson), []byte("\n")) {
		var a struct {
			ID string `json:"alert_id"`
		}
		if err := json.Unmarshal(l, &a); err != nil {
			t.Fatal(err)
		}
		out = append(out, a.ID)
	}
	return out
}

// TestServeKill9ExactlyOnce: four clients post alerts with Idempotency-Keys,
// retrying until they get a 202, while serve is killed with SIGKILL at
// random moments and restarted. At the end every alert that got a 202 is
// in the bucket exactly once, and nothing else is.
func TestServeKill9ExactlyOnce(t *testing.T) {
	f := newServeFixture(t, "", "--roll-age", "300ms", "--roll-size", "256KiB")
	f.start()

	const clients, minBatches, perBatch, minKills = 4, 20, 50, 6
	var (
		mu    sync.Mutex
		acked = map[string]bool{} // finding.uid of every alert that got a 202
		sent  = map[string]bool{}
	)
	enoughKills := make(chan struct{})
	var wg sync.WaitGroup
	for c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for b := 0; b < minBatches || !isDone(enoughKills); b++ {
				body := alerts(perBatch, uint64(1000*c+b+1), 2)
				uids := alertUIDs(t, body)
				mu.Lock()
				for _, u := range uids {
					sent[u] = true
				}
				mu.Unlock()
				key := fmt.Sprintf("client-%d-batch-%d", c, b)
				for attempt := 0; ; attempt++ {
					res, err := f.post(serveToken, key, body)
					if err == nil && res.status == http.StatusAccepted {
						if n := int(res.body["accepted"].(float64)); n != perBatch {
							t.Errorf("%s: accepted %d of %d", key, n, perBatch)
						}
						mu.Lock()
						for _, u := range uids {
							acked[u] = true
						}
						mu.Unlock()
						break
					}
					if attempt > 2000 {
						t.Errorf("%s: no 202 after %d attempts (last: %v %v)", key, attempt, res.status, err)
						return
					}
					time.Sleep(20 * time.Millisecond)
				}
				time.Sleep(time.Duration(rand.IntN(20)) * time.Millisecond)
			}
		}()
	}
	// Kill at random moments while the clients post; they go on until
	// there were enough kills.
	kills := 0
	for kills < minKills {
		time.Sleep(time.Duration(100+rand.IntN(400)) * time.Millisecond)
		f.kill()
		kills++
		f.start()
	}
	close(enoughKills)
	wg.Wait()
	if t.Failed() {
		return
	}
	f.stop()

	uids, objects := f.bucketUIDs()
	dead := f.deadUIDs()
	var missing, dup, extra int
	for u := range acked {
		switch n := uids[u] + dead[u]; {
		case n == 0:
			missing++
		case n > 1:
			dup++
		}
	}
	for u, n := range uids {
		if !sent[u] {
			extra++
		}
		if n+dead[u] > 1 && !acked[u] {
			dup++
		}
	}
	t.Logf("%d kills; %d alerts acknowledged, %d rows in %d objects, %d dead-lettered", kills, len(acked), len(uids), objects, len(dead))
	if missing > 0 || dup > 0 || extra > 0 {
		t.Fatalf("not exactly once: %d acknowledged alerts missing, %d duplicated, %d never sent", missing, dup, extra)
	}
	if len(acked) != len(sent) {
		t.Fatalf("%d alerts acknowledged, %d sent", len(acked), len(sent))
	}
	// Delivered: nothing left in the log's backlog, the status is Success.
	f.start()
	st := f.status()
	if st["state"] != "Success" {
		t.Fatalf("status after delivery: %v", st)
	}
	backlog := st["backlog"].(map[string]any)
	if backlog["alerts"].(float64) != 0 {
		t.Fatalf("backlog after drain: %v", backlog)
	}
	f.stop()
}

// TestServeIngestAPI: tokens, limits, malformed lines, gzip, idempotency,
// status, metrics and the roll on a trickle.
func TestServeIngestAPI(t *testing.T) {
	f := newServeFixture(t, "", "--roll-age", "500ms", "--max-body", "64KiB")
	opsAddr := freeAddr(t)
	f.args = append(f.args, "--metrics-addr", opsAddr)
	f.start()
	body := alerts(20, 77, 1)

	// No token, a wrong one: 401 and nothing written.
	for _, tok := range []string{"", "wrong-token"} {
		res, err := f.post(tok, "", body)
		if err != nil || res.status != http.StatusUnauthorized {
			t.Fatalf("token %q: %v %v", tok, res.status, err)
		}
	}
	if st := f.status(); st["alerts"].(map[string]any)["accepted"].(float64) != 0 {
		t.Fatalf("a request without a valid token was accepted: %v", st)
	}
	// Unknown integration.
	req, _ := http.NewRequest("POST", "http://"+f.addr+"/v1/integrations/nope/alerts", bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+serveToken)
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusNotFound {
		t.Fatalf("unknown integration: %v %v", resp.StatusCode, err)
	}
	// Over --max-body, plain and as a gzip bomb.
	big := bytes.Repeat([]byte(`{"a":"`+strings.Repeat("x", 1000)+`"}`+"\n"), 100)
	if res, _ := f.post(serveToken, "", big); res.status != http.StatusRequestEntityTooLarge {
		t.Fatalf("oversize: %d", res.status)
	}
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(big)
	zw.Close()
	if res, _ := f.post(serveToken, "", gz.Bytes(), "Content-Encoding", "gzip"); res.status != http.StatusRequestEntityTooLarge {
		t.Fatalf("gzip inflating over the limit: %d", res.status)
	}
	// Malformed lines are counted and dead-lettered; the rest is accepted.
	mixed := append(append([]byte("not json\n"), body...), []byte("{\"broken\": \n[1,2]\n")...)
	res, err := f.post(serveToken, "mixed-1", mixed)
	if err != nil || res.status != http.StatusAccepted || res.body["accepted"].(float64) != 20 || res.body["rejected"].(float64) != 3 {
		t.Fatalf("mixed body: %v %v", res, err)
	}
	rejected := readFile(t, filepath.Join(f.data, "dspm", "rejected.ndjson"))
	if strings.Count(rejected, "\n") != 3 || !strings.Contains(rejected, `"raw":"not json"`) || !strings.Contains(rejected, `"code":"R400"`) {
		t.Fatalf("dead letters of the rejected lines:\n%s", rejected)
	}
	// The same key again: 202, nothing new.
	res, _ = f.post(serveToken, "mixed-1", mixed)
	if res.status != http.StatusAccepted || res.body["replayed"] != true {
		t.Fatalf("retry with the same key: %v", res)
	}
	// A JSON array, gzip-compressed.
	var arr bytes.Buffer
	arr.WriteString("[")
	for i, l := range bytes.Split(bytes.TrimSpace(alerts(5, 78, 1)), []byte("\n")) {
		if i > 0 {
			arr.WriteString(",\n")
		}
		arr.Write(l)
	}
	arr.WriteString("]")
	gz.Reset()
	zw = gzip.NewWriter(&gz)
	zw.Write(arr.Bytes())
	zw.Close()
	res, _ = f.post(serveToken, "", gz.Bytes(), "Content-Encoding", "gzip")
	if res.status != http.StatusAccepted || res.body["accepted"].(float64) != 5 {
		t.Fatalf("gzip array: %v", res)
	}

	// The trickle is delivered by the age roll: the status turns Success.
	deadline := time.Now().Add(30 * time.Second)
	var st map[string]any
	for time.Now().Before(deadline) {
		st = f.status()
		a := st["alerts"].(map[string]any)
		if st["state"] == "Success" && a["written"].(float64)+a["dead_lettered"].(float64) == 25 {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	a := st["alerts"].(map[string]any)
	if st["state"] != "Success" || a["accepted"].(float64) != 25 || a["rejected"].(float64) != 3 ||
		a["written"].(float64)+a["dead_lettered"].(float64)+a["filtered"].(float64) != 25 {
		t.Fatalf("status: %v", st)
	}
	uids, _ := f.bucketUIDs()
	if len(uids) != int(a["written"].(float64)) {
		t.Fatalf("%d rows in the bucket, %v written", len(uids), a["written"])
	}
	// Metrics: with the ingest token on the public listener, in full on
	// --metrics-addr (issue 20, L3).
	if resp, err := http.Get("http://" + f.addr + "/metrics"); err != nil || resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("/metrics without a token: %v %v", resp.StatusCode, err)
	}
	req, _ = http.NewRequest("GET", "http://"+f.addr+"/metrics", nil)
	req.Header.Set("Authorization", "Bearer "+serveToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("/metrics with the token: %v %v", resp.StatusCode, err)
	}
	m, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	resp, err = http.Get("http://" + opsAddr + "/metrics")
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("--metrics-addr /metrics: %v", err)
	}
	resp.Body.Close()
	for _, want := range []string{`ocsfmap_alerts_accepted_total{integration="dspm"} 25`, `ocsfmap_upload_duration_seconds_bucket`, `ocsfmap_backlog_age_seconds{integration="dspm"} 0`, `ocsfmap_ingest_requests_total{code="202",integration="dspm"}`} {
		if !bytes.Contains(m, []byte(want)) {
			t.Errorf("metrics lack %s", want)
		}
	}
	for _, secret := range []string{"serve-writer-secret", serveToken, f.lake.srv.SecretKey} {
		if bytes.Contains(m, []byte(secret)) || strings.Contains(fmt.Sprint(st), secret) {
			t.Errorf("a credential shows in the metrics or status")
		}
	}
	// The list, and Test Connection through the API.
	req, _ = http.NewRequest("GET", "http://"+f.addr+"/v1/integrations", nil)
	req.Header.Set("Authorization", "Bearer "+serveToken)
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 200 {
		t.Fatalf("list: %v", err)
	} else {
		var l struct{ Integrations []map[string]any }
		json.NewDecoder(resp.Body).Decode(&l)
		resp.Body.Close()
		if len(l.Integrations) != 1 || l.Integrations[0]["name"] != "dspm" || l.Integrations[0]["bucket"] != f.bucket {
			t.Fatalf("list: %v", l)
		}
	}
	// Test Connection is the console's (admin token): not the ingest token's (issue 20, M7).
	req, _ = http.NewRequest("POST", "http://"+f.addr+"/v1/integrations/dspm/test-connection?write_probe=true", nil)
	req.Header.Set("Authorization", "Bearer "+serveToken)
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode == http.StatusOK {
		t.Fatalf("test-connection with the ingest token: %v %v", resp.StatusCode, err)
	}
	if r, err := http.Get("http://" + f.addr + "/readyz"); err != nil || r.StatusCode != 200 {
		t.Fatalf("readyz: %v %v", r.StatusCode, err)
	}
	f.stop()
	f.logMu.Lock()
	logs := f.logs.String()
	f.logMu.Unlock()
	for _, secret := range []string{"serve-writer-secret", serveToken, f.lake.srv.SecretKey} {
		if strings.Contains(logs, secret) {
			t.Errorf("a credential shows in the logs")
		}
	}
}

// TestServeReloadBrokenMapping: SIGHUP with a mapping that no longer
// compiles keeps the previous one running and says why in the status.
func TestServeReloadBrokenMapping(t *testing.T) {
	f := newServeFixture(t, "", "--roll-age", "300ms")
	src, err := os.ReadFile(mapping110)
	if err != nil {
		t.Fatal(err)
	}
	mapping := filepath.Join(f.dir, "mapping.yaml")
	os.WriteFile(mapping, src, 0o644)
	if err := os.CopyFS(filepath.Join(f.dir, "templates"), os.DirFS(filepath.Join(filepath.Dir(mapping110), "templates"))); err != nil {
		t.Fatal(err)
	}
	integ := readFile(t, f.integ)
	integ = regexp.MustCompile(`(?m)^mapping: .*$`).ReplaceAllString(integ, "mapping: "+mapping)
	os.WriteFile(f.integ, []byte(integ), 0o600)
	f.start()
	os.WriteFile(mapping, bytes.Replace(src, []byte("finding.uid:"), []byte("finding.uuid:"), 1), 0o644)
	f.cmd.Process.Signal(syscall.SIGHUP)
	deadline := time.Now().Add(10 * time.Second)
	var st map[string]any
	for time.Now().Before(deadline) {
		if st = f.status(); st["config_error"] != nil {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if msg, _ := st["config_error"].(string); !strings.Contains(msg, "finding.uuid") {
		t.Fatalf("status after a broken reload: %v", st)
	}
	// Still delivering with the previous mapping.
	if res, err := f.post(serveToken, "", alerts(10, 5, 1)); err != nil || res.status != http.StatusAccepted {
		t.Fatalf("ingest after a broken reload: %v %v", res, err)
	}
	deadline = time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if uids, _ := f.bucketUIDs(); len(uids) > 0 {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if uids, _ := f.bucketUIDs(); len(uids) == 0 {
		t.Fatal("nothing delivered after a broken reload")
	}
	// Fixed: the error goes away.
	os.WriteFile(mapping, src, 0o644)
	f.cmd.Process.Signal(syscall.SIGHUP)
	deadline = time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if st = f.status(); st["config_error"] == nil {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if st["config_error"] != nil {
		t.Fatalf("after the fix: %v", st)
	}
	f.stop()
}

// TestServeS3Outage: with the S3 server down, ingest keeps accepting; once
// it is back, the backlog is delivered, exactly once.
func TestServeS3Outage(t *testing.T) {
	f := newServeFixture(t, "", "--roll-age", "200ms", "--max-log", "1MiB")
	f.start()
	if err := f.lake.srv.Stop(); err != nil {
		t.Fatal(err)
	}
	// Ingest goes on until the log reaches its cap, then answers 503 with
	// Retry-After (backpressure, not unbounded memory).
	var want []string
	var full postResult
	for i := 0; ; i++ {
		body := alerts(40, uint64(500+i), 1)
		res, err := f.post(serveToken, fmt.Sprintf("outage-%d", i), body)
		if err != nil {
			t.Fatal(err)
		}
		if res.status == http.StatusServiceUnavailable {
			full = res
			break
		}
		if res.status != http.StatusAccepted || i > 1000 {
			t.Fatalf("ingest with S3 down: %v", res)
		}
		want = append(want, alertUIDs(t, body)...)
	}
	if full.header.Get("Retry-After") == "" || !strings.Contains(fmt.Sprint(full.body["error"]), "full") {
		t.Fatalf("503 without Retry-After or reason: %v", full)
	}
	if len(want) < 200 {
		t.Fatalf("the log refused alerts after only %d", len(want))
	}
	if st := f.status(); st["backlog"].(map[string]any)["alerts"].(float64) == 0 {
		t.Fatalf("with S3 down, nothing should be delivered: %v", st)
	}
	if err := f.lake.srv.Restart(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(90 * time.Second)
	for time.Now().Before(deadline) {
		if st := f.status(); st["backlog"].(map[string]any)["alerts"].(float64) == 0 && st["state"] == "Success" {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	f.stop()
	uids, _ := f.bucketUIDs()
	dead := f.deadUIDs()
	for _, u := range want {
		if uids[u]+dead[u] != 1 {
			t.Fatalf("alert %s is in the bucket %d times, dead-lettered %d times", u, uids[u], dead[u])
		}
	}
	if len(uids)+len(dead) != len(want) {
		t.Fatalf("%d rows and %d dead letters for %d alerts", len(uids), len(dead), len(want))
	}
}
