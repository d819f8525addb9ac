package conformance

import (
	"os"
	"testing"
)

// BenchmarkCheckLake checks the lake named by OCSFMAP_BENCH_LAKE (e.g. one
// written by BenchmarkValidateLake200k in cmd/ocsfmap), for profiling.
func BenchmarkCheckLake(b *testing.B) {
	dir := os.Getenv("OCSFMAP_BENCH_LAKE")
	if dir == "" {
		b.Skip("OCSFMAP_BENCH_LAKE not set")
	}
	for b.Loop() {
		c, err := New(Options{}, func(Problem) {})
		if err != nil {
			b.Fatal(err)
		}
		if err := c.Check(dir); err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(c.Summary().Records)/b.Elapsed().Seconds(), "records/s")
	}
}
