package wal

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

func openT(t testing.TB, dir string, o Options) *Log {
	t.Helper()
	l, err := Open(dir, o)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// payload is the deterministic content of record j of append a: its size
// varies so records straddle buffer and segment boundaries differently.
func payload(a, j int) []byte {
	b := fmt.Appendf(nil, "a%d/r%d:", a, j)
	for i := range (a*7 + j*13) % 300 {
		b = append(b, byte('a'+(a+j+i)%26))
	}
	return b
}

type entry struct {
	lsn LSN
	rec []byte
}

func readAll(t testing.TB, l *Log, from LSN) ([]entry, LSN) {
	t.Helper()
	var got []entry
	next, err := l.Read(from, func(lsn LSN, rec []byte) error {
		got = append(got, entry{lsn, bytes.Clone(rec)})
		return nil
	})
	if err != nil {
		t.Fatalf("Read(%d): %v", from, err)
	}
	return got, next
}

// appendN appends calls n calls of 1..5 records, checking the LSNs, and
// returns what the log must hold from the first LSN on.
func appendN(t testing.TB, l *Log, start, n int) []entry {
	t.Helper()
	var want []entry
	for a := start; a < start+n; a++ {
		recs := make([][]byte, 1+a%5)
		for j := range recs {
			recs[j] = payload(a, j)
		}
		next := l.Next()
		first, last, err := l.Append(context.Background(), recs...)
		if err != nil {
			t.Fatalf("Append %d: %v", a, err)
		}
		if first != next || last != first+LSN(len(recs))-1 {
			t.Fatalf("Append %d: LSNs %d..%d, want %d..%d", a, first, last, next, next+LSN(len(recs))-1)
		}
		for j, r := range recs {
			want = append(want, entry{first + LSN(j), r})
		}
	}
	return want
}

func checkEntries(t testing.TB, got, want []entry) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("read %d records, want %d", len(got), len(want))
	}
	for i := range want {
		if got[i].lsn != want[i].lsn || !bytes.Equal(got[i].rec, want[i].rec) {
			t.Fatalf("record %d: LSN %d %q, want LSN %d %q", i, got[i].lsn, got[i].rec, want[i].lsn, want[i].rec)
		}
	}
}

func TestRoundTripAcrossSegmentsAndReopen(t *testing.T) {
	dir := t.TempDir()
	o := Options{SegmentBytes: 2048}
	l := openT(t, dir, o)
	if l.First() != 1 || l.Next() != 1 {
		t.Fatalf("new log: First %d Next %d, want 1 1", l.First(), l.Next())
	}
	want := appendN(t, l, 0, 300)
	st := l.Stats()
	if st.Segments < 10 {
		t.Fatalf("%d segments, want many with SegmentBytes 2048", st.Segments)
	}
	if st.Records != uint64(len(want)) || st.Written != uint64(len(want)) || st.Appends != 300 {
		t.Fatalf("stats %+v, want %d records in 300 appends", st, len(want))
	}
	got, next := readAll(t, l, 1)
	checkEntries(t, got, want)
	if next != l.Next() {
		t.Fatalf("Read returned next %d, want %d", next, l.Next())
	}
	// Every segment but a single oversized Append stays within SegmentBytes,
	// and the file names are the first LSNs.
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		if first, ok := parseSegName(e.Name()); ok {
			fi, _ := e.Info()
			if fi.Size() > o.SegmentBytes {
				t.Errorf("%s is %d bytes, over SegmentBytes", e.Name(), fi.Size())
			}
			if first < 1 || first >= next {
				t.Errorf("segment name %s out of range", e.Name())
			}
		}
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); !errors.Is(err, ErrClosed) {
		t.Fatalf("second Close: %v, want ErrClosed", err)
	}

	l = openT(t, dir, o)
	if l.Repaired() != nil {
		t.Fatalf("clean log repaired: %+v", l.Repaired())
	}
	if l.Next() != next || l.Stats().Bytes != st.Bytes || l.Stats().Segments != st.Segments {
		t.Fatalf("after reopen Next %d stats %+v, want Next %d bytes %d", l.Next(), l.Stats(), next, st.Bytes)
	}
	got, _ = readAll(t, l, 0)
	checkEntries(t, got, want)
	// LSNs continue after the reopen.
	want = append(want, appendN(t, l, 300, 50)...)
	got, _ = readAll(t, l, 1)
	checkEntries(t, got, want)
}

