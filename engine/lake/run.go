package lake

import (
	"cmp"
	"fmt"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"unsafe"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// A run is one buffered chunk of rows of every partition, sorted by
// (partition, time) and cut into batches of about runBatchBytes. Each
// partition's rows in it are segments (a range of one batch), so a
// partition's file is the merge of its segments over all runs. A run lives
// in memory while it is made and is spilled to an Arrow IPC file
// when the writer needs the memory back; either way its batches carry an
// extra last column, the row's time, so merging needs no other state.
type run struct {
	batches []arrow.RecordBatch // in memory; nil once spilled
	nb      int                 // number of batches
	live    int64               // rows not yet written to a file
	ord     int                 // index in Writer.runs, set by merge

	// Spilled: the IPC file and a cache of the last batch read (partitions
	// are written in id order, which is the run's order, so each batch is
	// read once).
	path     string
	f        *os.File
	rd       *ipc.FileReader
	cached   arrow.RecordBatch
	cacheIdx int
	bytes    int64 // file size
	// mapped is the file's memory map where the OS has them: batches read
	// from it point into it (no copy), so none may outlive the run.
	// dropped is where the last drop of merged-past pages ended.
	mapped  []byte
	dropped int
	mem     memory.Allocator // the reader's
}

// segment is one partition's rows in one batch of a run, sorted by time.
type segment struct {
	run      *run
	batch    int32
	off, len int32
}

const (
	// runBatchBytes sizes the batches of a run: big enough that IPC
	// overheads vanish, small enough that the one batch per run a merge
	// keeps costs little memory even with many runs (a 1M-alert day makes
	// about 50): with 1 MB batches peak RSS grew with the input.
	runBatchBytes = 256 << 10
	timeColumn    = "__ocsfmap_time"
)

// batch returns batch i of the run, not retained: valid until the next
// call on this run.
func (r *run) batch(i int) (arrow.RecordBatch, error) {
	if r.batches != nil {
		return r.batches[i], nil
	}
	if r.cached != nil && r.cacheIdx == i {
		return r.cached, nil
	}
	r.dropCache()
	if r.rd == nil {
		if err := r.open(); err != nil {
			return nil, fmt.Errorf("read spill %s: %w", filepath.Base(r.path), err)
		}
	}
	b, err := r.rd.RecordBatchAt(i)
	if err != nil {
		return nil, fmt.Errorf("read spill %s batch %d: %w", filepath.Base(r.path), i, err)
	}
	r.cached, r.cacheIdx = b, i
	if r.mapped != nil {
		// Batches are read in file order as a rule: the map's pages before
		// this one are done with. Each drop starts at the map's start: a
		// read maps in the whole page-cache folio it falls in (up to
		// megabytes), dropped pages of it included. (A roll reads out of
		// order; a dropped page read again is mapped in again from the page
		// cache.)
		if start := mappedOffset(b, r.mapped) &^ (os.Getpagesize() - 1); start > r.dropped {
			dropPages(r.mapped[:start])
			r.dropped = start
		}
	}
	return b, nil
}

// open makes the reader of a spilled run when the merge first needs it
// (mapped, the run's pages count towards the resident set from then on).
func (r *run) open() error {
	var rd *ipc.FileReader
	var err error
	if m, merr := mapSpill(r.f, r.bytes); merr == nil {
		r.mapped = m
		rd, err = ipc.NewMappedFileReader(m, ipc.WithAllocator(r.mem))
	} else {
		rd, err = ipc.NewFileReader(r.f, ipc.WithAllocator(r.mem))
	}
	if err == nil && rd.NumRecords() != r.nb {
		rd.Close()
		err = fmt.Errorf("%d batches, %d written", rd.NumRecords(), r.nb)
	}
	if err != nil {
		if r.mapped != nil {
			unmapSpill(r.mapped)
			r.mapped = nil
		}
		return err
	}
	r.rd = rd
	return nil
}

// mappedOffset is where in m the first of batch b's buffers lies.
func mappedOffset(b arrow.RecordBatch, m []byte) int {
	base := uintptr(unsafe.Pointer(unsafe.SliceData(m)))
	lowest := uintptr(len(m))
	var visit func(d arrow.ArrayData)
	visit = func(d arrow.ArrayData) {
		for _, buf := range d.Buffers() {
			if buf != nil && buf.Len() > 0 {
				if at := uintptr(unsafe.Pointer(unsafe.SliceData(buf.Bytes()))) - base; at < lowest {
					lowest = at
				}
			}
		}
		for _, c := range d.Children() {
			visit(c)
		}
	}
	for _, c := range b.Columns() {
		visit(c.Data())
	}
	return int(lowest)
}

// mergeGuarded is merge with a fault on mapped memory turned into an
// error: a spill file cut short under the writer (by something else: the
// writer never truncates one) fails the flush instead of killing the
// process with SIGBUS. The buffers of a merge cut short are left to the
// collector.
func (w *Writer) mergeGuarded(ps []*partition) (batch arrow.RecordBatch, ends []int64, err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if p := recover(); p != nil {
			fault, ok := p.(interface{ Addr() uintptr })
			if !ok {
				panic(p)
			}
			err = fmt.Errorf("read spill: memory fault at %#x: a spill file was changed under the writer", fault.Addr())
		}
	}()
	return w.merge(ps)
}

