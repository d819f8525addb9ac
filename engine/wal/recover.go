package wal

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/ocsfmap/ocsfmap/engine/internal/atomicfile"
)

// Gap is a range of LSNs [From, To) the log does not hold and never hands
// out again: what Open cut off a segment, or found missing between two.
//
// A torn gap (Damaged false) is the last, interrupted write before a crash:
// its records were never acknowledged. A damaged gap held bytes once
// written whole — acknowledged records are lost there — and its segment's
// original bytes are kept aside in Quarantine.
type Gap struct {
	From    LSN  `json:"from"`
	To      LSN  `json:"to"`
	Damaged bool `json:"damaged"`
	// Records is how many records the gap held: exact between two
	// segments; at the end of the newest segment, the records counted by
	// their length words (To is then a bound no record can have reached).
	Records    uint64    `json:"records"`
	Segment    string    `json:"segment"`              // file name of the segment cut, or the one before a missing stretch
	Offset     int64     `json:"offset"`               // where the cut starts in Segment
	Bytes      int64     `json:"bytes"`                // bytes cut
	Quarantine string    `json:"quarantine,omitempty"` // file name of the copy of Segment as found
	Reason     string    `json:"reason"`
	Found      time.Time `json:"found"`
	// New marks a gap found by this Open (the others were recorded by an
	// earlier one and are reported again for as long as the log lives).
	New bool `json:"-"`
}

// gapFile is the journal of gaps in the log folder, one JSON line per gap,
// appended and synced before Open changes any segment.
const (
	gapFile          = "gaps.ndjson"
	quarantineSuffix = ".damaged"
)

// readGaps reads the journal. A last line without its newline is a crash
// during its write: the gap it describes is found again and recorded anew.
func readGaps(dir string) ([]Gap, error) {
	b, err := os.ReadFile(filepath.Join(dir, gapFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("wal: %w", err)
	}
	var gaps []Gap
	for len(b) > 0 {
		line, rest, ok := bytes.Cut(b, []byte{'\n'})
		if !ok {
			break
		}
		var g Gap
		if err := json.Unmarshal(line, &g); err != nil || g.To <= g.From {
			return nil, fmt.Errorf("%w: %s: unreadable line %q", ErrCorrupt, filepath.Join(dir, gapFile), line)
		}
		gaps = append(gaps, g)
		b = rest
	}
	return gaps, nil
}

// recordGap adds g to the journal durably, unless the same cut is there
// already (Open was interrupted after recording it).
func (l *Log) recordGap(g Gap) error {
	for i, old := range l.gaps {
		if old.Segment == g.Segment && old.Offset == g.Offset && old.From == g.From {
			l.gaps[i].New = true
			return nil
		}
	}
	g.Found, g.New = time.Now().UTC(), true
	line, err := json.Marshal(g)
	if err != nil {
		return err
	}
	path := filepath.Join(l.dir, gapFile)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("wal: %w", err)
	}
	_, err = f.Write(append(line, '\n'))
	if err == nil && !l.opt.NoSync {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil && !l.opt.NoSync {
		err = atomicfile.SyncDir(l.dir)
	}
	if err != nil {
		return fmt.Errorf("wal: record gap: %w", err)
	}
	l.gaps = append(l.gaps, g)
	return nil
}

// covered tells whether the journal accounts for every LSN in [from, to).
func (l *Log) covered(from, to LSN) bool { return l.uncovered(from) >= to }

// uncovered is the first LSN from on that no recorded gap holds.
func (l *Log) uncovered(from LSN) LSN {
	gaps := slices.Clone(l.gaps)
	slices.SortFunc(gaps, func(a, b Gap) int { return cmp.Compare(a.From, b.From) })
	for _, g := range gaps {
		if g.From <= from && from < g.To {
			from = g.To
		}
	}
	return from
}

// highWater is the LSN after every gap recorded: appends start at or after
// it, so a cut's LSNs are never handed out again.
func (l *Log) highWater() LSN {
	var hw LSN
	for _, g := range l.gaps {
		hw = max(hw, g.To)
	}
	return hw
}

// cut records and applies what Open found past the valid prefix of s:
// damaged bytes are first copied aside, then the segment is cut at the
// valid prefix (a later Open finds it clean and the gap in the journal).
// next is the first LSN of the following segment, 0 for the newest one.
func (l *Log) cut(s *segment, res scanResult, next LSN) error {
	from := s.first + LSN(res.count)
	g := Gap{
		From:    from,
		Damaged: next != 0 || !res.torn,
		Records: res.walked,
		Segment: filepath.Base(s.path),
		Offset:  res.good,
		Bytes:   res.size - res.good,
		Reason:  res.problem.Error(),
	}
	if next != 0 {
		g.To, g.Records = next, uint64(next-from)
		g.Reason += " (only the newest segment is written, so a crash cannot leave this)"
	} else {
		g.To = from + LSN(max(1, maxRecords(g.Bytes)))
	}
	if g.Damaged {
		g.Quarantine = g.Segment + quarantineSuffix
	}
	if err := l.recordGap(g); err != nil {
		return err
	}
	if g.Damaged {
		if err := l.copyFile(s.path, filepath.Join(l.dir, g.Quarantine)); err != nil {
			return fmt.Errorf("wal: quarantine %s: %w", s.path, err)
		}
	}
	f, err := os.OpenFile(s.path, os.O_RDWR, 0)
	if err != nil {
		return fmt.Errorf("wal: %w", err)
	}
	err = f.Truncate(res.good)
	if err == nil && !l.opt.NoSync {
		err = datasync(f)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("wal: cut %s: %w", s.path, err)
	}
	if !g.Damaged {
		l.repaired = &Repair{Segment: s.path, Offset: res.good, Dropped: g.Bytes, Reason: g.Reason}
	}
	return nil
}

func (l *Log) copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	_, err = io.Copy(out, in)
	if err == nil && !l.opt.NoSync {
		err = out.Sync()
	}
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err == nil && !l.opt.NoSync {
		err = atomicfile.SyncDir(l.dir)
	}
	return err
}

// Gaps returns every gap recorded in this log's life, oldest first: the
// caller reports the damaged ones (their records are lost) and skips all of
// them when it checks that LSNs follow each other.
func (l *Log) Gaps() []Gap {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.gaps)
}

// Missing tells whether every LSN in [from, to) lies in a recorded gap, so
// a reader that finds them absent has lost nothing it was not told of.
func (l *Log) Missing(from, to LSN) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.covered(from, to)
}

// ReadCut calls fn for each record in the bytes a damaged gap cut off, read
// from its quarantined copy by their length words: lsn is the LSN the
// record had (a guess after a damaged length word) and intact whether its
// checksum matches. It is for counting what a gap lost — none of these
// records is in the log; data is valid only during the call.
func (l *Log) ReadCut(g Gap, fn func(lsn LSN, data []byte, intact bool) error) error {
	if g.Quarantine == "" {
		return fmt.Errorf("wal: gap %d-%d has no quarantined copy", g.From, g.To)
	}
	f, err := os.Open(filepath.Join(l.dir, g.Quarantine))
	if err != nil {
		return fmt.Errorf("wal: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("wal: %w", err)
	}
	_, err = walkLengths(f, g.Offset, fi.Size(), func(i uint64, data []byte, intact bool) error {
		if g.From+LSN(i) >= g.To {
			return io.EOF
		}
		return fn(g.From+LSN(i), data, intact)
	})
	if err == io.EOF {
		err = nil
	}
	return err
}