func TestReadFromEveryLSN(t *testing.T) {
	l := openT(t, t.TempDir(), Options{SegmentBytes: 16 << 10, NoSync: true})
	want := appendN(t, l, 0, 200) // ~600 records: several index marks per segment
	for i, e := range want {
		got, next := readAll(t, l, e.lsn)
		checkEntries(t, got, want[i:])
		if next != l.Next() {
			t.Fatalf("Read(%d) next %d, want %d", e.lsn, next, l.Next())
		}
	}
	if got, next := readAll(t, l, l.Next()+5); len(got) != 0 || next != l.Next()+5 {
		t.Fatalf("Read past the end: %d records, next %d", len(got), next)
	}
	// fn's error stops the read at the refused record.
	stop := errors.New("stop")
	seen := 0
	next, err := l.Read(10, func(lsn LSN, rec []byte) error {
		if lsn == 20 {
			return stop
		}
		seen++
		return nil
	})
	if !errors.Is(err, stop) || next != 20 || seen != 10 {
		t.Fatalf("Read with refusing fn: next %d err %v seen %d, want 20 stop 10", next, err, seen)
	}
}

func TestAppendRejects(t *testing.T) {
	l := openT(t, t.TempDir(), Options{NoSync: true})
	if _, _, err := l.Append(context.Background(), []byte("x"), nil); !errors.Is(err, ErrRecord) {
		t.Fatalf("empty record: %v, want ErrRecord", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, _, err := l.Append(ctx, []byte("x")); !errors.Is(err, context.Canceled) {
		t.Fatalf("canceled ctx: %v", err)
	}
	if f, la, err := l.Append(context.Background()); f != 0 || la != 0 || err != nil {
		t.Fatalf("no records: %d %d %v", f, la, err)
	}
	if l.Next() != 1 {
		t.Fatalf("rejected appends wrote: Next %d", l.Next())
	}
	if _, err := Open(l.dir, Options{}); !errors.Is(err, ErrLocked) {
		t.Fatalf("second Open of the folder: %v, want ErrLocked", err)
	}
	l.Close()
	if _, _, err := l.Append(context.Background(), []byte("x")); !errors.Is(err, ErrClosed) {
		t.Fatalf("Append after Close: %v", err)
	}
	if _, err := l.Read(1, func(LSN, []byte) error { return nil }); !errors.Is(err, ErrClosed) {
		t.Fatalf("Read after Close: %v", err)
	}
}

// lastSegment returns the path of the segment with the highest first LSN.
func lastSegment(t *testing.T, dir string) string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	last := ""
	for _, e := range ents {
		if _, ok := parseSegName(e.Name()); ok {
			last = filepath.Join(dir, e.Name())
		}
	}
	return last
}

// TestTornTailIsCut: what an interrupted write leaves at the end of the
// newest segment is cut silently (Repaired); what only damage to written
// bytes can leave there is quarantined and reported as a damaged Gap. In
// both cases the LSNs the cut bytes could hold are never handed out again.
func TestTornTailIsCut(t *testing.T) {
	const lastRecs = 4 // the final Append's records, all dropped by a tear in any of them
	cases := []struct {
		name    string
		damage  func(t *testing.T, path string, size, lastStart int64)
		keepAll bool // damage is past the last good record: nothing is lost
		damaged bool // not a shape a crash leaves
	}{
		{"truncated mid-record", func(t *testing.T, p string, size, _ int64) {
			must(t, os.Truncate(p, size-5))
		}, false, false},
		{"truncated mid-header", func(t *testing.T, p string, _, lastStart int64) {
			must(t, os.Truncate(p, lastStart+3))
		}, false, false},
		{"torn inside a multi-record Append", func(t *testing.T, p string, _, lastStart int64) {
			// Ends after the first two records of the final Append: they are
			// whole and valid, and still must go with the rest of their call.
			must(t, os.Truncate(p, lastStart+2*(headerSize+100)+headerSize+10))
		}, false, false},
		{"zeros appended", func(t *testing.T, p string, _, _ int64) {
			appendFile(t, p, make([]byte, 4096))
		}, true, false},
		{"flipped byte in last record", func(t *testing.T, p string, size, _ int64) {
			flipByte(t, p, size-1)
		}, false, true},
		{"garbage appended", func(t *testing.T, p string, _, _ int64) {
			appendFile(t, p, []byte("\x17\x00\x00\x00garbage that is not a record"))
		}, true, true},
		{"huge length appended", func(t *testing.T, p string, _, _ int64) {
			appendFile(t, p, []byte{0xff, 0xff, 0xff, 0x7f, 1, 2, 3, 4, 5})
		}, true, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			o := Options{SegmentBytes: 4096, NoSync: true}
			l := openT(t, dir, o)
			want := appendN(t, l, 0, 40)
			final := make([][]byte, lastRecs)
			for j := range final {
				final[j] = bytes.Repeat([]byte{byte('A' + j)}, 100)
			}
			first, _, err := l.Append(context.Background(), final...)
			must(t, err)
			path := lastSegment(t, dir)
			fi, err := os.Stat(path)
			must(t, err)
			size := fi.Size()
			lastStart := size - lastRecs*(headerSize+100)
			must(t, l.Close())
			if c.keepAll {
				for j, r := range final {
					want = append(want, entry{first + LSN(j), r})
				}
			}
			c.damage(t, path, size, lastStart)
			orig, err := os.ReadFile(path)
			must(t, err)

			l = openT(t, dir, o)
			wantOff := lastStart
			if c.keepAll {
				wantOff = size
			}
			rep := l.Repaired()
			if c.damaged != (rep == nil) {
				t.Fatalf("Repaired() = %+v, want a cut: %v", rep, !c.damaged)
			}
			if rep != nil && (rep.Segment != path || rep.Offset != wantOff) {
				t.Fatalf("Repaired() = %+v, want a cut of %s at %d", rep, path, wantOff)
			}
			gaps := l.Gaps()
			if len(gaps) != 1 {
				t.Fatalf("Gaps() = %+v, want one", gaps)
			}
			g := gaps[0]
			cutFrom := want[len(want)-1].lsn + 1
			if g.Damaged != c.damaged || !g.New || g.From != cutFrom || g.To <= g.From || g.Offset != wantOff || g.Segment != filepath.Base(path) {
				t.Fatalf("gap %+v, want damaged %v from LSN %d at offset %d", g, c.damaged, cutFrom, wantOff)
			}
			if c.damaged {
				q, err := os.ReadFile(filepath.Join(dir, g.Quarantine))
				if err != nil || !bytes.Equal(q, orig) {
					t.Fatalf("quarantined copy %s: %v (same bytes as found: %v)", g.Quarantine, err, bytes.Equal(q, orig))
				}
			}
			got, _ := readAll(t, l, 1)
			checkEntries(t, got, want)
			// Appends continue past every LSN the cut bytes could hold…
			if l.Next() != g.To {
				t.Fatalf("Next %d after the cut, want %d", l.Next(), g.To)
			}
			more := appendN(t, l, 100, 10)
			want = append(want, more...)
			must(t, l.Close())
			// …and the log reopens clean, still reporting the gap.
			l = openT(t, dir, o)
			if l.Repaired() != nil {
				t.Fatalf("second Open repaired again: %+v", l.Repaired())
			}
			if gaps := l.Gaps(); len(gaps) != 1 || gaps[0].New || gaps[0].From != g.From || gaps[0].To != g.To {
				t.Fatalf("second Open: gaps %+v, want the first one, not new", gaps)
			}
			got, _ = readAll(t, l, 1)
			checkEntries(t, got, want)
		})
	}
}

