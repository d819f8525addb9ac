package main

import (
	"bytes"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// setIntegration rewrites the integration file's line `key: …`.
func (f *serveFixture) setIntegration(key, value string) {
	f.t.Helper()
	src := readFile(f.t, f.integ)
	re := regexp.MustCompile(`(?m)^` + key + `: .*$`)
	if !re.MatchString(src) {
		f.t.Fatalf("no %s in the integration file", key)
	}
	if err := os.WriteFile(f.integ, []byte(re.ReplaceAllString(src, key+": "+value)), 0o600); err != nil {
		f.t.Fatal(err)
	}
}

// alive tells whether serve still answers.
func (f *serveFixture) alive() bool {
	resp, err := http.Get("http://" + f.addr + "/healthz")
	if err != nil {
		return false
	}
	resp.Body.Close()
	return true
}

// waitFor polls cond until it holds or timeout passes.
func waitFor(timeout time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if cond() {
			return true
		}
		time.Sleep(100 * time.Millisecond)
	}
	return cond()
}

// waitDelivered waits until every uid is in the bucket, then checks each is
// there exactly once.
func (f *serveFixture) waitDelivered(uids []string, timeout time.Duration) {
	f.t.Helper()
	var got map[string]int
	waitFor(timeout, func() bool {
		got, _ = f.bucketUIDs()
		for _, u := range uids {
			if got[u] == 0 {
				return false
			}
		}
		return true
	})
	for _, u := range uids {
		if got[u] != 1 {
			f.t.Fatalf("alert %s is in the bucket %d times (status %v)", u, got[u], f.status())
		}
	}
}

