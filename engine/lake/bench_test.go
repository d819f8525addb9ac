package lake

import (
	"context"
	"runtime"
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
}

// One event day, 200k alerts, ~400 region/account partitions.
func BenchmarkWriteOneDay200k(b *testing.B) { benchWrite(b, 200_000, 200, 1) }

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