// TestDamageEarlierSegmentIsQuarantined: only the newest segment is written,
// so anything wrong in an earlier one is damage: the segment is copied
// aside, cut at its valid prefix, and the exact LSNs lost are reported; the
// rest of the log stays readable and is not renumbered.
func TestDamageEarlierSegmentIsQuarantined(t *testing.T) {
	setup := func(t *testing.T) (string, []string, []entry) {
		dir := t.TempDir()
		l := openT(t, dir, Options{SegmentBytes: 1024, NoSync: true})
		want := appendN(t, l, 0, 60)
		must(t, l.Close())
		var segs []string
		ents, _ := os.ReadDir(dir)
		for _, e := range ents {
			if _, ok := parseSegName(e.Name()); ok {
				segs = append(segs, filepath.Join(dir, e.Name()))
			}
		}
		if len(segs) < 4 {
			t.Fatalf("%d segments, want at least 4", len(segs))
		}
		return dir, segs, want
	}
	first := func(path string) LSN {
		n, _ := parseSegName(filepath.Base(path))
		return n
	}
	// check opens dir and wants one damaged gap [from, to) and every other
	// record read back at its LSN.
	check := func(t *testing.T, dir string, want []entry, from, to LSN, quarantine bool) {
		t.Helper()
		l := openT(t, dir, Options{NoSync: true})
		gaps := l.Gaps()
		if len(gaps) != 1 || !gaps[0].Damaged || gaps[0].From != from || gaps[0].To != to || gaps[0].Records != uint64(to-from) {
			t.Fatalf("gaps %+v, want one damaged gap %d-%d", gaps, from, to)
		}
		if q := gaps[0].Quarantine; quarantine != (q != "") {
			t.Fatalf("quarantined copy %q, want one: %v", q, quarantine)
		} else if _, err := os.Stat(filepath.Join(dir, q)); q != "" && err != nil {
			t.Fatalf("quarantined copy %q: %v", gaps[0].Quarantine, err)
		}
		var kept []entry
		for _, e := range want {
			if e.lsn < from || e.lsn >= to {
				kept = append(kept, e)
			}
		}
		got, _ := readAll(t, l, 1)
		checkEntries(t, got, kept)
		if !l.Missing(from, to) || l.Missing(from-1, to) {
			t.Fatalf("Missing(%d, %d) wrong", from, to)
		}
		next := l.Next()
		if next != want[len(want)-1].lsn+1 {
			t.Fatalf("Next %d, want %d", next, want[len(want)-1].lsn+1)
		}
		must(t, l.Close())
	}
	t.Run("flipped byte", func(t *testing.T) {
		dir, segs, want := setup(t)
		flipByte(t, segs[1], 20)
		check(t, dir, want, first(segs[1]), first(segs[2]), true)
	})
	t.Run("torn tail of a sealed segment", func(t *testing.T) {
		dir, segs, want := setup(t)
		fi, _ := os.Stat(segs[0])
		must(t, os.Truncate(segs[0], fi.Size()-1))
		// The whole last Append of the segment goes: find its first LSN.
		var lastFirst LSN
		for a, lsn := 0, LSN(1); lsn < first(segs[1]); a++ {
			lastFirst = lsn
			lsn += LSN(1 + a%5)
		}
		check(t, dir, want, lastFirst, first(segs[1]), true)
	})
	t.Run("missing segment", func(t *testing.T) {
		dir, segs, want := setup(t)
		must(t, os.Remove(segs[2]))
		check(t, dir, want, first(segs[2]), first(segs[3]), false)
	})
	t.Run("overlapping segments refuse to open", func(t *testing.T) {
		dir, segs, _ := setup(t)
		b, err := os.ReadFile(segs[2])
		must(t, err)
		must(t, os.WriteFile(segPath(dir, first(segs[2])-1), b, 0o600))
		if _, err := Open(dir, Options{}); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("Open: %v, want ErrCorrupt", err)
		}
	})
	t.Run("Read finds damage", func(t *testing.T) {
		dir, segs, _ := setup(t)
		l := openT(t, dir, Options{NoSync: true})
		flipByte(t, segs[0], 20)
		if _, err := l.Read(1, func(LSN, []byte) error { return nil }); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("Read: %v, want ErrCorrupt", err)
		}
	})
}

