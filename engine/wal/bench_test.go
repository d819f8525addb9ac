package wal

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkAppend500x4 is the service's ingest shape: 4 clients each posting
// 500-alert requests, every request one Append, with real fdatasyncs. Each
// op is one Append; records/s is the sustained durable rate, fsyncs/append
// shows how many requests share a sync, p99-ms the latency of one Append.
// Delivered segments are truncated as it goes, as the delivery job would.
func BenchmarkAppend500x4(b *testing.B) {
	for _, size := range []int{512, 2048} {
		b.Run(fmt.Sprintf("rec=%dB", size), func(b *testing.B) {
			const clients, batch = 4, 500
			l := openT(b, b.TempDir(), Options{})
			recs := make([][]byte, batch)
			for i := range recs {
				recs[i] = payloadOf(size, i)
			}
			var ops atomic.Int64
			lat := make([][]time.Duration, clients)
			b.SetBytes(batch * int64(size))
			b.ResetTimer()
			var wg sync.WaitGroup
			for c := range clients {
				wg.Go(func() {
					for ops.Add(1) <= int64(b.N) {
						t0 := time.Now()
						first, _, err := l.Append(context.Background(), recs...)
						if err != nil {
							b.Error(err)
							return
						}
						lat[c] = append(lat[c], time.Since(t0))
						if err := l.TruncateFront(first); err != nil {
							b.Error(err)
							return
						}
					}
				})
			}
			wg.Wait()
			b.StopTimer()
			st := l.Stats()
			all := slices.Concat(lat...)
			slices.Sort(all)
			b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "records/s")
			b.ReportMetric(float64(st.Syncs)/float64(st.Appends), "fsyncs/append")
			b.ReportMetric(float64(all[len(all)*99/100].Microseconds())/1000, "p99-ms")
			b.ReportMetric(float64(all[len(all)/2].Microseconds())/1000, "p50-ms")
		})
	}
}

func payloadOf(size, i int) []byte {
	b := fmt.Appendf(make([]byte, 0, size), `{"finding":{"uid":"%08d"},"pad":"`, i)
	for len(b) < size-2 {
		b = append(b, byte('a'+len(b)%26))
	}
	return append(b, `"}`...)
}
