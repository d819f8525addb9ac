package wal

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"

	"github.com/ocsfmap/ocsfmap/engine/internal/atomicfile"
)

// LSN numbers records: the first record ever appended to a log is 1, then 2,
// 3 … across segments. Numbers are never reused, also across restarts: a
// segment's file name is the LSN of its first record, and the gap journal
// holds the ranges Open cut, which appends skip (see Gap).
type LSN uint64

// DefaultSegmentBytes is the segment size used when Options.SegmentBytes is 0.
const DefaultSegmentBytes = 64 << 20

// Options tune a Log. The zero value is ready to use.
type Options struct {
	// SegmentBytes is the size past which a new segment file is started
	// (default DefaultSegmentBytes). Segments are the unit TruncateFront
	// frees, so smaller ones give space back sooner. One Append is never
	// split, so a segment holding a single large Append can be bigger.
	SegmentBytes int64
	// MaxBytes caps the bytes of all segments: Append returns ErrFull while
	// the log (with appends in flight) is at or over it, which the service
	// turns into 503 backpressure instead of growing without bound. 0 means
	// no cap. SegmentBytes is lowered to MaxBytes/4 if above it: the segment
	// being written is never removed, so a full log must hold most of its
	// bytes in older segments for TruncateFront to free.
	MaxBytes int64
	// NoSync skips fdatasync and folder syncs. For tests and benchmarks
	// only: a crash of the machine can lose acknowledged records.
	NoSync bool
	// OpenFile opens a segment file for the writer; nil means the
	// operating system's. A seam for tests that inject write and sync
	// failures (a full disk) without a real small file system.
	OpenFile func(path string, flag int, perm os.FileMode) (File, error)
}

// File is what the writer needs of a segment file.
type File interface {
	WriteAt(p []byte, off int64) (int, error)
	Truncate(size int64) error
	// Sync makes the written data durable (fdatasync).
	Sync() error
	Close() error
}

type osFile struct{ *os.File }

func (f osFile) Sync() error { return datasync(f.File) }

func openOSFile(path string, flag int, perm os.FileMode) (File, error) {
	f, err := os.OpenFile(path, flag, perm)
	if err != nil {
		return nil, err
	}
	return osFile{f}, nil
}

var (
	// ErrFull is returned by Append while the log is at or over
	// Options.MaxBytes; TruncateFront frees space.
	ErrFull = errors.New("wal: log full")
	// ErrClosed is returned by calls on a closed Log.
	ErrClosed = errors.New("wal: log closed")
	// ErrCorrupt is wrapped by errors about damage Open cannot account
	// for (segments that overlap, an unreadable gap journal) or that Read
	// finds in a segment after Open checked it.
	ErrCorrupt = errors.New("wal: corrupt segment")
	// ErrRecord is returned by Append for an empty record or one over
	// MaxRecordBytes; nothing of that call is written.
	ErrRecord = errors.New("wal: record empty or over MaxRecordBytes")
	// ErrLocked is returned by Open when another Log holds the folder.
	ErrLocked = errors.New("wal: folder locked")
)

// Repair describes the torn tail Open cut off the last segment (also
// recorded as a Gap that is not Damaged).
type Repair struct {
	Segment string // path of the segment that was cut
	Offset  int64  // its new size: the end of the last complete Append
	Dropped int64  // bytes removed
	Reason  string // what was found at the cut
}

// Stats is a snapshot of a Log's size and activity.
type Stats struct {
	Bytes    int64  // bytes of all segments on disk
	Segments int    // segment files
	Records  uint64 // Next - First: records held, plus the LSNs of gaps between them
	First    LSN    // oldest record held
	Next     LSN    // LSN after the newest durable record
	Appends  uint64 // Append calls made durable since Open
	Written  uint64 // records made durable since Open
	Writes   uint64 // commits since Open: one write call (one per segment touched) for any number of Appends
	Syncs    uint64 // data fdatasyncs since Open (0 with NoSync); Syncs/Appends shows the group commit at work
}

// request is one Append waiting for the writer.
type request struct {
	recs        [][]byte
	size        int64 // encoded bytes
	first, last LSN
	err         error
	done        chan struct{}
}