func TestConcurrentAppendersGroupCommit(t *testing.T) {
	const goroutines, appends = 32, 40
	l := openT(t, t.TempDir(), Options{SegmentBytes: 8 << 10}) // real fsync: batching comes from waiting on it
	type ack struct{ first, last LSN }
	acks := make([][]ack, goroutines)
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			for a := range appends {
				recs := make([][]byte, 1+a%3)
				for j := range recs {
					recs[j] = fmt.Appendf(nil, "g%d/a%d/r%d", g, a, j)
				}
				first, last, err := l.Append(context.Background(), recs...)
				if err != nil {
					t.Errorf("Append: %v", err)
					return
				}
				acks[g] = append(acks[g], ack{first, last})
			}
		})
	}
	wg.Wait()
	got, _ := readAll(t, l, 1)
	byLSN := make(map[LSN][]byte, len(got))
	seen := make(map[string]bool, len(got))
	for _, e := range got {
		if seen[string(e.rec)] {
			t.Fatalf("record %q read twice", e.rec)
		}
		seen[string(e.rec)] = true
		byLSN[e.lsn] = e.rec
	}
	total := 0
	for g := range goroutines {
		for a, k := range acks[g] {
			n := 1 + a%3
			total += n
			if int(k.last-k.first)+1 != n {
				t.Fatalf("g%d a%d: LSNs %d..%d for %d records", g, a, k.first, k.last, n)
			}
			for j := range n {
				if w := fmt.Sprintf("g%d/a%d/r%d", g, a, j); string(byLSN[k.first+LSN(j)]) != w {
					t.Fatalf("LSN %d holds %q, want %q", k.first+LSN(j), byLSN[k.first+LSN(j)], w)
				}
			}
		}
	}
	if len(got) != total {
		t.Fatalf("read %d records, appended %d", len(got), total)
	}
	st := l.Stats()
	t.Logf("%d appends, %d syncs, %d writes, %d segments", st.Appends, st.Syncs, st.Writes, st.Segments)
	if st.Appends != goroutines*appends {
		t.Fatalf("Stats.Appends %d, want %d", st.Appends, goroutines*appends)
	}
	// Group commit: with 32 callers waiting on each sync, a sync serves many.
	if st.Syncs == 0 || st.Syncs*4 > st.Appends {
		t.Fatalf("%d syncs for %d appends: group commit is not sharing syncs", st.Syncs, st.Appends)
	}
}

