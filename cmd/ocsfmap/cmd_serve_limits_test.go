package main

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func gzipped(b []byte) []byte {
	var out bytes.Buffer
	zw := gzip.NewWriter(&out)
	zw.Write(b)
	zw.Close()
	return out.Bytes()
}

// folderBytes sums the sizes of the files under dir.
func folderBytes(dir string) (n int64) {
	filepath.Walk(dir, func(_ string, fi os.FileInfo, err error) error {
		if err == nil && !fi.IsDir() {
			n += fi.Size()
		}
		return nil
	})
	return n
}

// TestServeDiskBudget: everything ingest writes shares --max-log. With S3
// down, junk bodies are refused without writing gigabytes, alerts are
// accepted until the budget is used, then 503 with Retry-After; once S3 is
// back the log drains and ingest resumes without a restart, and every
// acknowledged alert is delivered exactly once.
func TestServeDiskBudget(t *testing.T) {
	const budget = 1 << 20
	f := newServeFixture(t, "", "--roll-age", "200ms", "--max-log", "1MiB")
	f.start()
	if err := f.lake.srv.Stop(); err != nil {
		t.Fatal(err)
	}
	integ := filepath.Join(f.data, "dspm")

	// Non-JSON lines (the review's 134 KB of gzip made 53 MB of rejected
	// lines) and [1,1,…] of 8 M elements: refused whole, nothing written.
	junk := gzipped(bytes.Repeat([]byte("<html>not json</html>\n"), 700_000))
	for range 8 {
		res, err := f.post(serveToken, "", junk, "Content-Encoding", "gzip")
		if err != nil {
			t.Fatal(err)
		}
		if res.status != http.StatusBadRequest || !strings.Contains(fmt.Sprint(res.body["error"]), "not JSON objects") {
			t.Fatalf("a gzip body of junk lines: %v", res)
		}
	}
	ones := gzipped(append(append([]byte{'['}, bytes.Repeat([]byte("1,"), 8<<20-2)...), '1', ']'))
	res, err := f.post(serveToken, "", ones, "Content-Encoding", "gzip")
	if err != nil || res.status != http.StatusBadRequest {
		t.Fatalf("a gzip array of 8 M numbers: %v %v", res, err)
	}
	if n := folderBytes(integ); n > budget/4 {
		t.Fatalf("refused junk left %d bytes in %s", n, integ)
	}

	var want []string
	var full postResult
	for i := 0; ; i++ {
		body := alerts(40, uint64(900+i), 1)
		res, err := f.post(serveToken, fmt.Sprintf("budget-%d", i), body)
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
	if full.header.Get("Retry-After") == "" || !strings.Contains(fmt.Sprint(full.body["error"]), "budget") {
		t.Fatalf("503 without Retry-After or reason: %v", full)
	}
	if n := folderBytes(integ); n > budget+budget/8 {
		t.Fatalf("%d bytes in %s with a budget of %d", n, integ, budget)
	}
	if err := f.lake.srv.Restart(); err != nil {
		t.Fatal(err)
	}
	// Space returns as the log is delivered: ingest resumes, same process.
	deadline := time.Now().Add(90 * time.Second)
	for i := 0; ; i++ {
		body := alerts(40, uint64(5000+i), 1)
		res, err := f.post(serveToken, fmt.Sprintf("after-%d", i), body)
		if err != nil {
			t.Fatal(err)
		}
		if res.status == http.StatusAccepted {
			want = append(want, alertUIDs(t, body)...)
			break
		}
		if res.status != http.StatusServiceUnavailable || time.Now().After(deadline) {
			t.Fatalf("ingest once S3 is back: %v", res)
		}
		time.Sleep(200 * time.Millisecond)
	}
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

// TestServeSlowBodies: the integration's ingest slots held by bodies that
// trickle in (one byte a second) are freed by the minimum read rate, so a
// normal request is answered 202 instead of waiting 10 s for a 503; and a
// client that leaves right after its body does not make /readyz fail.
func TestServeSlowBodies(t *testing.T) {
	f := newServeFixture(t, "", "--max-ingests", "4")
	f.start()
	slow := make(chan string, 4)
	for range 4 {
		c, err := net.Dial("tcp", f.addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		fmt.Fprintf(c, "POST /v1/integrations/dspm/alerts HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nContent-Length: 1000000\r\n\r\n{", serveToken)
		go func() {
			for range 60 {
				time.Sleep(time.Second)
				if _, err := c.Write([]byte(" ")); err != nil {
					return
				}
			}
		}()
		go func() {
			line, _ := bufio.NewReader(c).ReadString('\n')
			slow <- strings.TrimSpace(line)
		}()
	}
	time.Sleep(500 * time.Millisecond)
	res, err := f.post(serveToken, "", alerts(10, 77, 1))
	if err != nil || res.status != http.StatusAccepted {
		t.Fatalf("a normal request behind 4 slow bodies: %v %v", res, err)
	}
	for range 4 {
		if a := <-slow; !strings.Contains(a, " 408 ") {
			t.Fatalf("a body of one byte a second was answered %q, want 408", a)
		}
	}

	body := alerts(3000, 78, 1)
	for i := range 5 {
		c, err := net.Dial("tcp", f.addr)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(c, "POST /v1/integrations/dspm/alerts HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nIdempotency-Key: gone-%d\r\nContent-Length: %d\r\n\r\n", serveToken, i, len(body))
		c.Write(body)
		c.Close()
	}
	time.Sleep(time.Second)
	resp, err := http.Get("http://" + f.addr + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("/readyz after clients left: %d %s", resp.StatusCode, b)
	}
	f.stop()
}
