package wal

import (
	"bytes"
	"context"
	"errors"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
)

// TestH2FlippedBitInLastSegmentIsNotSilent reproduces issue 20's H2: one
// flipped bit inside an acknowledged record of the last segment, followed by
// more acknowledged records. Open must not cut it as a torn tail and hand the
// freed LSNs out again.
func TestH2FlippedBitInLastSegmentIsNotSilent(t *testing.T) {
	dir := t.TempDir()
	o := Options{NoSync: true}
	l := openT(t, dir, o)
	want := appendN(t, l, 0, 20) // 20 Appends of 1..5 records, one segment
	must(t, l.Close())
	path := lastSegment(t, dir)
	// Flip a bit in the data of the first record of the 11th Append.
	var off int64
	lsn := LSN(1)
	for a := range 10 {
		for j := range 1 + a%5 {
			off += headerSize + int64(len(payload(a, j)))
			lsn++
		}
	}
	flipByte(t, path, off+headerSize+2)

	l = openT(t, dir, o)
	got, _ := readAll(t, l, 1)
	checkEntries(t, got, want[:lsn-1])
	first, _, err := l.Append(context.Background(), []byte("after"))
	must(t, err)
	if first <= want[len(want)-1].lsn {
		t.Fatalf("Append after damage got LSN %d: LSNs up to %d were acknowledged before", first, want[len(want)-1].lsn)
	}
	// The loss is reported: the damaged record and every one after it in
	// the segment, counted, with the bytes kept aside.
	gaps := l.Gaps()
	lost := uint64(want[len(want)-1].lsn - lsn + 1)
	if len(gaps) != 1 || !gaps[0].Damaged || gaps[0].From != lsn || gaps[0].To <= want[len(want)-1].lsn || gaps[0].Records != lost || l.Repaired() != nil {
		t.Fatalf("gaps %+v (repaired %+v), want one damaged gap from LSN %d of %d records", gaps, l.Repaired(), lsn, lost)
	}
	var intact, bad int
	must(t, l.ReadCut(gaps[0], func(at LSN, data []byte, ok bool) error {
		if ok {
			intact++
			if !bytes.Equal(data, want[at-1].rec) {
				t.Errorf("cut record at LSN %d: %q, want %q", at, data, want[at-1].rec)
			}
		} else {
			bad++
		}
		return nil
	}))
	if bad != 1 || intact+bad != int(lost) {
		t.Fatalf("ReadCut: %d intact and %d damaged records, want %d and 1", intact, bad, lost-1)
	}
}

// faultFS injects the failures of a full disk into the writer's files: a
// write past the byte budget writes what fits and fails with ENOSPC, a sync
// or a new segment fails while set to.
type faultFS struct {
	budget   atomic.Int64 // bytes writes may still add; < 0: unlimited
	failSync atomic.Bool
	failOpen atomic.Bool
	synced   map[string]int64 // segment name → size at its last sync
}

type faultFile struct {
	File
	fs *faultFS
}

func (fs *faultFS) open(path string, flag int, perm os.FileMode) (File, error) {
	if flag&os.O_CREATE != 0 && fs.failOpen.Load() {
		return nil, &os.PathError{Op: "open", Path: path, Err: syscall.ENOSPC}
	}
	f, err := openOSFile(path, flag, perm)
	if err != nil {
		return nil, err
	}
	return faultFile{f, fs}, nil
}

func (f faultFile) WriteAt(p []byte, off int64) (int, error) {
	b := f.fs.budget.Load()
	if b < 0 || int64(len(p)) <= b {
		if b >= 0 {
			f.fs.budget.Add(-int64(len(p)))
		}
		return f.File.WriteAt(p, off)
	}
	n, _ := f.File.WriteAt(p[:b], off) // a short write, as a full disk does
	f.fs.budget.Store(0)
	return n, &os.PathError{Op: "write", Path: "segment", Err: syscall.ENOSPC}
}

// Sync fails, while failSync is set, if the file grew since its last sync:
// the new data finds no room; a sync after cutting the file back succeeds.
func (f faultFile) Sync() error {
	fi, err := f.File.(osFile).Stat()
	if err != nil {
		return err
	}
	if f.fs.failSync.Load() && fi.Size() > f.fs.synced[fi.Name()] {
		return &os.PathError{Op: "fdatasync", Path: "segment", Err: syscall.ENOSPC}
	}
	f.fs.synced[fi.Name()] = fi.Size() // only the writer goroutine syncs
	return f.File.Sync()
}

