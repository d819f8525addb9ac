package service

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/ocsfmap/ocsfmap/engine/wal"
)

// TestRebuildStepsOverDamage: an epoch whose range was recorded before a
// crash is rebuilt from the log; when damage took records out of that
// range, the rebuild delivers the others and stops at the recorded end
// (before, it failed "records missing" and retried forever), and the lost
// batches are counted with their alerts.
func TestRebuildStepsOverDamage(t *testing.T) {
	// The damaged byte in the second segment's first record, and how many
	// of the segment's batches can no longer tell their alert count.
	cases := []struct {
		name       string
		at         int
		unreadable func(lost int64) int64
	}{
		{"length word", 2, func(lost int64) int64 { return lost }}, // nothing after it can be walked
		{"record version", 8, func(int64) int64 { return 1 }},      // only that batch is unreadable
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { rebuildOverDamage(t, c.at, c.unreadable) })
	}
}

func rebuildOverDamage(t *testing.T, at int, unreadable func(int64) int64) {
	dir := t.TempDir()
	logDir := filepath.Join(dir, "wal")
	l, err := wal.Open(logDir, wal.Options{NoSync: true, SegmentBytes: 512})
	if err != nil {
		t.Fatal(err)
	}
	var recs [][]byte
	for i := range 30 {
		b := batch{key: fmt.Sprintf("k%d", i), accepted: time.UnixMilli(int64(i)), alerts: 2,
			ndjson: fmt.Appendf(nil, "{\"n\":%d,\"a\":0}\n{\"n\":%d,\"a\":1}\n", i, i)}
		rec := b.appendTo(nil)
		recs = append(recs, rec)
		if _, _, err := l.Append(context.Background(), rec); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	segs, _ := filepath.Glob(filepath.Join(logDir, "*.wal"))
	if len(segs) < 3 {
		t.Fatalf("%d segments, want 3 or more", len(segs))
	}
	b, _ := os.ReadFile(segs[1])
	b[at] ^= 0x10
	os.WriteFile(segs[1], b, 0o600)

	in := &integration{name: "t", dir: dir, s: &Service{cfg: Config{RollBytes: 1 << 30, RollAge: time.Hour}}}
	in.log = slog.New(slog.DiscardHandler)
	in.st.Delivered = 3 // the first records were delivered before
	if in.wal, err = wal.Open(logDir, wal.Options{NoSync: true}); err != nil {
		t.Fatal(err)
	}
	defer in.wal.Close()
	if err := in.checkLog(); err != nil {
		t.Fatal(err)
	}
	if len(in.lost) != 1 {
		t.Fatalf("lost %+v, want one range", in.lost)
	}
	r := in.lost[0]
	lostN := int64(r.To - r.From)
	if r.Batches != lostN || r.Unreadable != unreadable(lostN) || r.Alerts != 2*(lostN-r.Unreadable) {
		t.Fatalf("lost range %+v: want %d batches, %d unreadable, 2 alerts in each other", r, lostN, unreadable(lostN))
	}
	// Rebuild the recorded epoch [3, 31).
	recsOf := in.logRecords(epoch{From: 3, To: 31})
	var got []byte
	for recsOf.Next() {
		got = append(append(got, recsOf.Record()...), '\n')
	}
	recsOf.Close()
	if err := recsOf.Err(); err != nil {
		t.Fatalf("rebuild over the gap: %v", err)
	}
	var want []byte
	for i, rec := range recs {
		lsn := wal.LSN(i + 1)
		if lsn >= 3 && (lsn < r.From || lsn >= r.To) {
			b, _ := decodeBatch(rec)
			want = append(want, b.ndjson...)
		}
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("rebuilt epoch:\n%s\nwant:\n%s", got, want)
	}
}
