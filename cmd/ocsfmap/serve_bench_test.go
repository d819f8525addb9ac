package main

import (
	"bytes"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"
)

// BenchmarkServe is `ocsfmap serve` under load, as users run it: the built
// binary against versitygw and the STS stub, 4 clients posting batches of
// 500 alerts over loopback, every 202 after the fsync (group commit on).
//
//   - max: the clients post 200,000 alerts as fast as they are answered:
//     alerts/s accepted, p50/p99 of a 202, alerts/s delivered end to end
//     (first post to the last file confirmed by S3), peak RSS.
//   - rate=30000: 30,000 alerts/s offered for 20 s, a batch every 1/60 s
//     whatever the answers take (sustained load): the same figures, and
//     whether delivery kept up (the oldest waiting alert's age).
//   - run: `ocsfmap run` on the same 200,000 alerts on the same machine in
//     the same benchmark, the reference the delivered rate is a ratio of.
//
// Run with make bench, or
//
//	go test -run '^$' -bench BenchmarkServe -benchtime 1x ./cmd/ocsfmap
func BenchmarkServe(b *testing.B) {
	const clients, perBatch, total = 4, 500, 200_000
	path := benchInput(b, total, 1)
	input, err := os.ReadFile(path)
	if err != nil {
		b.Fatal(err)
	}
	bodies := splitBatches(input, perBatch)
	b.Run("max", func(b *testing.B) {
		for b.Loop() {
			serveLoad(b, bodies, clients, 0, 0)
		}
	})
	b.Run("rate=30000", func(b *testing.B) {
		for b.Loop() {
			serveLoad(b, bodies, clients, 30_000, 20*time.Second)
		}
	})
	b.Run("run", func(b *testing.B) {
		for b.Loop() {
			cmd := exec.Command(bin, "run", "-q", "-m", mapping110, "-o", b.TempDir(), path)
			start := time.Now()
			if out, err := cmd.CombinedOutput(); err != nil {
				b.Fatalf("%v\n%s", err, out)
			}
			b.ReportMetric(total/time.Since(start).Seconds(), "alerts/s")
			b.ReportMetric(cpuSeconds(cmd.ProcessState.SysUsage().(*syscall.Rusage))*1e6/total, "cpu-us/alert")
		}
	})
}

// splitBatches cuts NDJSON into request bodies of n lines.
func splitBatches(input []byte, n int) [][]byte {
	var out [][]byte
	for len(input) > 0 {
		end := 0
		for range n {
			i := bytes.IndexByte(input[end:], '\n')
			if i < 0 {
				end = len(input)
				break
			}
			end += i + 1
		}
		out = append(out, input[:end])
		input = input[end:]
	}
	return out
}

// serveLoad starts serve with the default rolls (256 MB, 5 minutes),
// posts bodies from the clients — as fast as they are answered when rate
// is 0 (each body once), else rate alerts/s for d (bodies reused) — then
// stops it with SIGTERM, which delivers the rest, and reports.
func serveLoad(b *testing.B, bodies [][]byte, clients, rate int, d time.Duration) {
	f := newServeFixture(b, "")
	var (
		mu        sync.Mutex
		latencies []time.Duration
		sent      int
		next      int
		wg        sync.WaitGroup
	)
	f.start()
	post := func(hc *http.Client, i int) bool {
		body := bodies[i%len(bodies)]
		req, _ := http.NewRequest("POST", "http://"+f.addr+"/v1/integrations/dspm/alerts", bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+serveToken)
		req.Header.Set("Idempotency-Key", "bench-"+strconv.Itoa(i))
		t0 := time.Now()
		resp, err := hc.Do(req)
		if err != nil {
			b.Error(err)
			return false
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusAccepted {
			b.Errorf("status %d", resp.StatusCode)
			return false
		}
		mu.Lock()
		latencies = append(latencies, time.Since(t0))
		sent += bytes.Count(body, []byte{'\n'})
		mu.Unlock()
		return true
	}
	// While the load runs, watch the backlog: delivery keeps up when the
	// oldest waiting alert stays within one epoch's filling and closing.
	var maxAge float64
	stopWatch := make(chan struct{})
	watched := make(chan struct{})
	go func() {
		defer close(watched)
		for {
			select {
			case <-stopWatch:
				return
			case <-time.After(time.Second):
			}
			if age := f.status()["backlog"].(map[string]any)["age_seconds"].(float64); age > maxAge {
				maxAge = age
			}
		}
	}()
	start := time.Now()
	if rate == 0 {
		// Each client posts its next body as soon as the last is answered.
		for range clients {
			wg.Add(1)
			go func() {
				defer wg.Done()
				hc := &http.Client{Timeout: time.Minute}
				for {
					mu.Lock()
					i := next
					next++
					mu.Unlock()
					if i >= len(bodies) || !post(hc, i) {
						return
					}
				}
			}()
		}
	} else {
		// An open loop: a body every interval whatever the answers take (up
		// to 64 in flight), so the offered rate holds.
		perBatch := bytes.Count(bodies[0], []byte{'\n'})
		interval := time.Duration(float64(time.Second) * float64(perBatch) / float64(rate))
		hc := &http.Client{Timeout: time.Minute, Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
		inflight := make(chan struct{}, 64)
		for i := 0; time.Since(start) < d; i++ {
			time.Sleep(time.Until(start.Add(time.Duration(i) * interval)))
			inflight <- struct{}{}
			wg.Add(1)
			go func() {
				defer wg.Done()
				post(hc, i)
				<-inflight
			}()
		}
	}
	wg.Wait()
	accepted := time.Since(start)
	close(stopWatch)
	<-watched
	st := f.status()
	if got := st["alerts"].(map[string]any)["accepted"].(float64); got != float64(sent) {
		b.Fatalf("accepted %v, sent %d", got, sent)
	}
	// SIGTERM cuts the last epoch and exits once it is delivered.
	f.stop()
	delivered := time.Since(start)
	ru := f.cmd.ProcessState.SysUsage().(*syscall.Rusage)
	rss := ru.Maxrss // KiB
	if testing.Verbose() {
		f.logMu.Lock()
		b.Logf("serve logs:\n%s", f.logs.String())
		f.logMu.Unlock()
	}
	slices.Sort(latencies)
	b.ReportMetric(float64(sent)/accepted.Seconds(), "accepted-alerts/s")
	b.ReportMetric(float64(latencies[len(latencies)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(latencies[len(latencies)*99/100].Microseconds())/1000, "p99-ms")
	b.ReportMetric(float64(sent)/delivered.Seconds(), "delivered-alerts/s")
	b.ReportMetric(maxAge, "max-backlog-age-s")
	// After the load: how long the last epoch took to be delivered.
	b.ReportMetric((delivered - accepted).Seconds(), "tail-s")
	b.ReportMetric(float64(rss)/1024, "peak-RSS-MB")
	// CPU time per alert does not count the neighbours on a shared machine.
	b.ReportMetric(cpuSeconds(ru)*1e6/float64(sent), "cpu-us/alert")
}

func cpuSeconds(ru *syscall.Rusage) float64 {
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}
