package lake

import (
	"errors"
	"fmt"
	"os"
)

// A finished file waits for its fsync and rename. These run on helper
// goroutines so the fsync (milliseconds of disk wait and kernel writeback)
// overlaps with encoding the next file; with thousands of small files it
// would otherwise be a third of the flush. The Writer still delivers
// OnFile and counts the file from its own methods, after the rename, and
// every Flush, Close and roll waits for its files: when one returns, all
// its files are final.
type finishJob struct {
	f          *os.File
	tmp, final string
	info       FileInfo
}

type finishResult struct {
	info FileInfo
	err  error
}

// finishers is the number of fsyncs in flight.
const finishers = 2

func (w *Writer) startFinishers() {
	w.jobs = make(chan finishJob, finishers)
	w.done = make(chan finishResult, 64)
	for range finishers {
		go func() {
			for j := range w.jobs {
				w.done <- j.finish()
			}
		}()
	}
}

func (j finishJob) finish() finishResult {
	err := j.f.Sync()
	if cerr := j.f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(j.tmp, j.final)
	}
	if err != nil {
		os.Remove(j.tmp)
		return finishResult{err: fmt.Errorf("lake: finish %s: %w", j.info.Key, err)}
	}
	return finishResult{info: j.info}
}

// submit hands a written temporary to the finishers. While their queue is
// full it delivers finished files, so the writer never deadlocks on its
// own results.
func (w *Writer) submit(j finishJob) {
	if w.jobs == nil {
		w.startFinishers()
	}
	w.inflight++
	for {
		select {
		case w.jobs <- j:
			return
		case r := <-w.done:
			w.delivered(r)
		}
	}
}

// reap delivers the files finished so far without waiting.
func (w *Writer) reap() {
	for w.inflight > 0 {
		select {
		case r := <-w.done:
			w.delivered(r)
		default:
			return
		}
	}
}

// settle waits for every file in flight and returns the first error.
func (w *Writer) settle() error {
	for w.inflight > 0 {
		w.delivered(<-w.done)
	}
	return w.err
}

func (w *Writer) delivered(r finishResult) {
	w.inflight--
	if r.err != nil {
		w.fail(r.err)
		return
	}
	w.finalized(r.info)
}

// finalized counts a file under its final name and reports it.
func (w *Writer) finalized(info FileInfo) {
	w.stats.Files++
	w.stats.Bytes += info.Bytes
	w.stats.Rows += info.Rows
	if w.opts.OnFile != nil {
		w.opts.OnFile(info)
	}
}

// stopFinishers ends the helper goroutines (after settle).
func (w *Writer) stopFinishers() {
	if w.jobs != nil {
		close(w.jobs)
		w.jobs = nil
	}
}

// mkdirs makes p's directory. Known parents are remembered, so a new
// partition costs one mkdir, not a stat per level.
func (w *Writer) mkdirs(p *partition) error {
	if p.made {
		return nil
	}
	err := os.Mkdir(p.dir, 0o755)
	if errors.Is(err, os.ErrNotExist) || errors.Is(err, os.ErrExist) {
		err = os.MkdirAll(p.dir, 0o755)
	}
	if err != nil {
		return err
	}
	p.made = true
	return nil
}

// finishNoSync closes and renames without the fsync (Options.NoSync): cheap
// enough to stay on the writer's goroutine.
func (j finishJob) finishNoSync() finishResult {
	err := j.f.Close()
	if err == nil {
		err = os.Rename(j.tmp, j.final)
	}
	if err != nil {
		os.Remove(j.tmp)
		return finishResult{err: fmt.Errorf("lake: finish %s: %w", j.info.Key, err)}
	}
	return finishResult{info: j.info}
}