// Log is a write-ahead log in a folder. All methods are safe for concurrent
// use.
type Log struct {
	dir  string
	opt  Options
	lock *os.File

	truncMu sync.Mutex // serializes TruncateFront's file removals

	mu           sync.Mutex
	wake         *sync.Cond // the writer waits here for pending requests
	segs         []*segment // in LSN order; the last one is written
	pending      []*request
	pendingBytes int64
	bytes        int64
	durable      LSN           // LSN after the last durable record
	notify       chan struct{} // closed and replaced whenever durable grows
	closed       bool
	err          error // sticky: after a write or sync failure that could not be undone the log accepts nothing
	repaired     *Repair
	gaps         []Gap // the journal: every gap recorded, oldest first
	stats        Stats

	closeCh    chan struct{}
	writerDone chan struct{}

	// Owned by the writer goroutine (and Open before it starts).
	act    *segment
	wf     File
	nextW  LSN
	buf    []byte
	wedged bool // a failed commit could not be undone: fail makes the error sticky

	// Test hooks, set right after Open: between a chunk's write and its sync,
	// and after the sync before readers see it.
	afterWrite func()
	afterSync  func(next LSN)
}

// Open opens the log in dir, creating the folder and a first segment if
// needed. It reads every segment and cuts each at its valid prefix: a torn
// tail of the last one (what a crash leaves) is reported by Repaired;
// damage (see the package documentation) is copied aside first. Every cut,
// and every stretch of LSNs missing between segments, is recorded as a Gap
// that Gaps reports and whose LSNs are never handed out again.
func Open(dir string, o Options) (*Log, error) {
	if o.OpenFile == nil {
		o.OpenFile = openOSFile
	}
	if o.SegmentBytes <= 0 {
		o.SegmentBytes = DefaultSegmentBytes
	}
	if o.MaxBytes > 0 {
		o.SegmentBytes = max(1, min(o.SegmentBytes, o.MaxBytes/4))
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("wal: %w", err)
	}
	lock, err := lockDir(dir)
	if err != nil {
		return nil, fmt.Errorf("wal: %w", err)
	}
	l := &Log{
		dir:        dir,
		opt:        o,
		lock:       lock,
		notify:     make(chan struct{}),
		closeCh:    make(chan struct{}),
		writerDone: make(chan struct{}),
	}
	l.wake = sync.NewCond(&l.mu)
	if err := l.load(); err != nil {
		l.closeFiles()
		return nil, err
	}
	go l.run()
	return l, nil
}

// load reads the gap journal and the segments found in the folder (or
// creates the first one), cuts what is not valid, and opens the newest
// segment for writing.
func (l *Log) load() error {
	var err error
	if l.gaps, err = readGaps(l.dir); err != nil {
		return err
	}
	entries, err := os.ReadDir(l.dir)
	if err != nil {
		return fmt.Errorf("wal: %w", err)
	}
	var firsts []LSN
	for _, e := range entries {
		if first, ok := parseSegName(e.Name()); ok && e.Type().IsRegular() {
			firsts = append(firsts, first)
		}
	}
	slices.Sort(firsts)
	if len(firsts) == 0 {
		l.nextW = max(1, l.highWater())
		l.durable = l.nextW
		return l.roll()
	}
	for i, first := range firsts {
		s := &segment{first: first, path: segPath(l.dir, first)}
		if s.rf, err = os.Open(s.path); err != nil {
			return fmt.Errorf("wal: %w", err)
		}
		l.segs = append(l.segs, s) // now closed by closeFiles on error
		if i > 0 {
			prev := l.segs[i-1]
			switch end := prev.next(); {
			case end > first:
				return fmt.Errorf("%w: %s ends after LSN %d but the next segment starts at %d; move the extra segment out of the folder", ErrCorrupt, prev.path, end, first)
			case end < first && !l.covered(end, first):
				// A segment removed, or cut at a record boundary. The gap
				// starts after what earlier gaps already hold: one that began
				// at end (the cut of prev) must not hide this one.
				from := l.uncovered(end)
				if err := l.recordGap(Gap{From: from, To: first, Damaged: true, Records: uint64(first - from),
					Segment: filepath.Base(prev.path), Offset: prev.size,
					Reason: fmt.Sprintf("LSNs %d to %d missing between segments (a segment removed or cut short)", from, first-1)}); err != nil {
					return err
				}
			}
		}
		res, err := scanSegment(s.rf)
		if err != nil {
			return fmt.Errorf("wal: read %s: %w", s.path, err)
		}
		if res.problem != nil {
			var next LSN
			if i+1 < len(firsts) {
				next = firsts[i+1]
			}
			if err := l.cut(s, res, next); err != nil {
				return err
			}
		}
		s.size, s.count, s.index = res.good, res.count, res.index
		l.bytes += s.size
	}
	l.act = l.segs[len(l.segs)-1]
	if l.wf, err = l.opt.OpenFile(l.act.path, os.O_RDWR, 0); err != nil {
		return fmt.Errorf("wal: %w", err)
	}
	l.nextW = l.act.next()
	if hw := l.highWater(); hw > l.nextW {
		// Skip past every cut: a new segment starts there.
		l.nextW = hw
		if err := l.roll(); err != nil {
			return err
		}
	}
	l.durable = l.nextW
	return nil
}

