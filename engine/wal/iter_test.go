package wal

import (
	"context"
	"fmt"
	"testing"
)

// Records(from, to) yields exactly the records in [from, to), across
// segments and from any point of one (the index's marks included), and
// keeps its segments readable while TruncateFront removes them.
func TestRecordsRange(t *testing.T) {
	l, err := Open(t.TempDir(), Options{SegmentBytes: 4 << 10})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	const n = 600
	for i := 1; i <= n; i++ {
		if _, _, err := l.Append(context.Background(), fmt.Appendf(nil, "record %d", i)); err != nil {
			t.Fatal(err)
		}
	}
	if len(l.segs) < 3 {
		t.Fatalf("%d segments: the test wants several", len(l.segs))
	}
	for _, r := range [][2]LSN{{1, n + 1}, {3, 7}, {indexEvery + 5, 3*indexEvery + 2}, {250, 251}, {n, n + 50}, {10, 10}} {
		it := l.Records(r[0], r[1])
		want := r[0]
		for it.Next() {
			if it.LSN() != want || string(it.Record()) != fmt.Sprintf("record %d", want) {
				t.Fatalf("%v: %d %q, want %d", r, it.LSN(), it.Record(), want)
			}
			want++
		}
		if it.Err() != nil || want != min(r[1], n+1) || it.NextLSN() != want {
			t.Fatalf("%v: ended at %d (next %d), err %v", r, want, it.NextLSN(), it.Err())
		}
		it.Close()
	}
	it := l.Records(1, n+1)
	it.Next()
	if err := l.TruncateFront(n); err != nil {
		t.Fatal(err)
	}
	k := 1
	for it.Next() {
		k++
	}
	if it.Err() != nil || k != n {
		t.Fatalf("after TruncateFront: read %d, err %v", k, it.Err())
	}
	it.Close()
}
