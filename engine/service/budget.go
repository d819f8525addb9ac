package service

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"

	"github.com/ocsfmap/ocsfmap/engine"
)

// Everything ingest writes for an integration shares one byte budget
// (--max-log): the write-ahead log, the rejected lines, the dead letters of
// delivery and the Idempotency-Key file. Past it, ingest answers 503 with
// Retry-After until delivery frees log space. The rejected lines and the
// dead letters each keep to a share of the budget by dropping their oldest
// (they are kept for people to look at; the alerts themselves are in the
// log or delivered), so junk alone can never stop ingest for good.
//
// maxStoredRaw is the most of one record's bytes a rejected line or a dead
// letter keeps; maxStoredRawPerRequest bounds what one request's rejected
// lines keep in all (past it they keep their reason and length only).
const (
	maxStoredRaw           = 64 << 10
	maxStoredRawPerRequest = 1 << 20
	// budgetShare: the rejected lines, and the dead letters, each keep to
	// 1/budgetShare of the budget.
	budgetShare = 8
)

// errBudget is ingest refused because the integration's disk budget is used.
var errBudget = errors.New("the integration's disk budget (--max-log) is full: delivery is behind; retry later")

// rejectFile is rejected.ndjson: the request lines that were not alerts.
// Past its cap it is rotated to rejected.ndjson.1 (the previous .1 goes),
// so both hold at most twice its cap (or twice one request's lines, when
// that is more).
type rejectFile struct {
	path string
	cap  int64

	mu         sync.Mutex
	f          *os.File
	size, prev int64 // bytes of the file and of its rotated predecessor
}

func openRejectFile(path string, cap int64) *rejectFile {
	r := &rejectFile{path: path, cap: cap}
	if fi, err := os.Stat(path); err == nil {
		r.size = fi.Size()
	}
	if fi, err := os.Stat(path + ".1"); err == nil {
		r.prev = fi.Size()
	}
	return r
}

// write appends one request's dead letters with one write; on a failed
// write (a full disk) the file is cut back so no line is left torn.
func (r *rejectFile) write(ds []*engine.DeadLetter) error {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false) // the raw record must read as it came ("<stdin>", "a&b")
	for _, d := range ds {
		if err := enc.Encode(d); err != nil {
			return err
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.f != nil && r.size > 0 && r.size+int64(b.Len()) > r.cap {
		r.f.Close()
		r.f = nil
		if err := os.Rename(r.path, r.path+".1"); err != nil {
			return err
		}
		r.prev, r.size = r.size, 0
	}
	if r.f == nil {
		f, err := os.OpenFile(r.path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
		if err != nil {
			return err
		}
		r.f = f
	}
	if _, err := r.f.Write(b.Bytes()); err != nil {
		r.f.Truncate(r.size)
		return err
	}
	r.size += int64(b.Len())
	return nil
}

// rawRoom is how many of the original bytes one request's rejected lines
// keep in all: maxStoredRawPerRequest, less under a small budget.
func (r *rejectFile) rawRoom() int {
	return int(min(maxStoredRawPerRequest, r.cap/4))
}

// writeMemory bounds the memory write takes for n rejected lines kept
// within rawRoom: a raw byte may take 6 once JSON-escaped (\u0001), a
// reason and the line's fields under 1 KiB, and the buffer may double.
func (r *rejectFile) writeMemory(n int) int64 {
	return 2 * (7*int64(r.rawRoom()) + int64(n)<<10)
}

func (r *rejectFile) bytes() int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.size + r.prev
}

func (r *rejectFile) close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.f == nil {
		return nil
	}
	err := r.f.Close()
	r.f = nil
	return err
}

// deadLetterBytes is the size of the dead-letters folder, measured at most
// once a second (ingest asks on every request).
type deadLetterBytes struct {
	mu   sync.Mutex
	at   time.Time
	size int64
}

func (d *deadLetterBytes) get(dir string, now time.Time) int64 {
	d.mu.Lock()
	defer d.mu.Unlock()
	if now.Sub(d.at) >= time.Second {
		d.size, _ = folderFiles(dir)
		d.at = now
	}
	return d.size
}

// folderFiles sums the sizes of dir's *.ndjson files; names are sorted.
func folderFiles(dir string) (size int64, names []string) {
	names, _ = filepath.Glob(filepath.Join(dir, "*.ndjson"))
	sort.Strings(names)
	for _, n := range names {
		if fi, err := os.Stat(n); err == nil {
			size += fi.Size()
		}
	}
	return size, names
}

// diskBytes is what the integration holds on disk from ingest.
func (in *integration) diskBytes(now time.Time) int64 {
	return in.wal.Stats().Bytes + in.rejects.bytes() + in.keys.bytes() +
		in.deadBytes.get(filepath.Join(in.dir, "dead-letters"), now)
}

// overBudget tells whether n more bytes would take the integration past
// its budget.
func (in *integration) overBudget(n int64) bool {
	return in.diskBytes(time.Now())+n > in.s.cfg.MaxLogBytes
}