func TestFullAndTruncateFront(t *testing.T) {
	dir := t.TempDir()
	l := openT(t, dir, Options{SegmentBytes: 1024, MaxBytes: 8192, NoSync: true})
	rec := bytes.Repeat([]byte("x"), 200)
	var err error
	n := 0
	for ; n < 1000; n++ {
		if _, _, err = l.Append(context.Background(), rec); err != nil {
			break
		}
	}
	if !errors.Is(err, ErrFull) {
		t.Fatalf("Append %d: %v, want ErrFull", n, err)
	}
	st := l.Stats()
	if st.Bytes < 8192 || st.Bytes > 8192+headerSize+200 {
		t.Fatalf("full at %d bytes, want just at or over 8192", st.Bytes)
	}
	next := l.Next()
	// Before First, nothing to remove.
	must(t, l.TruncateFront(1))
	if l.Stats().Segments != st.Segments {
		t.Fatal("TruncateFront(1) removed a segment")
	}
	// Remove up to a record inside the third segment: the first two go.
	secondFirst := l.segs[1].first
	thirdFirst := l.segs[2].first
	must(t, l.TruncateFront(thirdFirst+1))
	if l.First() != thirdFirst || l.Stats().Segments != st.Segments-2 {
		t.Fatalf("First %d segments %d, want %d %d", l.First(), l.Stats().Segments, thirdFirst, st.Segments-2)
	}
	for _, f := range []LSN{1, secondFirst} {
		if _, err := os.Stat(segPath(dir, f)); !os.IsNotExist(err) {
			t.Fatalf("segment %d still on disk: %v", f, err)
		}
	}
	// Everything delivered: all but the active segment go, appends resume.
	must(t, l.TruncateFront(next))
	if l.Stats().Segments != 1 || l.Stats().Bytes >= 1024+headerSize+200 {
		t.Fatalf("after TruncateFront(Next): %+v", l.Stats())
	}
	first, _, err := l.Append(context.Background(), rec)
	if err != nil || first != next {
		t.Fatalf("Append after TruncateFront: LSN %d %v, want %d", first, err, next)
	}
	// Read from before First starts at First.
	got, _ := readAll(t, l, 1)
	if got[0].lsn != l.First() || got[len(got)-1].lsn != next {
		t.Fatalf("Read(1) after truncation: LSNs %d..%d, want %d..%d", got[0].lsn, got[len(got)-1].lsn, l.First(), next)
	}
	// The truncation survives a reopen, LSNs too.
	must(t, l.Close())
	l = openT(t, dir, Options{SegmentBytes: 1024, MaxBytes: 8192, NoSync: true})
	if l.Next() != next+1 || l.First() != got[0].lsn {
		t.Fatalf("reopen: First %d Next %d, want %d %d", l.First(), l.Next(), got[0].lsn, next+1)
	}
}