// mappedBatches tells whether the batches read from the run point into its
// memory map (and so must not outlive it).
func (r *run) mappedBatches() bool { return r.mapped != nil }

func (r *run) dropCache() {
	if r.cached != nil {
		r.cached.Release()
		r.cached = nil
	}
}

// release frees the run's memory and removes its file.
func (r *run) release() error {
	for _, b := range r.batches {
		b.Release()
	}
	r.batches = nil
	r.dropCache()
	var err error
	if r.rd != nil {
		r.rd.Close()
		r.rd = nil
	}
	if r.mapped != nil {
		if uerr := unmapSpill(r.mapped); uerr != nil {
			err = uerr
		}
		r.mapped = nil
	}
	if r.f != nil {
		if cerr := r.f.Close(); cerr != nil && err == nil {
			err = cerr
		}
		r.f = nil
		if rmErr := os.Remove(r.path); rmErr != nil && err == nil {
			err = rmErr
		}
	}
	return err
}

// sortCur turns the rows buffered in w.cur into an in-memory run sorted by
// (partition id, time) and appends each partition's segments to it. It
// returns nil when nothing is buffered.
func (w *Writer) sortCur() (*run, error) {
	n := w.cur.Len()
	if n == 0 {
		return nil, nil
	}
	w.stats.Mismatched += w.cur.Mismatched()
	// The gather below copies the rows out of the builder's buffers, which
	// are then reused for the next chunk.
	batch := w.cur.View()
	defer w.cur.Reset()
	defer batch.Release()
	pids, times := w.pids, w.times
	w.pids, w.times = w.pids[:0], w.times[:0]

	// Counting sort by partition id, then each partition's rows by time
	// (stable: rows of one millisecond keep their arrival order).
	starts := make([]int32, len(w.plist)+1)
	for _, id := range pids {
		starts[id+1]++
	}
	for i := 1; i < len(starts); i++ {
		starts[i] += starts[i-1]
	}
	idx := make([]int32, n)
	fill := slices.Clone(starts[:len(starts)-1])
	for i, id := range pids {
		idx[fill[id]] = int32(i)
		fill[id]++
	}
	sortedTimes := make([]int64, n)
	for id := range len(w.plist) {
		grp := idx[starts[id]:starts[id+1]]
		if !slices.IsSortedFunc(grp, func(a, b int32) int { return cmp.Compare(times[a], times[b]) }) {
			slices.SortStableFunc(grp, func(a, b int32) int { return cmp.Compare(times[a], times[b]) })
		}
		for j, i := range grp {
			sortedTimes[int(starts[id])+j] = times[i]
		}
	}

	refs := make([]rowRef, n)
	for k, i := range idx {
		refs[k] = rowRef{0, i}
	}
	sorted, err := gatherBatch(w.mem, batch.Schema(), []arrow.RecordBatch{batch}, refs)
	if err != nil {
		return nil, fmt.Errorf("sort rows: %w", err)
	}
	defer sorted.Release()

	// Append the time column: the run's schema is the file schema + time.
	tb := array.NewInt64Builder(w.mem)
	tb.AppendValues(sortedTimes, nil)
	tcol := tb.NewArray()
	tb.Release()
	cols := append(slices.Clone(sorted.Columns()), tcol)
	full := array.NewRecordBatch(w.runSchema, cols, int64(n))
	tcol.Release()
	defer full.Release()

	per := int64(n)
	if size := batchBytes(sorted); size > runBatchBytes {
		per = max(64, int64(n)*runBatchBytes/size)
	}
	r := &run{live: int64(n)}
	for off := int64(0); off < int64(n); off += per {
		r.batches = append(r.batches, full.NewSlice(off, min(off+per, int64(n))))
	}
	r.nb = len(r.batches)
	w.runs = append(w.runs, r)

	// Segments: each partition's range, cut at batch boundaries.
	for id := range len(w.plist) {
		lo, hi := int64(starts[id]), int64(starts[id+1])
		p := w.plist[id]
		for lo < hi {
			b := lo / per
			end := min(hi, (b+1)*per)
			p.segs = append(p.segs, segment{run: r, batch: int32(b), off: int32(lo - b*per), len: int32(end - lo)})
			lo = end
		}
	}
	return r, nil
}