func (l *Log) sync(f File) error {
	if l.opt.NoSync {
		return nil
	}
	return f.Sync()
}

// Repaired reports the torn tail this Open cut off the last segment, or nil.
// The caller logs it: records there were never acknowledged.
func (l *Log) Repaired() *Repair { return l.repaired }

// Append writes recs as consecutive records and returns their LSNs once they
// are durable (written and synced). Concurrent calls are committed together
// with one write and one sync. All records of a call land in one segment, and
// after a crash either all of them are in the log or none.
//
// The caller must not modify recs until Append returns. With no records it
// returns (0, 0, nil). When ctx ends before the writer has taken the call,
// nothing is written and ctx's error is returned; once taken, Append waits for
// the sync (a few milliseconds). When a write or sync fails (a full disk),
// the calls being committed get the error and what they wrote is cut off the
// segment again, so an error means nothing of the call is in the log and
// later calls can succeed once space returns. Only if that cut fails too
// does the log refuse all later appends, and the next Open decides.
func (l *Log) Append(ctx context.Context, recs ...[]byte) (first, last LSN, err error) {
	if len(recs) == 0 {
		return 0, 0, nil
	}
	var size int64
	for _, r := range recs {
		if len(r) == 0 || len(r) > MaxRecordBytes {
			return 0, 0, ErrRecord
		}
		size += headerSize + int64(len(r))
	}
	if err := ctx.Err(); err != nil {
		return 0, 0, err
	}
	req := &request{recs: recs, size: size, done: make(chan struct{})}
	l.mu.Lock()
	switch {
	case l.closed:
		l.mu.Unlock()
		return 0, 0, ErrClosed
	case l.err != nil:
		err := l.err
		l.mu.Unlock()
		return 0, 0, err
	case l.opt.MaxBytes > 0 && l.bytes+l.pendingBytes >= l.opt.MaxBytes:
		l.mu.Unlock()
		return 0, 0, ErrFull
	}
	l.pending = append(l.pending, req)
	l.pendingBytes += size
	l.wake.Signal()
	l.mu.Unlock()

	select {
	case <-req.done:
	case <-ctx.Done():
		l.mu.Lock()
		if i := slices.Index(l.pending, req); i >= 0 {
			l.pending = slices.Delete(l.pending, i, i+1)
			l.pendingBytes -= size
			l.mu.Unlock()
			return 0, 0, ctx.Err()
		}
		l.mu.Unlock()
		<-req.done
	}
	return req.first, req.last, req.err
}

// run is the single writer: it takes every pending request at once and
// commits them together, so requests arriving during one sync share the next.
func (l *Log) run() {
	defer close(l.writerDone)
	var batch []*request
	for {
		l.mu.Lock()
		for len(l.pending) == 0 && !l.closed {
			l.wake.Wait()
		}
		if len(l.pending) == 0 { // closed and drained
			l.mu.Unlock()
			return
		}
		batch, l.pending = l.pending, batch[:0]
		err := l.err
		l.mu.Unlock()
		if err == nil {
			err = l.commit(batch)
		}
		if err != nil {
			l.fail(batch, err, l.wedged)
		}
		clear(batch) // let finished requests and their records be collected
	}
}

