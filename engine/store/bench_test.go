package store

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// BenchmarkDeliver measures delivery throughput (MB/s) to the local
// versitygw against copying the same files into a local folder.
// Run: make tools && OCSFMAP_TOOLS=$PWD/.tools go test -run '^$' -bench Deliver ./engine/store/
func BenchmarkDeliver(b *testing.B) {
	newSTS(b)
	bucket := newBucket(b)
	for _, shape := range []struct {
		name  string
		files int
		size  int
	}{
		{"8x4MiB", 8, 4 << 20},
		{"2x40MiB-multipart", 2, 40 << 20},
	} {
		// One source copy of each file; every iteration hard-links it into
		// staging (cheap, and outside the timer) because delivery removes it.
		src := b.TempDir()
		for i := range shape.files {
			stage(b, src, fmt.Sprintf("f%d.parquet", i), shape.size)
		}
		for _, dst := range []struct {
			name string
			dst  Destination
		}{
			{"local", NewLocal(b.TempDir())},
			{"s3", s3Dest(b, bucket)},
		} {
			b.Run(shape.name+"/"+dst.name, func(b *testing.B) {
				b.ReportAllocs()
				b.SetBytes(int64(shape.files * shape.size))
				d := NewDeliverer(dst.dst, DeliverOptions{Logger: quiet(b)})
				for b.Loop() {
					b.StopTimer()
					staging := b.TempDir()
					for i := range shape.files {
						name := fmt.Sprintf("f%d.parquet", i)
						p := filepath.Join(staging, testPrefix, "region=us-east-2", "accountId=1", "eventDay=20240101", name)
						os.MkdirAll(filepath.Dir(p), 0o755)
						if err := os.Link(filepath.Join(src, name), p); err != nil {
							b.Fatal(err)
						}
					}
					b.StartTimer()
					rep, err := d.Deliver(context.Background(), staging)
					if err != nil || rep.Objects != int64(shape.files) {
						b.Fatalf("%+v %v", rep, err)
					}
				}
			})
		}
	}
}
