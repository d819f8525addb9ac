//go:build unix

package pqenc

import (
	"context"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
	"github.com/klauspost/compress/zstd"
)

// BenchmarkLake re-encodes the files of a lake `ocsfmap run` wrote (the
// folder in OCSFMAP_BENCH_LAKE, e.g. one of make bench-compare's outputs)
// with and without dictionaries: the encoder's share of a run, on real
// mapped records, A/B in one process. Reports bytes per row.
//
//	OCSFMAP_BENCH_LAKE=/tmp/ocsfmap-compare/out-ocsfmap1 go test -run '^$' -bench Lake -count 5 ./engine/lake/internal/pqenc
func BenchmarkLake(b *testing.B) {
	dir := os.Getenv("OCSFMAP_BENCH_LAKE")
	if dir == "" {
		b.Skip("OCSFMAP_BENCH_LAKE is not set")
	}
	mem := memory.NewGoAllocator()
	var batches []arrow.RecordBatch
	var rows int64
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".parquet") {
			return err
		}
		pf, err := file.OpenParquetFile(p, false)
		if err != nil {
			return err
		}
		defer pf.Close()
		fr, err := pqarrow.NewFileReader(pf, pqarrow.ArrowReadProperties{BatchSize: 1 << 20}, mem)
		if err != nil {
			return err
		}
		tbl, err := fr.ReadTable(context.Background())
		if err != nil {
			return err
		}
		defer tbl.Release()
		tr := array.NewTableReader(tbl, tbl.NumRows())
		defer tr.Release()
		for tr.Next() {
			rec := tr.RecordBatch()
			rec.Retain()
			batches = append(batches, rec)
			rows += rec.NumRows()
		}
		return nil
	})
	if err != nil || len(batches) == 0 {
		b.Fatalf("read %s: %v (%d files)", dir, err, len(batches))
	}
	// Every variant in every iteration, in rotating order, each timed by
	// the process's CPU time (steadier than the clock on a shared machine).
	props, arrProps := testProps()
	variants := []struct {
		name  string
		dict  bool
		store int
	}{{"plain", false, 64}, {"dict", true, 64}, {"dict-store0", true, 0}, {"dict-store128", true, 128}}
	fs := make([]*Format, len(variants))
	for i, v := range variants {
		f, err := FromArrow(batches[0].Schema(), props, arrProps,
			Options{PageSize: 768 << 10, ZstdLevel: zstd.SpeedFastest, Dictionary: v.dict, StoreBelow: v.store})
		if err != nil {
			b.Fatal(err)
		}
		fs[i] = f
	}
	cpu := make([]time.Duration, len(variants))
	size := make([]int64, len(variants))
	it := 0
	for b.Loop() {
		for k := range variants {
			i := (k + it) % len(variants)
			size[i] = 0
			start := cpuTime()
			for _, rec := range batches {
				n, err := fs[i].Write(io.Discard, rec, 0)
				if err != nil {
					b.Fatal(err)
				}
				size[i] += n
			}
			cpu[i] += cpuTime() - start
		}
		it++
	}
	for i, v := range variants {
		b.ReportMetric(float64(size[i])/float64(rows), v.name+"-B/row")
		b.ReportMetric(float64(cpu[i].Nanoseconds())/float64(it)/float64(rows), v.name+"-cpu-ns/row")
	}
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