// TestServeReloadBrokenAWSConfig (issue 20, H1): a SIGHUP while the AWS
// shared configuration does not parse must keep the previous uploader and
// say why in the status; the closing epoch's next failed upload crashed the
// server with a nil pointer.
func TestServeReloadBrokenAWSConfig(t *testing.T) {
	f := newServeFixture(t, "", "--roll-age", "2s")
	// A bucket that does not exist: uploads fail at once (not retried).
	f.setIntegration("bucket", f.bucket+"-wrong")
	f.start()
	body := alerts(10, 41, 1)
	if res, err := f.post(serveToken, "h1", body); err != nil || res.status != http.StatusAccepted {
		t.Fatalf("ingest: %v %v", res, err)
	}
	// The epoch is filling; the AWS configuration breaks; SIGHUP.
	awsConfig := f.lake.Env["AWS_CONFIG_FILE"]
	if err := os.WriteFile(awsConfig, []byte("[default]\nretry_mode = bogus\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	f.cmd.Process.Signal(syscall.SIGHUP)
	var st map[string]any
	if !waitFor(10*time.Second, func() bool { st = f.status(); return st["config_error"] != nil }) {
		t.Fatalf("no config_error after a reload with a broken AWS configuration: %v", st)
	}
	if msg := st["config_error"].(string); !strings.Contains(msg, "AWS configuration") || !strings.Contains(msg, "bogus") {
		t.Fatalf("config_error does not say what is wrong: %q", msg)
	}
	// The epoch is cut and its upload fails (wrong bucket) a few times.
	if !waitFor(20*time.Second, func() bool {
		f.logMu.Lock()
		defer f.logMu.Unlock()
		return strings.Count(f.logs.String(), "delivering an epoch failed; retrying") >= 2
	}) || !f.alive() {
		t.Fatalf("serve does not retry the closing epoch's upload, or died")
	}
	if st := f.status(); st["bucket"] != f.bucket+"-wrong" || st["state"] != "Failed" {
		t.Fatalf("status with the previous configuration running: %v", st)
	}
	// Fixed: the configuration parses again and the bucket is right.
	os.Remove(awsConfig)
	f.setIntegration("bucket", f.bucket)
	f.cmd.Process.Signal(syscall.SIGHUP)
	f.waitDelivered(alertUIDs(t, body), 60*time.Second)
	if st := f.status(); st["config_error"] != nil {
		t.Fatalf("config_error after the fix: %v", st)
	}
	f.stop()
}

// TestServeReloadFixesBucket (issue 20, M1): the retries of a staged epoch
// read the configuration as reloaded: after fixing a wrong bucket and
// SIGHUP, the next retry goes to the right bucket (they went on with the
// uploader from before the reload until a restart).
func TestServeReloadFixesBucket(t *testing.T) {
	f := newServeFixture(t, "", "--roll-age", "300ms")
	f.setIntegration("bucket", f.bucket+"-wrong")
	f.start()
	body := alerts(10, 42, 2)
	if res, err := f.post(serveToken, "m1", body); err != nil || res.status != http.StatusAccepted {
		t.Fatalf("ingest: %v %v", res, err)
	}
	if !waitFor(20*time.Second, func() bool { return f.status()["kind"] == "no-such-bucket" }) {
		t.Fatalf("the wrong bucket does not show in the status: %v", f.status())
	}
	f.setIntegration("bucket", f.bucket)
	f.cmd.Process.Signal(syscall.SIGHUP)
	f.waitDelivered(alertUIDs(t, body), 45*time.Second)
	if st := f.status(); st["state"] != "Success" || st["bucket"] != f.bucket {
		t.Fatalf("status after the fix: %v", st)
	}
	f.stop()
}

// TestServeRefusesFailPolicy (issue 20, M2): a mapping with on_error: fail
// is refused by serve, at the start and at a reload, with the reason: one
// record that fails would block every later alert forever.
func TestServeRefusesFailPolicy(t *testing.T) {
	f := newServeFixture(t, "", "--roll-age", "300ms")
	src, err := os.ReadFile(mapping110)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.CopyFS(filepath.Join(f.dir, "templates"), os.DirFS(filepath.Join(filepath.Dir(mapping110), "templates"))); err != nil {
		t.Fatal(err)
	}
	good := filepath.Join(f.dir, "mapping.yaml")
	os.WriteFile(good, src, 0o644)
	failing := filepath.Join(f.dir, "mapping-fail.yaml")
	os.WriteFile(failing, bytes.Replace(src, []byte("on_error: dead_letter"), []byte("on_error: fail"), 1), 0o644)

	// At the start: serve exits with the reason.
	f.setIntegration("mapping", failing)
	cmd := exec.Command(bin, append(f.args, "--listen", "127.0.0.1:0")...)
	cmd.Env = append(f.lake.environ(os.Environ()), "OCSFMAP_INGEST_TOKEN="+serveToken)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(stderr.String(), "on_error: fail cannot be served") {
			t.Fatalf("serve with on_error: fail: %v\n%s", err, stderr.String())
		}
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		<-done
		t.Fatalf("serve started with on_error: fail")
	}

	// At a reload: refused, the previous mapping keeps delivering.
	f.setIntegration("mapping", good)
	f.start()
	f.setIntegration("mapping", failing)
	f.cmd.Process.Signal(syscall.SIGHUP)
	var st map[string]any
	if !waitFor(10*time.Second, func() bool { st = f.status(); return st["config_error"] != nil }) ||
		!strings.Contains(fmt.Sprint(st["config_error"]), "on_error: fail") {
		t.Fatalf("a reload to on_error: fail: %v", st)
	}
	// A record the mapping cannot map is dead-lettered, the rest delivered.
	body := append(alerts(5, 43, 1), []byte(`{"alert_id":"not-a-dspm-alert"}`+"\n")...)
	if res, err := f.post(serveToken, "m2", body); err != nil || res.status != http.StatusAccepted {
		t.Fatalf("ingest: %v %v", res, err)
	}
	if !waitFor(30*time.Second, func() bool {
		a := f.status()["alerts"].(map[string]any)
		return a["written"].(float64)+a["dead_lettered"].(float64) == 6
	}) {
		t.Fatalf("not delivered: %v", f.status())
	}
	if a := f.status()["alerts"].(map[string]any); a["dead_lettered"].(float64) != 1 {
		t.Fatalf("the bad record: %v", a)
	}
	f.stop()
}
