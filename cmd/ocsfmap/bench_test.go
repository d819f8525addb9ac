package main

import (
	"bufio"
	"cmp"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ocsfmap/ocsfmap/engine/alertgen"
)

// End-to-end: NDJSON -> mapped, checked OCSF -> Parquet partitions, the
// built binary as users run it, on GOMAXPROCS=1 and 2. Reports records/s,
// peak RSS of the process and files per partition. Run with make bench, or
//
//	go test -run '^$' -bench 'BenchmarkRun' -benchtime 1x ./cmd/ocsfmap

func BenchmarkRunOneDay200k(b *testing.B) { benchRun(b, 200_000, 1, "") }
func BenchmarkRunOneDay1M(b *testing.B)   { benchRun(b, 1_000_000, 1, "") }

// Thirty days make ~12,000 partitions, every one spilled and merged: with
// the default --memory (256MiB) the collector runs often near its limit;
// a backfill given the 1 GB its acceptance allows runs as --memory 768MiB.
func BenchmarkRunThirtyDays1M(b *testing.B) {
	for _, mem := range []string{"", "768MiB"} {
		name := "memory=" + cmp.Or(mem, "default")
		b.Run(name, func(b *testing.B) { benchRun(b, 1_000_000, 30, mem) })
	}
}

// benchInput writes n generated alerts over days (200 accounts in 1-3
// regions each) once, and reuses the file across runs of the benchmark.
func benchInput(b *testing.B, n, days int) string {
	path := filepath.Join(os.TempDir(), fmt.Sprintf("ocsfmap-bench-%d-%d.ndjson", n, days))
	if _, err := os.Stat(path); err == nil {
		return path
	}
	f, err := os.Create(path + ".tmp")
	if err != nil {
		b.Fatal(err)
	}
	w := bufio.NewWriterSize(f, 1<<20)
	g := alertgen.New(1, alertgen.Options{Accounts: 200, Days: days})
	var buf []byte
	for range n {
		buf = g.AppendNDJSON(buf[:0])
		w.Write(buf)
	}
	if err := w.Flush(); err != nil {
		b.Fatal(err)
	}
	f.Close()
	if err := os.Rename(path+".tmp", path); err != nil {
		b.Fatal(err)
	}
	return path
}

func benchRun(b *testing.B, n, days int, memory string) {
	in := benchInput(b, n, days)
	for _, cores := range []int{1, 2} {
		b.Run(fmt.Sprintf("cores=%d", cores), func(b *testing.B) {
			for b.Loop() {
				out := b.TempDir()
				args := []string{"run", "-q", "-m", mapping110, "-o", out}
				if memory != "" {
					args = append(args, "--memory", memory)
				}
				cmd := exec.Command(bin, append(args, in)...)
				cmd.Env = append(os.Environ(), fmt.Sprintf("GOMAXPROCS=%d", cores))
				start := time.Now()
				msg, err := cmd.CombinedOutput()
				elapsed := time.Since(start)
				if err != nil {
					b.Fatalf("%v\n%s", err, msg)
				}
				var files, parts int
				var size string
				s := string(msg)
				if i := strings.Index(s, "files "); i >= 0 {
					fmt.Sscanf(s[i:], "files %d, %s", &files, &size)
					if j := strings.Index(s[i:], " partitions"); j >= 0 {
						k := strings.LastIndex(s[i:i+j], " ")
						fmt.Sscanf(s[i+k+1:i+j], "%d", &parts)
					}
				}
				rss := cmd.ProcessState.SysUsage().(*syscall.Rusage).Maxrss / 1024
				b.ReportMetric(float64(n)/elapsed.Seconds(), "records/s")
				b.ReportMetric(float64(rss), "peak-RSS-MB")
				if parts > 0 {
					b.ReportMetric(float64(files)/float64(parts), "files/partition")
				}
			}
		})
	}
}
