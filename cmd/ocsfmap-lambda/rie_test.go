package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
)

// rieBinary finds the Runtime Interface Emulator: $OCSFMAP_TOOLS/bin (the
// Makefile sets it), else PATH.
func rieBinary(t testing.TB) string {
	t.Helper()
	if dir := os.Getenv("OCSFMAP_TOOLS"); dir != "" {
		p := filepath.Join(dir, "bin", "aws-lambda-rie")
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	if p, err := exec.LookPath("aws-lambda-rie"); err == nil {
		return p
	}
	t.Fatal("aws-lambda-rie not found in $OCSFMAP_TOOLS/bin or on PATH: run 'make tools' " +
		"(or .ci/tools-rie.sh .tools and set OCSFMAP_TOOLS=$PWD/.tools), then run the tests through 'make test'")
	return ""
}

// emulator is the bootstrap running under aws-lambda-rie, as Lambda runs it.
type emulator struct {
	url string
	cmd *exec.Cmd
	out *lockedBuffer
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (w *lockedBuffer) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

func (w *lockedBuffer) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.String()
}

func freeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// startEmulator runs the bootstrap under the emulator with the lake's
// environment plus env, with a function timeout of timeout.
func startEmulator(t testing.TB, l *fakeLake, timeout time.Duration, env map[string]string) *emulator {
	t.Helper()
	addr, api := freeAddr(t), freeAddr(t)
	cmd := exec.Command(rieBinary(t), "--runtime-interface-emulator-address", addr, "--runtime-api-address", api, bootstrap)
	cmd.Dir = t.TempDir()
	cmd.Env = append(os.Environ(), "AWS_LAMBDA_FUNCTION_TIMEOUT="+fmt.Sprint(int(timeout.Seconds())),
		"AWS_LAMBDA_FUNCTION_MEMORY_SIZE=512", "AWS_LAMBDA_FUNCTION_NAME=ocsfmap", "OCSFMAP_WORK_DIR="+filepath.Join(cmd.Dir, "work"))
	for k, v := range l.env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	e := &emulator{url: "http://" + addr + "/2015-03-31/functions/function/invocations", cmd: cmd, out: &lockedBuffer{}}
	cmd.Stdout, cmd.Stderr = e.out, e.out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		if t.Failed() {
			t.Logf("emulator and function output:\n%s", e.out.String())
		}
	})
	deadline := time.Now().Add(15 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err == nil {
			c.Close()
			return e
		}
		if time.Now().After(deadline) {
			t.Fatalf("aws-lambda-rie did not listen on %s: %s", addr, e.out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// invoke posts the event and decodes the function's answer.
func (e *emulator) invoke(t testing.TB, ev any) (events.SQSEventResponse, time.Duration) {
	t.Helper()
	body, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	resp, err := http.Post(e.url, "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	took := time.Since(start)
	out, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("invoke: %s: %s", resp.Status, out)
	}
	var r events.SQSEventResponse
	if err := json.Unmarshal(out, &r); err != nil || r.BatchItemFailures == nil {
		t.Fatalf("invoke: not a partial batch response (%v): %s", err, out)
	}
	return r, took
}

// TestRIESQSBatchExactlyOnce: the bootstrap under the emulator delivers a
// batch of SQS messages (single alerts and NDJSON) under the exact Security
// Lake keys as readable Parquet; the same batch invoked again overwrites
// the same objects: no alert is in the lake twice.
func TestRIESQSBatchExactlyOnce(t *testing.T) {
	l := startFakeLake(t)
	e := startEmulator(t, l, 60*time.Second, nil)
	alerts := sampleAlerts(t, "../../testdata/dspm/alerts.ndjson")
	var bodies []string
	for i := 0; i < len(alerts); {
		n := 1 + i%7 // 1 to 7 alerts a message
		n = min(n, len(alerts)-i)
		bodies = append(bodies, strings.Join(alerts[i:i+n], "\n")+"\n")
		i += n
	}
	ev := sqsEvent("first", bodies...)
	r, _ := e.invoke(t, ev)
	if len(r.BatchItemFailures) != 0 {
		t.Fatalf("failures: %v", failedIDs(r))
	}
	written := checkExactlyOnce(t, l, alerts)
	_, objects := l.bucketUIDs(t)
	if written < len(alerts)*3/4 || objects == 0 {
		t.Fatalf("%d of %d alerts written in %d objects", written, len(alerts), objects)
	}
	t.Logf("%d messages, %d alerts: %d written in %d objects", len(bodies), len(alerts), written, objects)

	r, _ = e.invoke(t, ev)
	if len(r.BatchItemFailures) != 0 {
		t.Fatalf("redelivery failures: %v", failedIDs(r))
	}
	if again := checkExactlyOnce(t, l, alerts); again != written {
		t.Fatalf("after the redelivery %d alerts written, before %d", again, written)
	}
	if _, n := l.bucketUIDs(t); n != objects {
		t.Fatalf("after the redelivery %d objects, before %d", n, objects)
	}
	if n := l.sts.AssumeRoleCalls(); n != 1 {
		t.Errorf("AssumeRole called %d times over two invocations; the credentials should stay cached", n)
	}
}

// TestRIEMalformedMessage: a batch with a message that is not JSON and one
// whose JSON array is broken fails nothing: what cannot be read is
// dead-lettered, the rest delivered.
func TestRIEMalformedMessage(t *testing.T) {
	l := startFakeLake(t)
	e := startEmulator(t, l, 60*time.Second, nil)
	alerts := sampleAlerts(t, "../../testdata/dspm/sample.ndjson")[:12]
	bodies := []string{alerts[0], "this is not an alert", strings.Join(alerts[1:6], "\n"),
		"[" + alerts[6] + ", {\"alert_id\": ", alerts[7], `{"alert_id": "truncated`}
	r, _ := e.invoke(t, sqsEvent("bad", bodies...))
	if len(r.BatchItemFailures) != 0 {
		t.Fatalf("failures: %v", failedIDs(r))
	}
	inLake, _ := l.bucketUIDs(t)
	dead := l.deadUIDs(t)
	for _, a := range []string{alerts[0], alerts[1], alerts[5], alerts[7]} {
		id := alertUIDs(a)[0]
		if inLake[id]+dead[id] != 1 {
			t.Errorf("alert %s: %d in the lake, %d dead-lettered", id, inLake[id], dead[id])
		}
	}
	if dead["?"] < 2 {
		t.Errorf("the bodies that are not alerts should be dead letters: %v", dead)
	}
	// The broken array's body is kept whole as a dead letter.
	if id := alertUIDs(alerts[6])[0]; dead[id] == 0 && inLake[id] == 0 {
		t.Errorf("the broken array's alert %s is neither delivered nor dead-lettered", id)
	}
}

// TestRIEBucketUnreachable: with S3 unreachable, every message comes back
// in batchItemFailures, before the invocation's deadline.
func TestRIEBucketUnreachable(t *testing.T) {
	l := startFakeLake(t)
	const timeout = 8 * time.Second
	e := startEmulator(t, l, timeout, map[string]string{"AWS_ENDPOINT_URL_S3": "http://" + freeAddr(t)})
	alerts := sampleAlerts(t, "../../testdata/dspm/sample.ndjson")[:20]
	bodies := []string{alerts[0], strings.Join(alerts[1:10], "\n"), strings.Join(alerts[10:], "\n")}
	ev := sqsEvent("down", bodies...)
	r, took := e.invoke(t, ev)
	if got := failedIDs(r); len(got) != len(bodies) {
		t.Fatalf("failures %v; want every message of %d", got, len(bodies))
	}
	if took >= timeout {
		t.Fatalf("the invocation took %s, its timeout is %s", took, timeout)
	}
	t.Logf("answered in %s (timeout %s)", took.Round(time.Millisecond), timeout)
	if strings.Contains(e.out.String(), "Task timed out") {
		t.Fatal("the emulator reports a timeout")
	}
}

// TestRIES3NotificationInSQS: the bootstrap reads an alert file (.gz) an S3
// notification in an SQS message names, with the function's own
// credentials, and delivers it; the same notification again overwrites.
func TestRIES3NotificationInSQS(t *testing.T) {
	l := startFakeLake(t)
	e := startEmulator(t, l, 60*time.Second, nil)
	alerts := sampleAlerts(t, "../../testdata/dspm/alerts.ndjson")[:50]
	key := "incoming/2026/11/01/alerts.ndjson.gz"
	etag := l.putStaged(t, key, gz(t, []byte(strings.Join(alerts, "\n")+"\n")))
	note, _ := json.Marshal(map[string]any{"Records": []any{s3Record(key, etag)}})
	ev := sqsEvent("s3", string(note))
	for i := range 2 {
		if r, _ := e.invoke(t, ev); len(r.BatchItemFailures) != 0 {
			t.Fatalf("invocation %d: failures %v", i+1, failedIDs(r))
		}
		if n := checkExactlyOnce(t, l, alerts); n < 40 {
			t.Fatalf("invocation %d: %d of %d alerts written", i+1, n, len(alerts))
		}
	}
}
