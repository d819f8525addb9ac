package wal

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// ackedRec is record j of the acknowledged Append id.
type ackedRec struct {
	id uint64
	j  int
}

// TestFaultsAndKill9 kills an appending child with SIGKILL at random
// moments and, between runs, flips random bits and cuts or removes
// segments. After each round every acknowledged record must be read back
// exactly once at its LSN or lie in a reported gap — damaged, except for
// damage confined to the newest segment's final Append, which reads like an
// interrupted write (see the package documentation) — and no LSN is ever
// handed out twice.
func TestFaultsAndKill9(t *testing.T) {
	dir := t.TempDir()
	// A fixed seed by default (the one that found a removed segment hidden
	// behind an earlier cut's gap), so make test is repeatable; the kill
	// moments still vary. WAL_FAULT_SEED=random (or a number) explores.
	seed := uint64(1796623983274005535)
	switch s := os.Getenv("WAL_FAULT_SEED"); s {
	case "":
	case "random":
		seed = uint64(time.Now().UnixNano())
	default:
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("WAL_FAULT_SEED=%q: %v", s, err)
		}
		seed = n
	}
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 17))
	acked := map[LSN]ackedRec{}
	var lost, damagedRounds int
	for round := range 8 {
		for _, line := range killChild(t, dir, uint64(round+1)<<40, rng) {
			f := strings.Fields(line)
			if len(f) != 3 {
				continue // cut short by the kill: not acknowledged
			}
			id, _ := strconv.ParseUint(f[0], 10, 64)
			first, _ := strconv.ParseUint(f[1], 10, 64)
			for j := range crashRecs(id) {
				lsn := LSN(first) + LSN(j)
				if old, ok := acked[lsn]; ok {
					t.Fatalf("round %d: LSN %d acknowledged for %d/%d, and before for %d/%d", round, lsn, id, j, old.id, old.j)
				}
				acked[lsn] = ackedRec{id, j}
			}
		}
		faults, tailFrom := injectFaults(t, dir, rng)
		t.Logf("round %d: %d acknowledged records so far; faults: %s", round, len(acked), strings.Join(faults, ", "))

		l, err := Open(dir, Options{SegmentBytes: 32 << 10})
		if err != nil {
			t.Fatalf("round %d: Open: %v", round, err)
		}
		seen := map[LSN]bool{}
		prev := LSN(0)
		_, err = l.Read(1, func(lsn LSN, rec []byte) error {
			if lsn <= prev {
				return fmt.Errorf("LSN %d read after %d", lsn, prev)
			}
			prev = lsn
			seen[lsn] = true
			var id uint64
			var j int
			if _, err := fmt.Sscanf(string(rec), "%d/%d:", &id, &j); err != nil || !bytes.Equal(rec, crashRecord(id, j)) {
				return fmt.Errorf("LSN %d: not a record the child wrote: %.40q", lsn, rec)
			}
			if a, ok := acked[lsn]; ok && a != (ackedRec{id, j}) {
				return fmt.Errorf("LSN %d holds %d/%d, acknowledged for %d/%d", lsn, id, j, a.id, a.j)
			}
			return nil
		})
		if err != nil {
			l.Close()
			t.Fatalf("round %d: %v", round, err)
		}
		gaps := l.Gaps()
		for lsn, a := range acked {
			if seen[lsn] {
				continue
			}
			g := gapOf(gaps, lsn)
			switch {
			case g == nil:
				l.Close()
				t.Fatalf("round %d: acknowledged record %d/%d at LSN %d lost and not reported; gaps %+v", round, a.id, a.j, lsn, gaps)
			case !g.Damaged && g.New && (tailFrom == 0 || lsn < tailFrom):
				l.Close()
				t.Fatalf("round %d: acknowledged record %d/%d at LSN %d in a gap cut as torn: %+v", round, a.id, a.j, lsn, *g)
			}
		}
		for _, g := range gaps {
			if !g.New {
				continue
			}
			n := 0
			for lsn := range acked {
				if g.From <= lsn && lsn < g.To {
					n++
				}
			}
			lost += n
			if g.Damaged {
				damagedRounds++
				if g.Records == 0 || (g.Quarantine != "" && !fileExists(filepath.Join(dir, g.Quarantine))) {
					l.Close()
					t.Fatalf("round %d: gap %+v: no count or no quarantined copy", round, g)
				}
			}
			t.Logf("round %d: gap LSN %d-%d damaged=%v records=%d (%d acknowledged): %s", round, g.From, g.To, g.Damaged, g.Records, n, g.Reason)
		}
		must(t, l.Close())
	}
	t.Logf("%d acknowledged records, %d lost and reported, %d damaged gaps", len(acked), lost, damagedRounds)
}

