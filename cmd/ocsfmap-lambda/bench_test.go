package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/ocsfmap/ocsfmap/engine/alertgen"
)

// runtimeAPI is a stand-in for Lambda's Runtime API (the HTTP interface a
// bootstrap polls for events), without the emulator's 6 MB payload cap, so
// a batch bigger than Lambda would hand over as SQS bodies can be timed.
type runtimeAPI struct {
	events    chan []byte
	responses chan []byte
	srv       *http.Server
	addr      string
}

func newRuntimeAPI(t testing.TB, timeout time.Duration) *runtimeAPI {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &runtimeAPI{events: make(chan []byte), responses: make(chan []byte, 1), addr: ln.Addr().String()}
	n := 0
	mux := http.NewServeMux()
	mux.HandleFunc("GET /2018-06-01/runtime/invocation/next", func(w http.ResponseWriter, req *http.Request) {
		var ev []byte
		select {
		case ev = <-r.events:
		case <-req.Context().Done():
			return
		}
		n++
		w.Header().Set("Lambda-Runtime-Aws-Request-Id", fmt.Sprintf("req-%d", n))
		w.Header().Set("Lambda-Runtime-Deadline-Ms", fmt.Sprint(time.Now().Add(timeout).UnixMilli()))
		w.Header().Set("Lambda-Runtime-Invoked-Function-Arn", "arn:aws:lambda:us-east-2:111122223333:function:ocsfmap")
		w.Write(ev)
	})
	mux.HandleFunc("POST /2018-06-01/runtime/invocation/{id}/response", func(w http.ResponseWriter, req *http.Request) {
		b, _ := io.ReadAll(req.Body)
		w.WriteHeader(http.StatusAccepted)
		r.responses <- b
	})
	mux.HandleFunc("POST /2018-06-01/runtime/invocation/{id}/error", func(w http.ResponseWriter, req *http.Request) {
		b, _ := io.ReadAll(req.Body)
		w.WriteHeader(http.StatusAccepted)
		r.responses <- append([]byte("error: "), b...)
	})
	mux.HandleFunc("POST /2018-06-01/runtime/init/error", func(w http.ResponseWriter, req *http.Request) {
		b, _ := io.ReadAll(req.Body)
		w.WriteHeader(http.StatusAccepted)
		r.responses <- append([]byte("init error: "), b...)
	})
	r.srv = &http.Server{Handler: mux}
	go r.srv.Serve(ln)
	t.Cleanup(func() { r.srv.Close() })
	return r
}

// BenchmarkBootstrap10k times the real bootstrap, on one core
// (GOMAXPROCS=1) with 512 MB of function memory, delivering 10,000
// generated alerts in one invocation: as 100 SQS messages of 100 alerts
// (over ~400 partitions, as alertgen's 200 accounts make, and over ~20),
// and as 100 S3 notifications (in SQS) of 100-alert files — the shape a
// batch this size takes on AWS, whose invocation payload is capped at 6 MB.
// Each invocation is timed from the event handed over to the answer; the
// first of a container includes assuming the role. Peak RSS is the
// process's, over every invocation.
//
//	go test -run '^$' -bench Bootstrap10k -benchtime 1x ./cmd/ocsfmap-lambda
func BenchmarkBootstrap10k(b *testing.B) {
	shapes := []struct {
		name     string
		accounts int // alertgen: each in 1-3 regions
		objects  bool
	}{
		{"sqs-bodies/400-partitions", 200, false},
		{"sqs-bodies/20-partitions", 10, false},
		{"s3-objects/400-partitions", 200, true},
	}
	for _, shape := range shapes {
		b.Run(shape.name, func(b *testing.B) {
			l := startFakeLake(b)
			gen := alertgen.New(7, alertgen.Options{Ordered: 10_000, Accounts: shape.accounts})
			var bodies []string
			var raw []byte
			for i := range 100 {
				raw = raw[:0]
				for range 100 {
					raw = gen.AppendNDJSON(raw)
				}
				if !shape.objects {
					bodies = append(bodies, string(raw))
					continue
				}
				key := fmt.Sprintf("incoming/bench-%03d.ndjson", i)
				etag := l.putStaged(b, key, raw)
				note, _ := json.Marshal(map[string]any{"Records": []any{s3Record(key, etag)}})
				bodies = append(bodies, string(note))
			}
			ev, _ := json.Marshal(sqsEvent("bench", bodies...))
			api := newRuntimeAPI(b, 5*time.Minute)
			cmd := exec.Command(bootstrap)
			cmd.Dir = b.TempDir()
			cmd.Env = append(os.Environ(), "GOMAXPROCS=1", "AWS_LAMBDA_RUNTIME_API="+api.addr,
				"AWS_LAMBDA_FUNCTION_MEMORY_SIZE=512", "OCSFMAP_WORK_DIR="+filepath.Join(cmd.Dir, "work"))
			for k, v := range l.env {
				cmd.Env = append(cmd.Env, k+"="+v)
			}
			var logs lockedBuffer
			cmd.Stdout, cmd.Stderr = &logs, &logs
			start := time.Now()
			if err := cmd.Start(); err != nil {
				b.Fatal(err)
			}
			var best, first time.Duration
			for i := 0; i < 3; i++ {
				api.events <- ev // taken when the bootstrap asks for its next event
				t0 := time.Now()
				if i == 0 {
					b.Logf("container ready (mapping compiled) in %s", t0.Sub(start).Round(time.Millisecond))
				}
				resp := <-api.responses
				took := time.Since(t0)
				var r events.SQSEventResponse
				if err := json.Unmarshal(resp, &r); err != nil || len(r.BatchItemFailures) != 0 {
					b.Fatalf("answer %s\n%s", resp, logs.String())
				}
				if i == 0 {
					first = took
				}
				if best == 0 || took < best {
					best = took
				}
			}
			cmd.Process.Signal(syscall.SIGKILL)
			cmd.Wait()
			rss := cmd.ProcessState.SysUsage().(*syscall.Rusage).Maxrss // KiB on Linux
			if n, _ := l.bucketUIDs(b); len(n) < 9000 {
				b.Fatalf("%d alerts in the lake", len(n))
			}
			for _, line := range strings.Split(logs.String(), "\n") {
				if strings.Contains(line, "batch delivered") {
					b.Logf("%s", line)
					break
				}
			}
			b.ReportMetric(10_000/best.Seconds(), "alerts/s")
			b.ReportMetric(10_000/first.Seconds(), "first-alerts/s")
			b.ReportMetric(float64(rss)/1024, "peak-RSS-MiB")
		})
	}
}