// TestTruncateDuringRead removes segments a Read is visiting: the Read
// finishes from its open handles.
func TestTruncateDuringRead(t *testing.T) {
	l := openT(t, t.TempDir(), Options{SegmentBytes: 1024, NoSync: true})
	want := appendN(t, l, 0, 100)
	var got []entry
	_, err := l.Read(1, func(lsn LSN, rec []byte) error {
		if lsn == 2 {
			if err := l.TruncateFront(l.Next()); err != nil {
				return err
			}
		}
		got = append(got, entry{lsn, bytes.Clone(rec)})
		return nil
	})
	must(t, err)
	checkEntries(t, got, want)
	if l.Stats().Segments != 1 {
		t.Fatalf("%d segments after truncation", l.Stats().Segments)
	}
}

// TestReadSeesOnlySyncedRecords holds every commit between its write and its
// sync while readers poll: a record must never be visible before its sync.
func TestReadSeesOnlySyncedRecords(t *testing.T) {
	l := openT(t, t.TempDir(), Options{SegmentBytes: 8 << 10, NoSync: true})
	var synced atomic.Uint64 // LSN after the last synced record
	synced.Store(1)
	// The sleeps stand for a slow disk: a reader racing ahead of the sync
	// gets plenty of time to see what it must not.
	l.afterWrite = func() { time.Sleep(100 * time.Microsecond) }
	l.afterSync = func(next LSN) {
		time.Sleep(100 * time.Microsecond)
		synced.Store(uint64(next))
	}

	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for a := 0; ctx.Err() == nil; a++ {
				if _, _, err := l.Append(ctx, payload(g, a), payload(a, g)); err != nil && ctx.Err() == nil {
					t.Errorf("Append: %v", err)
				}
			}
		})
	}
	var reads, seen int
	var from LSN = 1
	deadline := time.Now().Add(500 * time.Millisecond)
	for time.Now().Before(deadline) {
		want := from
		next, err := l.Read(from, func(lsn LSN, rec []byte) error {
			if uint64(lsn) >= synced.Load() {
				return fmt.Errorf("read LSN %d before its sync (synced up to %d)", lsn, synced.Load())
			}
			if lsn != want {
				return fmt.Errorf("read LSN %d, want %d", lsn, want)
			}
			want++
			seen++
			return nil
		})
		if err != nil {
			cancel()
			wg.Wait()
			t.Fatal(err)
		}
		from = next
		reads++
	}
	cancel()
	wg.Wait()
	t.Logf("%d reads saw %d records", reads, seen)
	if seen == 0 || reads < 2 {
		t.Fatalf("%d reads saw %d records", reads, seen)
	}
	got, _ := readAll(t, l, 1)
	if len(got) != int(l.Next()-1) {
		t.Fatalf("log holds %d records, Next %d", len(got), l.Next())
	}
}

