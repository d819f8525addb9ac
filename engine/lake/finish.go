package lake

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"runtime"
	"time"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/ocsfmap/ocsfmap/engine/lake/internal/pqenc"
)

// A merged partition becomes a file in two steps: encoding (Parquet written
// under a temporary name) and finishing (fsync, close, rename). Finishing
// runs on helper goroutines, so a file's fsync (milliseconds of disk wait)
// overlaps with encoding the next one. With more than one core, encoding
// runs on helpers too, one per core, while the Writer's goroutine merges
// the next partitions; with one core it stays on the Writer's goroutine
// (handing files to a goroutine there only added switches and idle waits).
// The Writer delivers OnFile and counts a file from its own methods, after
// the rename, and every Flush, Close and roll waits for its files: when one
// returns, all its files are final.
type fileJob struct {
	batch      arrow.RecordBatch // the file's rows in the file schema, sorted by time; the job owns it
	tmp, final string
	info       FileInfo // all but Bytes
}

// finishJob is an encoded file waiting for its fsync and rename.
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

func (w *Writer) startHelpers() error {
	w.done = make(chan finishResult, 64)
	w.finishing = make(chan finishJob, finishers)
	finishing, done := w.finishing, w.done
	for range finishers {
		go func() {
			for j := range finishing {
				done <- w.finish(j)
			}
		}()
	}
	n := runtime.GOMAXPROCS(0)
	if n < 2 {
		return nil
	}
	jobs := make(chan fileJob, n)
	w.jobs = jobs
	for range n {
		enc, err := w.format.Clone()
		if err != nil {
			return err
		}
		go func() {
			bw := bufio.NewWriterSize(nil, 1<<20)
			for j := range jobs {
				fj, err := w.encode(enc, bw, j)
				if err != nil {
					done <- finishResult{err: err}
					continue
				}
				finishing <- fj
			}
		}()
	}
	return nil
}

// encode writes a job's Parquet file under its temporary name.
func (w *Writer) encode(enc *pqenc.Format, bw *bufio.Writer, j fileJob) (finishJob, error) {
	start := time.Now()
	defer func() {
		j.batch.Release()
		w.encodeNanos.Add(int64(time.Since(start)))
	}()
	f, err := os.OpenFile(j.tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return finishJob{}, fmt.Errorf("lake: write %s: %w", j.info.Key, err)
	}
	if w.sink != nil {
		bw.Reset(w.sink(f))
	} else {
		bw.Reset(f)
	}
	size, err := enc.Write(bw, j.batch, rowGroupRows(j.batch))
	if err == nil {
		err = bw.Flush()
	}
	bw.Reset(nil)
	if err != nil {
		f.Close()
		os.Remove(j.tmp)
		return finishJob{}, fmt.Errorf("lake: write %s: %w", j.info.Key, err)
	}
	j.info.Bytes = size
	return finishJob{f: f, tmp: j.tmp, final: j.final, info: j.info}, nil
}

// finish syncs (unless Options.NoSync), closes and renames an encoded file.
func (w *Writer) finish(j finishJob) finishResult {
	var err error
	if !w.opts.NoSync {
		err = j.f.Sync()
	}
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

// submit hands a file to the helpers: to the encoders with more than one
// core, else it is encoded here and handed to the finishers. While their
// queue is full it delivers finished files, so the writer never deadlocks
// on its own results.
func (w *Writer) submit(j fileJob) error {
	if w.done == nil {
		if err := w.startHelpers(); err != nil {
			j.batch.Release()
			return err
		}
	}
	if w.jobs != nil {
		w.inflight++
		handOff(w, w.jobs, j)
		return nil
	}
	fj, err := w.encode(w.format, w.bw, j)
	if err != nil {
		return err
	}
	w.inflight++
	handOff(w, w.finishing, fj)
	return nil
}

// handOff sends v to a helper, delivering finished files while the
// helpers' queue is full.
func handOff[T any](w *Writer, ch chan<- T, v T) {
	for {
		select {
		case ch <- v:
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

// stopHelpers ends the helper goroutines (after settle: nothing is in
// flight, so no encoder still sends to the finishers).
func (w *Writer) stopHelpers() {
	if w.jobs != nil {
		close(w.jobs)
		w.jobs = nil
	}
	if w.finishing != nil {
		close(w.finishing)
		w.finishing = nil
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