// commit writes batch, rolling to a new segment where the next request
// would take the current one past SegmentBytes. Requests are acknowledged
// as each segment's part is synced; on error the requests not yet
// acknowledged are left for fail, and their LSNs are free again (no reader
// nor caller has seen them).
func (l *Log) commit(batch []*request) (err error) {
	defer func() {
		if err != nil {
			l.nextW = l.act.next()
		}
	}()
	var (
		start   int     // first request of the current chunk
		marks   []int64 // index marks of the chunk
		recs    uint64
		written int64 // bytes of the chunk already in the file (buf follows them)
	)
	buf := l.buf[:0]
	defer func() {
		// A batch of many records can grow buf to its largest write; the
		// next batch starts from a small one again.
		if cap(buf) > keepBuf {
			buf = nil
		}
		l.buf = buf[:0]
	}()
	// out writes p at the end of the chunk: it is in the file, not yet synced.
	out := func(p []byte) error {
		if _, err := l.wf.WriteAt(p, l.act.size+written); err != nil {
			return l.undo(fmt.Errorf("wal: write %s: %w", l.act.path, err))
		}
		written += int64(len(p))
		return nil
	}
	for i, req := range batch {
		used := l.act.size + written + int64(len(buf))
		if used > 0 && used+req.size > l.opt.SegmentBytes {
			if written+int64(len(buf)) > 0 {
				if err := l.flush(batch[start:i], buf, written, marks, recs); err != nil {
					return err
				}
				start, buf, marks, recs, written = i, buf[:0], marks[:0], 0, 0
			}
			if err := l.roll(); err != nil {
				return err
			}
		}
		req.first = l.nextW
		for j, r := range req.recs {
			if uint64(l.nextW-l.act.first)%indexEvery == 0 {
				marks = append(marks, l.act.size+written+int64(len(buf)))
			}
			more := j < len(req.recs)-1
			if len(r) < writeChunk {
				buf = appendRecord(buf, r, more)
			} else {
				// A large record goes to the file from the caller's slice:
				// the writer never holds a copy of a request's body.
				if err := out(appendHeader(buf, r, more)); err != nil {
					return err
				}
				if err := out(r); err != nil {
					return err
				}
				buf = buf[:0]
			}
			if len(buf) >= writeChunk {
				if err := out(buf); err != nil {
					return err
				}
				buf = buf[:0]
			}
			l.nextW++
			recs++
		}
		req.last = l.nextW - 1
	}
	return l.flush(batch[start:], buf, written, marks, recs)
}

// writeChunk bounds the writer's buffer: records are gathered into writes
// of about this size, and a record this large is written on its own.
// keepBuf is the most the buffer keeps between batches.
const (
	writeChunk = 1 << 20
	keepBuf    = 2 * writeChunk
)

// flush writes and syncs one chunk into the active segment (written bytes
// of it are in the file already, buf follows them), publishes it to
// readers, and wakes its callers.
func (l *Log) flush(reqs []*request, buf []byte, written int64, marks []int64, recs uint64) error {
	if _, err := l.wf.WriteAt(buf, l.act.size+written); err != nil {
		return l.undo(fmt.Errorf("wal: write %s: %w", l.act.path, err))
	}
	if l.afterWrite != nil {
		l.afterWrite()
	}
	if err := l.sync(l.wf); err != nil {
		return l.undo(fmt.Errorf("wal: sync %s: %w", l.act.path, err))
	}
	if l.afterSync != nil {
		l.afterSync(l.nextW)
	}
	var bytes int64
	for _, r := range reqs {
		bytes += r.size
	}
	size := written + int64(len(buf))
	l.mu.Lock()
	l.act.size += size
	l.act.count += recs
	l.act.index = append(l.act.index, marks...)
	l.bytes += size
	l.pendingBytes -= bytes
	l.durable = l.nextW
	l.stats.Appends += uint64(len(reqs))
	l.stats.Written += recs
	l.stats.Writes++
	if !l.opt.NoSync {
		l.stats.Syncs++
	}
	close(l.notify)
	l.notify = make(chan struct{})
	l.mu.Unlock()
	for _, r := range reqs {
		close(r.done)
		// Mark as acknowledged so fail (after a later chunk's error) skips it.
		r.recs = nil
	}
	return nil
}

// undo cuts a failed chunk off the segment and makes the cut durable, so
// that nothing of the calls about to fail is found by a later Open and the
// log can go on. After a failed sync the pages' state is unknown (a retried
// fsync can report success for lost pages), but every acknowledged byte was
// synced by an earlier, successful call, and the failed ones are cut away.
// If the cut fails, the log is wedged.
func (l *Log) undo(err error) error {
	terr := l.wf.Truncate(l.act.size)
	if terr == nil {
		terr = l.sync(l.wf)
	}
	if terr != nil {
		l.wedged = true
		return fmt.Errorf("%w; cutting it off failed too: %v", err, terr)
	}
	return err
}