// spillDir makes the writer's spill folder on first use: hidden (readers,
// crawlers and the uploader skip dot names) and inside Dir, so cleanup is one
// RemoveAll and the spill sits on the output's disk.
func (w *Writer) spillDir() (string, error) {
	if w.spillPath != "" {
		return w.spillPath, nil
	}
	if err := os.MkdirAll(w.opts.Dir, 0o755); err != nil {
		return "", err
	}
	d, err := os.MkdirTemp(w.opts.Dir, ".ocsfmap-spill-")
	if err != nil {
		return "", err
	}
	w.spillPath = d
	return d, nil
}

// persist writes an in-memory run to a spill file (Arrow IPC, not
// compressed: the file is read back once, from the page cache as a rule, and
// LZ4 both ways cost a tenth of the whole run's CPU) and frees its memory.
// The merge reads it through a memory map where the OS has them: batches
// then point into the page cache, and the read copies nothing (reading with
// ReadAt, the copies were a fifth of a 1M-alert day: 28.9 s against 22.9 s).
func (w *Writer) persist(r *run) error {
	dir, err := w.spillDir()
	if err != nil {
		return fmt.Errorf("lake: spill: %w", err)
	}
	f, err := os.CreateTemp(dir, "run-*.arrow")
	if err != nil {
		return fmt.Errorf("lake: spill: %w", err)
	}
	r.path, r.f = f.Name(), f
	fail := func(err error) error {
		f.Close()
		os.Remove(r.path)
		r.f = nil
		return fmt.Errorf("lake: spill %s: %w", filepath.Base(r.path), err)
	}
	w.spillBuf.Reset(f)
	iw, err := ipc.NewFileWriter(w.spillBuf, ipc.WithSchema(w.runSchema), ipc.WithAllocator(w.mem))
	if err != nil {
		return fail(err)
	}
	for _, b := range r.batches {
		if err := iw.Write(b); err != nil {
			iw.Close()
			return fail(err)
		}
	}
	if err := iw.Close(); err != nil {
		return fail(err)
	}
	if err := w.spillBuf.Flush(); err != nil {
		return fail(err)
	}
	w.spillBuf.Reset(nil)
	st, err := f.Stat()
	if err != nil {
		return fail(err)
	}
	r.mem = w.mem
	r.bytes = st.Size()
	for _, b := range r.batches {
		b.Release()
	}
	r.batches = nil
	w.stats.Spills++
	w.stats.SpillBytes += r.bytes
	return nil
}