func TestWaitWakes(t *testing.T) {
	l := openT(t, t.TempDir(), Options{NoSync: true})
	appendN(t, l, 0, 1)
	after := l.Next() - 1
	if err := l.Wait(context.Background(), after-1); err != nil {
		t.Fatalf("Wait for a record already there: %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- l.Wait(context.Background(), after) }()
	select {
	case err := <-done:
		t.Fatalf("Wait returned %v with nothing new", err)
	case <-time.After(50 * time.Millisecond):
	}
	appendN(t, l, 1, 1)
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Wait did not wake on Append")
	}

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if err := l.Wait(ctx, l.Next()); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Wait with expiring ctx: %v", err)
	}
	go func() { done <- l.Wait(context.Background(), l.Next()) }()
	time.Sleep(20 * time.Millisecond)
	must(t, l.Close())
	select {
	case err := <-done:
		if !errors.Is(err, ErrClosed) {
			t.Fatalf("Wait after Close: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Wait did not wake on Close")
	}
}

// TestCloseDuringAppends: every Append that returned nil is in the log after
// a reopen, and every other one failed with ErrClosed.
func TestCloseDuringAppends(t *testing.T) {
	dir := t.TempDir()
	l := openT(t, dir, Options{SegmentBytes: 4096, NoSync: true})
	var mu sync.Mutex
	acked := map[LSN]string{}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for a := 0; ; a++ {
				rec := fmt.Sprintf("g%d/a%d", g, a)
				first, _, err := l.Append(context.Background(), []byte(rec))
				if errors.Is(err, ErrClosed) {
					return
				}
				if err != nil {
					t.Errorf("Append: %v", err)
					return
				}
				mu.Lock()
				acked[first] = rec
				mu.Unlock()
			}
		})
	}
	time.Sleep(30 * time.Millisecond)
	must(t, l.Close())
	wg.Wait()
	l = openT(t, dir, Options{NoSync: true})
	got, _ := readAll(t, l, 1)
	if len(got) != len(acked) {
		t.Fatalf("log holds %d records, %d acknowledged", len(got), len(acked))
	}
	for _, e := range got {
		if acked[e.lsn] != string(e.rec) {
			t.Fatalf("LSN %d holds %q, acknowledged %q", e.lsn, e.rec, acked[e.lsn])
		}
	}
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func flipByte(t *testing.T, path string, off int64) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	must(t, err)
	defer f.Close()
	b := []byte{0}
	_, err = f.ReadAt(b, off)
	must(t, err)
	b[0] ^= 0x40
	_, err = f.WriteAt(b, off)
	must(t, err)
}

func appendFile(t *testing.T, path string, data []byte) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	must(t, err)
	defer f.Close()
	_, err = f.Write(data)
	must(t, err)
}

// TestAppendCanceledWhileQueued: an Append whose ctx ends while it waits
// behind a commit in progress is withdrawn — an error from Append then means
// nothing of it was written.
func TestAppendCanceledWhileQueued(t *testing.T) {
	dir := t.TempDir()
	l := openT(t, dir, Options{NoSync: true})
	inWrite, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	l.afterWrite = func() {
		once.Do(func() {
			close(inWrite)
			<-release
		})
	}
	errc := make(chan error, 1)
	go func() {
		_, _, err := l.Append(context.Background(), []byte("first"))
		errc <- err
	}()
	<-inWrite // the writer holds "first" between its write and sync
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		time.Sleep(20 * time.Millisecond)
		cancel()
	}()
	if _, _, err := l.Append(ctx, []byte("withdrawn")); !errors.Is(err, context.Canceled) {
		t.Fatalf("queued Append with canceled ctx: %v", err)
	}
	close(release)
	must(t, <-errc)
	appendN(t, l, 0, 1)
	must(t, l.Close())
	l = openT(t, dir, Options{NoSync: true})
	got, _ := readAll(t, l, 1)
	if len(got) != 2 || string(got[0].rec) != "first" || string(got[1].rec) == "withdrawn" {
		t.Fatalf("log holds %+v", got)
	}
}