// TestDiskFullRecovers: a write, a sync or a new segment failing for lack
// of space fails the Appends being committed, keeps everything acknowledged,
// and Appends succeed again once space returns — no restart.
func TestDiskFullRecovers(t *testing.T) {
	dir := t.TempDir()
	fs := &faultFS{synced: map[string]int64{}}
	fs.budget.Store(-1)
	o := Options{SegmentBytes: 2048, OpenFile: fs.open}
	l := openT(t, dir, o)
	want := appendN(t, l, 0, 10)
	appendFails := func(what string) {
		t.Helper()
		var wg sync.WaitGroup
		for g := range 4 {
			wg.Go(func() {
				_, _, err := l.Append(context.Background(), payload(1000+g, 0), payload(1000+g, 1))
				if !errors.Is(err, syscall.ENOSPC) {
					t.Errorf("%s: Append: %v, want ENOSPC", what, err)
				}
			})
		}
		wg.Wait()
	}
	faults := []struct {
		name       string
		set, clear func()
	}{
		{"write", func() { fs.budget.Store(100) }, func() { fs.budget.Store(-1) }},
		{"sync", func() { fs.failSync.Store(true) }, func() { fs.failSync.Store(false) }},
		{"new segment", func() {
			// Fill the segment so the next Append must start a new one.
			for {
				fi, err := os.Stat(lastSegment(t, dir))
				must(t, err)
				if fi.Size()+headerSize+1 > 2048 {
					break
				}
				first, _, err := l.Append(context.Background(), []byte("x"))
				must(t, err)
				want = append(want, entry{first, []byte("x")})
			}
			fs.failOpen.Store(true)
		}, func() { fs.failOpen.Store(false) }},
	}
	for i, f := range faults {
		f.set()
		next := l.Next()
		appendFails(f.name)
		if l.Next() != next {
			t.Fatalf("%s: Next moved from %d to %d", f.name, next, l.Next())
		}
		f.clear()
		// Space is back: the next Appends succeed, at the LSNs the failed
		// ones never got (appendN checks first == Next).
		want = append(want, appendN(t, l, 100*(i+1), 5)...)
	}
	got, _ := readAll(t, l, 1)
	checkEntries(t, got, want)
	must(t, l.Close())
	// Nothing of the failed Appends reached the log for a later Open.
	l = openT(t, dir, Options{})
	if l.Repaired() != nil || len(l.Gaps()) != 0 {
		t.Fatalf("reopen: repaired %+v, gaps %+v", l.Repaired(), l.Gaps())
	}
	got, _ = readAll(t, l, 1)
	checkEntries(t, got, want)
}

// TestRemovedSegmentAfterACutIsReported: a segment cut short leaves a gap
// from its end to the next segment; when that next segment is later removed
// too, its records must be reported as a gap of their own. (The fault test
// found them lost silently: the new gap began where the old one did, at the
// same segment and offset, and was taken for it.)
func TestRemovedSegmentAfterACutIsReported(t *testing.T) {
	dir := t.TempDir()
	o := Options{NoSync: true, SegmentBytes: 4 << 10}
	l := openT(t, dir, o)
	want := appendN(t, l, 0, 120)
	must(t, l.Close())
	segs := segmentFirsts(t, dir)
	if len(segs) < 4 {
		t.Fatalf("%d segments, want at least 4", len(segs))
	}
	// Cut the first segment short: its tail becomes a gap up to segs[1].
	a := segPath(dir, segs[0])
	st, err := os.Stat(a)
	must(t, err)
	must(t, os.Truncate(a, st.Size()/2))
	l = openT(t, dir, o)
	must(t, l.Close())
	// Then the segment after it goes missing.
	must(t, os.Remove(segPath(dir, segs[1])))
	l = openT(t, dir, o)
	got, _ := readAll(t, l, 1)
	read := map[LSN]bool{}
	for _, e := range got {
		read[e.lsn] = true
	}
	for _, e := range want {
		if read[e.lsn] {
			continue
		}
		inGap := false
		for _, g := range l.Gaps() {
			inGap = inGap || g.Damaged && g.From <= e.lsn && e.lsn < g.To
		}
		if !inGap {
			t.Fatalf("acknowledged LSN %d neither read nor in a reported gap; gaps %+v", e.lsn, l.Gaps())
		}
	}
}

// segmentFirsts lists the first LSNs of dir's segments, in order.
func segmentFirsts(t *testing.T, dir string) []LSN {
	t.Helper()
	ents, err := os.ReadDir(dir)
	must(t, err)
	var out []LSN
	for _, e := range ents {
		if first, ok := parseSegName(e.Name()); ok {
			out = append(out, first)
		}
	}
	slices.Sort(out)
	return out
}
