package lake

import (
	"context"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ocsfmap/ocsfmap/engine/columnar/columnartest"
	"github.com/ocsfmap/ocsfmap/engine/plan"
)

// benchWrite writes n synthetic findings from accounts accounts (~2 regions
// each) over days days, and reports records/s, files per partition, per-file
// write time and the peak Go heap in use (sampled every 20k records).
func benchWrite(b *testing.B, n, accounts, days int) {
	root, s := columnartest.FindingTree()
	b.ReportAllocs()
	var peak uint64
	var st Stats
	var ms runtime.MemStats
	for b.Loop() {
		dir := b.TempDir()
		w, err := New(root, Options{Dir: dir, Source: "bench", TimeSlot: s.Time, RegionSlot: s.Region, AccountSlot: s.AccountUID})
		if err != nil {
			b.Fatal(err)
		}
		g := columnartest.NewGen(s, accounts, days, 1)
		var rec plan.Record
		for i := range n {
			g.Fill(&rec)
			if err := w.Write(&rec); err != nil {
				b.Fatal(err)
			}
			if i%20000 == 0 {
				runtime.ReadMemStats(&ms)
				peak = max(peak, ms.HeapInuse)
			}
		}
		runtime.ReadMemStats(&ms)
		peak = max(peak, ms.HeapInuse)
		if err := w.Close(context.Background()); err != nil {
			b.Fatal(err)
		}
		st = w.Stats()
	}
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "records/s")
	b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MB")
	b.ReportMetric(float64(st.Files), "files")
	b.ReportMetric(float64(st.Files)/float64(st.Partitions), "files/partition")
	b.ReportMetric(float64(st.WriteTime.Microseconds())/float64(st.Files), "µs/file")
	b.ReportMetric(float64(st.Bytes)/float64(n), "file-bytes/record")
	b.ReportMetric(float64(st.Spills), "spills")
	// The process's peak RSS: run one benchmark per process to read it.
	b.ReportMetric(float64(peakRSS())/(1<<20), "peak-RSS-MB")
}

// peakRSS reads VmHWM (the peak resident set of this process) in bytes, 0
// where /proc is missing.
func peakRSS() int64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for line := range strings.Lines(string(data)) {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return kb << 10
		}
	}
	return 0
}

// One event day, 200k alerts, ~400 region/account partitions.
func BenchmarkWriteOneDay200k(b *testing.B) { benchWrite(b, 200_000, 200, 1) }

// One event day, 1M alerts, ~400 partitions: peak RSS must stay that of 200k.
func BenchmarkWriteOneDay1M(b *testing.B) { benchWrite(b, 1_000_000, 200, 1) }

// 30 event days, 1M alerts, ~12,000 partitions.
func BenchmarkWrite30Days1M(b *testing.B) { benchWrite(b, 1_000_000, 200, 30) }

// BenchmarkFileCost measures the fixed cost of one small file (writer set-up,
// footer, rename): 100 rows per file.
func BenchmarkFileCost(b *testing.B) {
	root, s := columnartest.FindingTree()
	w, err := New(root, Options{Dir: b.TempDir(), Source: "bench", TimeSlot: s.Time, RegionSlot: s.Region,
		AccountSlot: s.AccountUID, NoSync: true})
	if err != nil {
		b.Fatal(err)
	}
	g := columnartest.NewGen(s, 1, 1, 1)
	var rec plan.Record
	b.ReportAllocs()
	var wt time.Duration
	for b.Loop() {
		for range 100 {
			g.Fill(&rec)
			if err := w.Write(&rec); err != nil {
				b.Fatal(err)
			}
		}
		before := w.Stats().WriteTime
		if err := w.Flush(context.Background()); err != nil {
			b.Fatal(err)
		}
		wt += w.Stats().WriteTime - before
	}
	b.ReportMetric(float64(wt.Microseconds())/float64(b.N), "µs/file")
	w.Close(context.Background())
}