// TestFullWithLargeSegments: a cap below the segment size must not leave a
// full log that TruncateFront cannot free (the active segment is never
// removed), so segments shrink to a quarter of the cap.
func TestFullWithLargeSegments(t *testing.T) {
	l := openT(t, t.TempDir(), Options{MaxBytes: 8192, NoSync: true}) // default 64 MiB segments
	rec := bytes.Repeat([]byte("y"), 100)
	for round := range 3 {
		var err error
		for err == nil {
			_, _, err = l.Append(context.Background(), rec)
		}
		if !errors.Is(err, ErrFull) {
			t.Fatalf("round %d: %v, want ErrFull", round, err)
		}
		must(t, l.TruncateFront(l.Next()))
		if _, _, err := l.Append(context.Background(), rec); err != nil {
			t.Fatalf("round %d: Append after TruncateFront: %v", round, err)
		}
	}
}

// TestLargeRecordsAreNotCopied: records of a request's size go to the file
// from the caller's slice, small ones are gathered into bounded writes, and
// the writer keeps no buffer of a large batch's size afterwards. All read
// back, in order, before and after a reopen, and a large record that does
// not fit on the disk leaves nothing behind.
func TestLargeRecordsAreNotCopied(t *testing.T) {
	dir := t.TempDir()
	fs := &faultFS{synced: map[string]int64{}}
	fs.budget.Store(-1)
	l := openT(t, dir, Options{SegmentBytes: 16 << 20, OpenFile: fs.open})
	sizes := []int{10, writeChunk - 1, writeChunk, 3*writeChunk + 7, 100, 5 << 20}
	rec := func(g, i, j int) []byte {
		b := bytes.Repeat([]byte{byte('a' + (g+i+j)%26)}, sizes[(g+i+j)%len(sizes)])
		return fmt.Appendf(b[:0], "g%d/i%d/r%d:", g, i, j)[:len(b)]
	}
	var (
		mu   sync.Mutex
		want = map[LSN][]byte{}
		wg   sync.WaitGroup
	)
	for g := range 6 {
		wg.Go(func() {
			for i := range 4 {
				recs := [][]byte{rec(g, i, 0)}
				if i%2 == 1 { // several records in one call, large and small mixed
					recs = append(recs, rec(g, i, 1), rec(g, i, 2))
				}
				first, _, err := l.Append(context.Background(), recs...)
				if err != nil {
					t.Errorf("Append: %v", err)
					return
				}
				mu.Lock()
				for j, r := range recs {
					want[first+LSN(j)] = r
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	check := func(l *Log) {
		t.Helper()
		got, _ := readAll(t, l, 1)
		if len(got) != len(want) {
			t.Fatalf("read %d records, want %d", len(got), len(want))
		}
		for _, e := range got {
			if !bytes.Equal(e.rec, want[e.lsn]) {
				t.Fatalf("LSN %d: %d bytes %.20q, want %d bytes %.20q", e.lsn, len(e.rec), e.rec, len(want[e.lsn]), want[e.lsn])
			}
		}
	}
	check(l)

	// A large record the disk has no room for: the short write is cut
	// off again, and the log goes on.
	fs.budget.Store(writeChunk / 2)
	if _, _, err := l.Append(context.Background(), bytes.Repeat([]byte{'z'}, 2*writeChunk)); !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("Append on a full disk: %v, want ENOSPC", err)
	}
	fs.budget.Store(-1)
	first, _, err := l.Append(context.Background(), []byte("after"))
	must(t, err)
	want[first] = []byte("after")
	check(l)
	must(t, l.Close()) // the writer is done: its buffer can be looked at
	if cap(l.buf) > keepBuf {
		t.Fatalf("the writer keeps a %d-byte buffer after its batches, want at most %d", cap(l.buf), keepBuf)
	}
	l = openT(t, dir, Options{})
	defer l.Close()
	if l.Repaired() != nil || len(l.Gaps()) != 0 {
		t.Fatalf("reopen: repaired %+v, gaps %+v", l.Repaired(), l.Gaps())
	}
	check(l)
}