func gapOf(gaps []Gap, lsn LSN) *Gap {
	for i, g := range gaps {
		if g.From <= lsn && lsn < g.To {
			return &gaps[i]
		}
	}
	return nil
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// injectFaults damages the closed log in dir at random: a flipped bit in any
// segment, a cut or a removal of one that is not the newest, or nothing. It
// returns what it did and, when it flipped a bit inside the newest segment's
// final Append, that Append's first LSN (else 0): damage there cannot be
// told from a torn write.
func injectFaults(t *testing.T, dir string, rng *rand.Rand) (done []string, tailFrom LSN) {
	t.Helper()
	for range rng.IntN(3) {
		var segs []string
		ents, err := os.ReadDir(dir)
		must(t, err)
		for _, e := range ents {
			if _, ok := parseSegName(e.Name()); ok {
				segs = append(segs, filepath.Join(dir, e.Name()))
			}
		}
		newest := segs[len(segs)-1]
		switch k := rng.IntN(10); {
		case k < 6: // flip a bit anywhere, in the newest segment half the time
			path := segs[rng.IntN(len(segs))]
			if rng.IntN(2) == 0 {
				path = newest
			}
			fi, err := os.Stat(path)
			must(t, err)
			if fi.Size() == 0 {
				continue
			}
			off := rng.Int64N(fi.Size())
			if path == newest {
				if start, first := finalAppend(t, path); off >= start {
					tailFrom = first
				}
			}
			f, err := os.OpenFile(path, os.O_RDWR, 0)
			must(t, err)
			b := []byte{0}
			_, err = f.ReadAt(b, off)
			must(t, err)
			b[0] ^= 1 << rng.IntN(8)
			_, err = f.WriteAt(b, off)
			must(t, err)
			must(t, f.Close())
			done = append(done, fmt.Sprintf("bit flipped in %s at %d", filepath.Base(path), off))
		case k < 9 && len(segs) > 1: // cut an older segment short
			path := segs[rng.IntN(len(segs)-1)]
			fi, err := os.Stat(path)
			must(t, err)
			off := rng.Int64N(fi.Size() + 1)
			must(t, os.Truncate(path, off))
			done = append(done, fmt.Sprintf("%s cut to %d of %d bytes", filepath.Base(path), off, fi.Size()))
		case len(segs) > 1: // remove an older segment
			path := segs[rng.IntN(len(segs)-1)]
			must(t, os.Remove(path))
			done = append(done, filepath.Base(path)+" removed")
		}
	}
	return done, tailFrom
}

// finalAppend returns the offset and first LSN of the last complete Append
// in a segment.
func finalAppend(t *testing.T, path string) (int64, LSN) {
	t.Helper()
	f, err := os.Open(path)
	must(t, err)
	defer f.Close()
	res, err := scanSegment(f)
	must(t, err)
	first, _ := parseSegName(filepath.Base(path))
	var r recReader
	r.reset(f, 0, res.good)
	start, startLSN, lsn, inGroup := int64(0), first, first, false
	for {
		off := r.off
		_, more, err := r.next(true)
		if err != nil {
			return start, startLSN
		}
		if !inGroup {
			start, startLSN = off, lsn
		}
		lsn++
		inGroup = more
	}
}