// fail gives err to the requests of batch not yet acknowledged. When sticky
// (a failure undo could not clean up), it ends the log's writing life: the
// remaining requests and all later ones get the error, and the next Open
// decides from what is on disk.
func (l *Log) fail(batch []*request, err error, sticky bool) {
	var failed []*request
	l.mu.Lock()
	for _, r := range batch {
		if r.recs != nil { // acknowledged ones have none
			failed = append(failed, r)
			l.pendingBytes -= r.size
		}
	}
	if sticky {
		if l.err == nil {
			l.err = err
		}
		failed = append(failed, l.pending...)
		l.pending = nil
		l.pendingBytes = 0
		close(l.notify) // wake Wait callers so they see the error
		l.notify = make(chan struct{})
	}
	l.mu.Unlock()
	for _, r := range failed {
		r.first, r.last, r.err = 0, 0, err
		close(r.done)
	}
}

// roll starts a new segment at nextW. The folder is synced before any record
// goes into the file, so an acknowledged record is never in a file whose name
// a crash could lose.
func (l *Log) roll() error {
	s := &segment{first: l.nextW, path: segPath(l.dir, l.nextW)}
	wf, err := l.opt.OpenFile(s.path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("wal: new segment: %w", err)
	}
	// undo removes the new, empty file so a later roll can create it again.
	undo := func(err error) error {
		wf.Close()
		if s.rf != nil {
			s.rf.Close()
		}
		if rerr := os.Remove(s.path); rerr != nil {
			l.wedged = true
		}
		return fmt.Errorf("wal: new segment: %w", err)
	}
	if s.rf, err = os.Open(s.path); err != nil {
		return undo(err)
	}
	if !l.opt.NoSync {
		if err := atomicfile.SyncDir(l.dir); err != nil {
			return undo(err)
		}
	}
	if l.wf != nil {
		l.wf.Close() // its data is synced; a close error cannot lose it
	}
	l.wf, l.act = wf, s
	l.mu.Lock()
	l.segs = append(l.segs, s)
	l.mu.Unlock()
	return nil
}

// TruncateFront removes the oldest segments whose records are all below
// before, never the segment being written. It is how delivered records give
// their space back toward MaxBytes; records at or after before are kept, and
// so may some below it that share a segment with them.
func (l *Log) TruncateFront(before LSN) error {
	l.truncMu.Lock()
	defer l.truncMu.Unlock()
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return ErrClosed
	}
	n := 0
	for n+1 < len(l.segs) && l.segs[n+1].first <= before {
		n++
	}
	victims := slices.Clone(l.segs[:n])
	l.segs = slices.Delete(l.segs, 0, n)
	for _, s := range victims {
		l.bytes -= s.size
		s.dead = true
		if s.refs == 0 {
			s.rf.Close()
		}
	}
	l.mu.Unlock()
	// Oldest first, each removal synced before the next: a crash then leaves
	// a contiguous run of segments, so Open can treat any gap as damage.
	for _, s := range victims {
		if err := os.Remove(s.path); err != nil {
			return fmt.Errorf("wal: remove %s: %w", s.path, err)
		}
		if !l.opt.NoSync {
			if err := atomicfile.SyncDir(l.dir); err != nil {
				return fmt.Errorf("wal: %w", err)
			}
		}
	}
	return nil
}

// First returns the LSN of the oldest record held, equal to Next when the log
// is empty.
func (l *Log) First() LSN {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.segs[0].first
}

// Next returns the LSN after the newest durable record: the LSN the next
// Append gets when none is in flight.
func (l *Log) Next() LSN {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.durable
}

// Stats returns a snapshot of the log's size and counters. The accept time
// of the oldest undelivered record is the caller's to keep: the log cannot
// tell delivered records from undelivered ones.
func (l *Log) Stats() Stats {
	l.mu.Lock()
	defer l.mu.Unlock()
	st := l.stats
	st.Bytes = l.bytes
	st.Segments = len(l.segs)
	st.First = l.segs[0].first
	st.Next = l.durable
	st.Records = uint64(st.Next - st.First)
	return st
}

// Close waits for appends in flight to be committed, then closes the files.
// It returns the error that stopped the writer, if any. Later calls return
// ErrClosed.
func (l *Log) Close() error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return ErrClosed
	}
	l.closed = true
	close(l.closeCh)
	l.wake.Broadcast()
	l.mu.Unlock()
	<-l.writerDone
	l.closeFiles()
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.err
}

// closeFiles closes the writer's file, the read handles not in use by a Read
// (the last Read out closes the others) and the folder lock.
func (l *Log) closeFiles() {
	if l.wf != nil {
		l.wf.Close()
	}
	l.mu.Lock()
	for _, s := range l.segs {
		s.dead = true
		if s.refs == 0 && s.rf != nil {
			s.rf.Close()
		}
	}
	l.mu.Unlock()
	if l.lock != nil {
		l.lock.Close() // releases the flock
	}
}
