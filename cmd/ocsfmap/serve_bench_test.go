package main

import (
	"bytes"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// BenchmarkServe is `ocsfmap serve` under sustained load, as users run it:
// the built binary against versitygw and the STS stub, 4 clients posting
// batches of 500 alerts over loopback, every 202 after the fsync (group
// commit on). Reports alerts/s accepted, the p50/p99 latency of a 202,
// alerts/s delivered end to end (first post to the last object confirmed
// by S3), and the server's peak RSS. Run with make bench, or
//
//	go test -run '^$' -bench BenchmarkServe -benchtime 1x ./cmd/ocsfmap
func BenchmarkServe(b *testing.B) {
	const clients, perBatch, total = 4, 500, 200_000
	input, err := os.ReadFile(benchInput(b, total, 1))
	if err != nil {
		b.Fatal(err)
	}
	var bodies [][]byte
	for len(input) > 0 {
		end := 0
		for range perBatch {
			i := bytes.IndexByte(input[end:], '\n')
			if i < 0 {
				end = len(input)
				break
			}
			end += i + 1
		}
		bodies = append(bodies, input[:end])
		input = input[end:]
	}
	for b.Loop() {
		f := newServeFixture(b, "", "--roll-age", "2s")
		f.start()
		var (
			mu        sync.Mutex
			latencies []time.Duration
			next      int
			wg        sync.WaitGroup
		)
		start := time.Now()
		for range clients {
			wg.Add(1)
			go func() {
				defer wg.Done()
				c := &http.Client{Timeout: time.Minute}
				for {
					mu.Lock()
					i := next
					next++
					mu.Unlock()
					if i >= len(bodies) {
						return
					}
					req, _ := http.NewRequest("POST", "http://"+f.addr+"/v1/integrations/dspm/alerts", bytes.NewReader(bodies[i]))
					req.Header.Set("Authorization", "Bearer "+serveToken)
					req.Header.Set("Idempotency-Key", "bench-"+strconv.Itoa(i))
					t0 := time.Now()
					resp, err := c.Do(req)
					if err != nil {
						b.Error(err)
						return
					}
					resp.Body.Close()
					if resp.StatusCode != http.StatusAccepted {
						b.Errorf("status %d", resp.StatusCode)
						return
					}
					mu.Lock()
					latencies = append(latencies, time.Since(t0))
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		accepted := time.Since(start)
		for {
			st := f.status()
			a := st["alerts"].(map[string]any)
			if st["backlog"].(map[string]any)["alerts"].(float64) == 0 && a["accepted"].(float64) == total {
				break
			}
			if time.Since(start) > 10*time.Minute {
				b.Fatalf("not delivered after 10 minutes: %v", st)
			}
			time.Sleep(50 * time.Millisecond)
		}
		delivered := time.Since(start)
		rss := peakRSS(b, f.cmd.Process.Pid)
		f.stop()
		if testing.Verbose() {
			f.logMu.Lock()
			b.Logf("serve logs:\n%s", f.logs.String())
			f.logMu.Unlock()
		}
		slices.Sort(latencies)
		b.ReportMetric(total/accepted.Seconds(), "accepted-alerts/s")
		b.ReportMetric(float64(latencies[len(latencies)/2].Microseconds())/1000, "p50-ms")
		b.ReportMetric(float64(latencies[len(latencies)*99/100].Microseconds())/1000, "p99-ms")
		b.ReportMetric(total/delivered.Seconds(), "delivered-alerts/s")
		b.ReportMetric(float64(rss)/1024, "peak-RSS-MB")
	}
}

// peakRSS reads a live process's high-water mark of resident memory, in KiB.
func peakRSS(b *testing.B, pid int) int64 {
	s, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		b.Fatal(err)
	}
	for _, l := range strings.Split(string(s), "\n") {
		if v, ok := strings.CutPrefix(l, "VmHWM:"); ok {
			n, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return n
		}
	}
	b.Fatal("no VmHWM")
	return 0
}
