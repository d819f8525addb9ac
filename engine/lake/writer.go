// Package lake writes mapped records as Parquet files laid out like an
// Amazon Security Lake custom source:
//
//	<Dir>/<Prefix>region=<region>/accountId=<account>/eventDay=<YYYYMMDD>/<uuidv7>.parquet
//
// Rows of all partitions are buffered in one columnar builder, spilled to
// disk in sorted runs when memory is short, and merged into one file per
// partition at Flush, Close or roll (see Writer). Parquet is encoded by
// internal/pqenc, compiled once per schema. Each file is written
// complete under a hidden temporary name, fsynced, then renamed, so a crash
// never leaves a partial file under a final name (readers and the Security
// Lake crawler skip names starting with '.').
package lake

import (
	"bufio"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
	"github.com/klauspost/compress/zstd"

	"github.com/ocsfmap/ocsfmap/engine/columnar"
	"github.com/ocsfmap/ocsfmap/engine/lake/internal/pqenc"
	"github.com/ocsfmap/ocsfmap/engine/plan"
)

// Defaults of Options.
const (
	DefaultRollBytes   = 256 << 20
	DefaultRollAge     = 5 * time.Minute
	DefaultMaxBuffered = 96 << 20
	// RowGroupBytes bounds a row group (Security Lake: ≤ 256 MB compressed).
	RowGroupBytes = 256 << 20
	// dataPageBytes keeps data pages under 1 MB uncompressed: a page is
	// cut at the first row to start after its values reach this size, so
	// the margin absorbs one row's values (and the levels).
	dataPageBytes = 768 << 10
)

// Options configure a Writer. Zero values take the defaults noted.
type Options struct {
	Dir    string // root folder (the bucket root); required
	Source string // custom source name, for the default Prefix
	// Prefix under Dir, default "ext/<Source>/". Use "/" to separate parts.
	Prefix string
	// Partition key names, default "region", "accountId", "eventDay" (the
	// vendor page spells "accountid").
	RegionKey, AccountKey, DayKey string

	// A partition's buffered rows become a file when their Arrow size
	// reaches RollBytes (default 256 MB; the zstd file is smaller) or when
	// the oldest of them was buffered RollAge ago (default 5 minutes).
	RollBytes int64
	RollAge   time.Duration
	// NoRollAge switches the age roll off, for a caller whose batch is the
	// roll (engine.Deliver): files are cut by size only, so the same records
	// make the same files however long they took to arrive.
	NoRollAge bool
	// MaxBuffered caps the Arrow memory held by buffered rows over all
	// partitions, as allocated (default 128 MB). Above it the largest
	// partitions are written out.
	MaxBuffered int64

	// Record slots of time (ms since the epoch, required), region and
	// account (-1: none; the defaults apply).
	TimeSlot, RegionSlot, AccountSlot int
	// Used when a record has no region / account; empty: such a record is
	// a *PartitionError.
	DefaultRegion, DefaultAccount string

	// OnFile is called after a file is finalized (renamed to its final
	// name), from within the Writer's methods (Write, Flush, Tick, Close),
	// never concurrently; the uploader hooks here.
	OnFile func(FileInfo)
	// Allocator for Arrow buffers (default memory.DefaultAllocator).
	Allocator memory.Allocator
	// Now is the clock for roll ages and file names (default time.Now).
	Now func() time.Time
	// FileName, when set, names a partition's n-th file of this Writer
	// (n from 0; keyDir as in FileInfo.Key) instead of a UUIDv7, without
	// the ".parquet" extension. A delivery that replays the same records
	// into a new Writer then rebuilds the same keys, and its upload
	// overwrites the earlier objects instead of adding duplicates.
	FileName func(keyDir string, n int) string
	// NoSync skips the fsync before the rename. A process crash still never
	// leaves a partial file under a final name; an OS crash might.
	NoSync bool
}

// FileInfo describes one finalized file.
type FileInfo struct {
	Path     string // absolute path on disk
	Key      string // path relative to Dir, '/'-separated: the S3 object key
	Region   string
	Account  string
	EventDay string // YYYYMMDD
	Rows     int64
	Bytes    int64 // file size
	MinTime  int64 // ms since the epoch
	MaxTime  int64
}

// Stats are the writer's running totals.
type Stats struct {
	Files       int64 // files finalized
	Bytes       int64 // bytes in finalized files
	Rows        int64 // rows in finalized files
	Buffered    int64 // rows buffered, not yet in a file
	Partitions  int   // partitions seen
	Mismatched  int64 // values written as null because their kind did not fit their column
	WriteTime   time.Duration
	BufferBytes int64 // bytes the buffered rows hold now (the builder's capacity, runs and files in memory)
	Spills      int64 // runs spilled to disk
	SpillBytes  int64 // bytes written to spill files
}

type pkey struct {
	region, account string
	day             int64
}

type partition struct {
	key    pkey
	id     int32  // index in Writer.plist: the order of runs
	dir    string // absolute directory
	keyDir string // '/'-separated directory relative to Dir
	files  int    // files written, for Options.FileName
	made   bool   // dir exists
	segs   []segment
	rows   int64 // rows buffered (in memory or spilled)
	bytes  int64 // their Arrow size, as columnar.Builder.Bytes counts it
}

// Writer writes records into partitioned Parquet files. Its methods are
// safe for concurrent use (Tick from a timer while another goroutine
// writes); they serialize on one mutex.
//
// All partitions share one columnar.Builder; a side table keeps each row's
// partition and time. When the builder's memory reaches half of
// MaxBuffered, its rows are sorted by (partition, time) into a run and
// spilled to an Arrow IPC file in a hidden folder inside Dir. At
// Flush, Close or roll, each partition's segments of all runs are merged
// into one Parquet file. So the number of partitions costs nothing but a
// map entry, memory stays bounded whatever the input, and a partition gets
// one file per flush instead of one per eviction.
type Writer struct {
	mu        sync.Mutex
	opts      Options
	layout    *columnar.Layout
	runSchema *arrow.Schema // layout schema + time column
	mem       *countingAllocator
	recycle   *recyclingAllocator // under mem
	format    *pqenc.Format       // the Parquet encoding of layout's schema
	parts     map[pkey]*partition
	plist     []*partition
	days      map[int64]string
	cur       *columnar.Builder
	pids      []int32 // partition of each row in cur
	times     []int64 // time of each row in cur
	opened    time.Time
	rows      int64 // rows buffered, in cur and in runs
	spillAt   int64
	runs      []*run // runs with rows not yet in a file
	spillPath string
	uuid      uuidGen
	bw        *bufio.Writer
	spillBuf  *bufio.Writer
	jobs      chan fileJob   // to the encoders (nil with one core, and until needed)
	finishing chan finishJob // to the finishers (nil until needed)
	done      chan finishResult
	inflight  int // files handed to the helpers, not yet delivered
	// encodeNanos is the time spent encoding files, for Stats.WriteTime.
	encodeNanos atomic.Int64
	nextScan    time.Time
	stats       Stats
	closed      bool
	err         error // sticky: a failed file write poisons the writer
	// sink wraps each file's writer; tests inject failures through it.
	sink func(io.Writer) io.Writer
}

// New makes a Writer for records of the plan tree root.
func New(root *plan.Node, opts Options) (*Writer, error) {
	if opts.Dir == "" {
		return nil, errors.New("lake: Options.Dir is required")
	}
	if opts.Prefix == "" {
		if opts.Source == "" {
			return nil, errors.New("lake: Options.Prefix or Options.Source is required")
		}
		opts.Prefix = "ext/" + opts.Source + "/"
	}
	prefix := strings.Trim(opts.Prefix, "/")
	for _, seg := range strings.Split(prefix, "/") {
		if seg == "" || seg == "." || seg == ".." {
			return nil, fmt.Errorf("lake: bad prefix %q", opts.Prefix)
		}
	}
	opts.Prefix = prefix
	if opts.RegionKey == "" {
		opts.RegionKey = "region"
	}
	if opts.AccountKey == "" {
		opts.AccountKey = "accountId"
	}
	if opts.DayKey == "" {
		opts.DayKey = "eventDay"
	}
	for _, k := range []string{opts.RegionKey, opts.AccountKey, opts.DayKey} {
		if _, err := sanitizeValue("key", k); err != nil {
			return nil, fmt.Errorf("lake: partition key name: %w", err)
		}
	}
	if opts.RollBytes <= 0 {
		opts.RollBytes = DefaultRollBytes
	}
	if opts.RollAge <= 0 {
		opts.RollAge = DefaultRollAge
	}
	if opts.MaxBuffered <= 0 {
		opts.MaxBuffered = DefaultMaxBuffered
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	n := countSlots(root)
	if opts.TimeSlot < 0 || opts.TimeSlot >= n {
		return nil, fmt.Errorf("lake: TimeSlot %d out of range [0,%d)", opts.TimeSlot, n)
	}
	if opts.RegionSlot >= n || opts.AccountSlot >= n {
		return nil, fmt.Errorf("lake: region/account slot out of range [0,%d)", n)
	}
	if opts.DefaultRegion != "" {
		v, err := sanitizeValue("region", opts.DefaultRegion)
		if err != nil {
			return nil, fmt.Errorf("lake: DefaultRegion: %w", err)
		}
		opts.DefaultRegion = v
	}
	if opts.DefaultAccount != "" {
		v, err := sanitizeValue("account", opts.DefaultAccount)
		if err != nil {
			return nil, fmt.Errorf("lake: DefaultAccount: %w", err)
		}
		opts.DefaultAccount = v
	}
	layout := columnar.NewLayout(root)
	fields := append(slices.Clone(layout.Schema().Fields()),
		arrow.Field{Name: timeColumn, Type: arrow.PrimitiveTypes.Int64})
	// The builder keeps its own buffers from chunk to chunk; the sorted
	// copies of chunks and the merge's windows come from here, each
	// rounded up to a power of two, and buffers up to the budget are kept
	// for the next cycle. (Twice the budget, as when the builder's buffers
	// came from here too, held 25 MB more on 2 cores for no speed.)
	recycle := newRecyclingAllocator(opts.Allocator, opts.MaxBuffered)
	w := &Writer{
		opts:      opts,
		layout:    layout,
		runSchema: arrow.NewSchema(fields, nil),
		recycle:   recycle,
		mem:       &countingAllocator{Allocator: recycle},
		parts:     make(map[pkey]*partition),
		days:      make(map[int64]string),
		bw:        bufio.NewWriterSize(nil, 1<<20),
		// Spills are written in small pieces: the page cache holds a file in
		// folios as large as the writes that made it, and the merge, reading
		// a spill through its memory map, maps in whole folios; with 1 MiB
		// writes a 1M-alert day peaked 66 MB higher.
		spillBuf: bufio.NewWriterSize(nil, 64<<10),
		// Sorting a chunk into a run copies it, and the builder's buffers
		// run ~1.25x its rows (append's growth), which it keeps from chunk
		// to chunk: 2/5 of the cap for the rows. Capped so no column of a
		// chunk nears the 2 GiB its int32 offsets can address.
		spillAt: min(opts.MaxBuffered*2/5, 1<<30),
	}
	w.cur = layout.NewBuilder(w.mem)
	// Strings get a dictionary where a file's values repeat (constants,
	// captions of enum ids, regions, providers, resource and policy types)
	// and stay PLAIN where they do not (ids, descriptions, templates):
	// pqenc decides per column chunk. zstd at its fastest level: 3% larger
	// files than the default level for a third less compression time. The
	// Parquet schema and ARROW:schema metadata are pqarrow's.
	props := parquet.NewWriterProperties(parquet.WithCreatedBy("ocsfmap"))
	var err error
	w.format, err = pqenc.FromArrow(layout.Schema(), props, pqarrow.NewArrowWriterProperties(),
		pqenc.Options{PageSize: dataPageBytes, ZstdLevel: zstd.SpeedFastest, Dictionary: true, StoreBelow: 64})
	if err != nil {
		return nil, fmt.Errorf("lake: parquet schema: %w", err)
	}
	return w, nil
}

// Schema is the Arrow schema of every file the writer makes.
func (w *Writer) Schema() *arrow.Schema { return w.layout.Schema() }

// Write buffers one record in its partition. A record whose partition
// cannot be told returns a *PartitionError and is not written. Other errors
// (a file or spill that could not be written) are final: the writer is
// unusable.
func (w *Writer) Write(rec *plan.Record) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err != nil {
		return w.err
	}
	if w.closed {
		return errors.New("lake: write on closed writer")
	}
	ms, err := eventTime(rec, w.opts.TimeSlot)
	if err != nil {
		return err
	}
	region, err := w.value(rec, w.opts.RegionSlot, "region", w.opts.DefaultRegion)
	if err != nil {
		return err
	}
	account, err := w.value(rec, w.opts.AccountSlot, "account", w.opts.DefaultAccount)
	if err != nil {
		return err
	}
	now := w.opts.Now()
	p := w.partition(pkey{region: region, account: account, day: ms / dayMs})
	if w.rows == 0 {
		w.opened = now
	}
	before := w.cur.Bytes()
	w.cur.Append(rec)
	p.bytes += w.cur.Bytes() - before
	p.rows++
	w.rows++
	w.pids = append(w.pids, p.id)
	w.times = append(w.times, ms)

	switch {
	case p.bytes >= w.opts.RollBytes:
		if err := w.roll(p); err != nil {
			return err
		}
	case w.cur.Bytes()+w.mem.inUse.Load() >= w.spillAt: // builder rows + runs and files in memory
		if err := w.spill(); err != nil {
			return err
		}
	}
	if !w.opts.NoRollAge && !now.Before(w.nextScan) {
		return w.rollAged(now)
	}
	return nil
}

// value reads and sanitizes a region or account slot; empty → default.
func (w *Writer) value(rec *plan.Record, slot int, field, def string) (string, error) {
	var s string
	if slot >= 0 {
		v := &rec.Values[slot]
		switch v.Kind {
		case plan.String:
			s = v.Str
		case plan.Null:
		default:
			return "", &PartitionError{Field: field, Reason: "not a string"}
		}
	}
	if strings.TrimSpace(s) == "" {
		if def == "" {
			return "", &PartitionError{Field: field, Reason: "missing and no default configured"}
		}
		return def, nil
	}
	return sanitizeValue(field, s)
}

// partition finds or creates the partition of k. k's strings may point into
// the caller's reused record, so a new partition clones them.
func (w *Writer) partition(k pkey) *partition {
	if p, ok := w.parts[k]; ok {
		return p
	}
	k.region = strings.Clone(k.region)
	k.account = strings.Clone(k.account)
	day, ok := w.days[k.day]
	if !ok {
		day = dayString(k.day)
		w.days[k.day] = day
	}
	keyDir := path.Join(w.opts.Prefix,
		w.opts.RegionKey+"="+k.region, w.opts.AccountKey+"="+k.account, w.opts.DayKey+"="+day)
	p := &partition{key: k, id: int32(len(w.plist)), keyDir: keyDir,
		dir: filepath.Join(w.opts.Dir, filepath.FromSlash(keyDir))}
	w.parts[k] = p
	w.plist = append(w.plist, p)
	w.stats.Partitions++
	return p
}

// spill sorts the buffered rows into a run and writes it to disk.
func (w *Writer) spill() error {
	r, err := w.sortCur()
	if err != nil || r == nil {
		return w.fail(err)
	}
	return w.fail(w.persist(r))
}

// roll writes partition p's rows, which reached RollBytes, as one file. The
// other partitions' rows of the chunk are spilled.
func (w *Writer) roll(p *partition) error {
	r, err := w.sortCur()
	if err != nil {
		return w.fail(err)
	}
	if err := w.writePartitions(context.Background(), []*partition{p}); err != nil {
		return err
	}
	if err := w.settle(); err != nil {
		return err
	}
	if r != nil && r.live > 0 {
		if err := w.persist(r); err != nil {
			return w.fail(err)
		}
	}
	w.dropCaches()
	return nil
}

// fail makes err sticky: after a failed spill or file the buffered rows
// are not all accounted for, so the writer refuses further work.
func (w *Writer) fail(err error) error {
	if err != nil && w.err == nil {
		w.err = err
	}
	return err
}

// Tick writes out buffered rows once the oldest of them is RollAge old. Call
// it from a timer so idle streams still roll.
func (w *Writer) Tick(now time.Time) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err != nil {
		return w.err
	}
	if w.closed || w.opts.NoRollAge {
		return nil
	}
	return w.rollAged(now)
}

// rollAged writes every partition once the oldest buffered row is RollAge
// old. All partitions roll together: after a roll every partition starts
// empty, so in a steady stream each gets one file per RollAge anyway, and
// the spilled runs are freed at once instead of lingering for the
// partitions still young.
func (w *Writer) rollAged(now time.Time) error {
	// Check at most once a second: the check is cheap, but Now is not free.
	w.nextScan = now.Add(min(time.Second, w.opts.RollAge))
	if w.rows > 0 && now.Sub(w.opened) >= w.opts.RollAge {
		return w.flushAll(context.Background(), false)
	}
	return nil
}

// Flush writes every buffered row to files: one file per partition (more
// only for a partition over RollBytes).
func (w *Writer) Flush(ctx context.Context) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err != nil {
		return w.err
	}
	if w.closed {
		return errors.New("lake: flush on closed writer")
	}
	return w.flushAll(ctx, false)
}

// flushAll writes every buffered row. final (Close) frees the builder's
// buffers before the merge, which can then use the memory.
func (w *Writer) flushAll(ctx context.Context, final bool) error {
	if _, err := w.sortCur(); err != nil {
		return w.fail(err)
	}
	if final {
		w.cur.Release()
	}
	// Partition id order is the order of every run, so each spilled batch
	// is read once.
	var ps []*partition
	for _, p := range w.plist {
		if p.rows > 0 {
			ps = append(ps, p)
		}
	}
	err := w.writePartitions(ctx, ps)
	w.dropCaches()
	if serr := w.settle(); err == nil {
		err = serr
	}
	return err
}

// dropCaches frees the batch each spilled run keeps from its last read.
func (w *Writer) dropCaches() {
	for _, r := range w.runs {
		r.dropCache()
	}
}

// errDiscarded poisons a writer being discarded, so Close writes nothing.
var errDiscarded = errors.New("lake: writer discarded")

// Discard closes the writer without writing the rows it buffered: no file
// is written, the spill folder is removed. For a caller that will write
// those rows again (a delivery replayed from a log).
func (w *Writer) Discard() error {
	w.mu.Lock()
	if w.err == nil {
		w.err = errDiscarded
	}
	w.mu.Unlock()
	if err := w.Close(context.Background()); !errors.Is(err, errDiscarded) {
		return err
	}
	return nil
}

// Close flushes every buffered row and frees the builders and the spill
// folder. The writer cannot be used afterwards. If ctx ends first, rows not
// yet written are dropped (no partial file is left behind either way).
func (w *Writer) Close(ctx context.Context) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return w.err
	}
	var err error
	if w.err == nil {
		err = w.flushAll(ctx, true)
	}
	if serr := w.settle(); err == nil && serr != nil {
		err = serr
	}
	w.stopHelpers()
	w.closed = true
	w.stats.Mismatched += w.cur.Mismatched()
	w.cur.Release()
	w.pids, w.times = nil, nil
	for _, r := range w.runs {
		r.release()
	}
	w.runs = nil
	for _, p := range w.plist {
		p.segs = nil
	}
	w.recycle.drain()
	if w.spillPath != "" {
		if rmErr := os.RemoveAll(w.spillPath); rmErr != nil && err == nil {
			err = fmt.Errorf("lake: remove spill folder: %w", rmErr)
		}
	}
	if err != nil {
		return err
	}
	return w.err
}

// Stats returns the running totals.
func (w *Writer) Stats() Stats {
	w.mu.Lock()
	defer w.mu.Unlock()
	s := w.stats
	s.WriteTime += time.Duration(w.encodeNanos.Load())
	s.Buffered = w.rows
	s.BufferBytes = w.mem.inUse.Load()
	if !w.closed {
		s.BufferBytes += w.cur.Footprint()
		s.Mismatched += w.cur.Mismatched()
	}
	return s
}

// Windows of partitions merged together: one gather for many small
// partitions, instead of one per partition (whose fixed costs would exceed
// their rows').
const (
	windowRows  = 16384
	windowBytes = 16 << 20
)

// writePartitions writes each of ps (in id order, each with rows) as one
// file, merging them a window at a time.
func (w *Writer) writePartitions(ctx context.Context, ps []*partition) error {
	for len(ps) > 0 {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("lake: flush: %w", err)
		}
		n, rows, bytes := 0, int64(0), int64(0)
		for n < len(ps) && (n == 0 || rows+ps[n].rows <= windowRows && bytes+ps[n].bytes <= windowBytes) {
			rows += ps[n].rows
			bytes += ps[n].bytes
			n++
		}
		if err := w.writeWindow(ps[:n]); err != nil {
			return err
		}
		ps = ps[n:]
	}
	return nil
}

// writeWindow merges the segments of ps and writes one file per partition.
func (w *Writer) writeWindow(ps []*partition) error {
	start := time.Now()
	batch, ends, err := w.mergeGuarded(ps)
	if err != nil {
		return w.fail(fmt.Errorf("lake: merge %s: %w", ps[0].keyDir, err))
	}
	defer batch.Release()
	w.stats.WriteTime += time.Since(start)
	lo := int64(0)
	for i, p := range ps {
		start := time.Now()
		part := batch.NewSlice(lo, ends[i])
		err := w.writeFile(p, part)
		part.Release()
		w.stats.WriteTime += time.Since(start)
		if err != nil {
			return w.fail(fmt.Errorf("lake: write %s: %w", p.keyDir, err))
		}
		lo = ends[i]
		for _, s := range p.segs {
			s.run.live -= int64(s.len)
		}
		p.segs = p.segs[:0]
		if cap(p.segs) > 64 {
			p.segs = nil // don't pin a big slice on an idle partition
		}
		w.rows -= p.rows
		p.rows, p.bytes = 0, 0
		w.reap()
	}
	w.freeRuns()
	return nil
}

// freeRuns releases the runs whose rows are all in files.
func (w *Writer) freeRuns() {
	w.runs = slices.DeleteFunc(w.runs, func(r *run) bool {
		if r.live > 0 {
			return false
		}
		if err := r.release(); err != nil {
			slog.Warn("lake: remove spill file", "path", r.path, "err", err)
		}
		return true
	})
}

// merge returns the rows of ps's segments as one batch of the run schema
// (time column last): partition by partition in the order of ps, each
// partition's rows sorted by time (stable: earlier runs first, so rows of
// one millisecond keep their arrival order). ends[i] is the end row of
// ps[i].
//
// Partitions are visited in id order, which is every run's row order, so a
// spilled run reads each of its batches once; the batches stay retained
// here until the gather has copied the rows out.
func (w *Writer) merge(ps []*partition) (arrow.RecordBatch, []int64, error) {
	type source struct {
		r     *run
		batch int32
	}
	index := make(map[source]int32)
	var srcs []arrow.RecordBatch
	var times [][]int64
	defer func() {
		for _, b := range srcs {
			b.Release()
		}
	}()
	tcol := len(w.runSchema.Fields()) - 1
	var refs []rowRef
	ends := make([]int64, len(ps))
	for i, p := range ps {
		first := len(refs)
		for _, seg := range p.segs {
			k := source{seg.run, seg.batch}
			si, ok := index[k]
			if !ok {
				b, err := seg.run.batch(int(seg.batch))
				if err != nil {
					return nil, nil, err
				}
				b.Retain()
				si = int32(len(srcs))
				index[k] = si
				srcs = append(srcs, b)
				times = append(times, b.Column(tcol).(*array.Int64).Int64Values())
			}
			for j := range seg.len {
				refs = append(refs, rowRef{si, seg.off + j})
			}
		}
		// Each segment is sorted; a partition's runs in time order (alerts
		// that arrive in time order) need no sort across them.
		if byTime := func(a, b rowRef) int { return cmp.Compare(times[a.src][a.row], times[b.src][b.row]) }; len(p.segs) > 1 &&
			!slices.IsSortedFunc(refs[first:], byTime) {
			slices.SortStableFunc(refs[first:], byTime)
		}
		ends[i] = int64(len(refs))
	}
	// Rows that are already one stretch of one batch of an in-memory run
	// need no copy. (A mapped spill's batch cannot outlive its run, and the
	// file may be encoded after the run is released.)
	if len(srcs) == 1 && !ps[0].segs[0].run.mappedBatches() && inOrder(refs) {
		return srcs[0].NewSlice(int64(refs[0].row), int64(refs[len(refs)-1].row)+1), ends, nil
	}
	out, err := gatherBatch(w.mem, w.runSchema, srcs, refs)
	if err != nil {
		return nil, nil, err
	}
	return out, ends, nil
}

// inOrder tells whether refs are consecutive rows of one source.
func inOrder(refs []rowRef) bool {
	for k := 1; k < len(refs); k++ {
		if refs[k].row != refs[k-1].row+1 {
			return false
		}
	}
	return true
}

// writeFile hands batch (sorted by time, time column last) to a file worker
// for a new file in p's directory.
func (w *Writer) writeFile(p *partition, batch arrow.RecordBatch) error {
	ncol := int(batch.NumCols()) - 1
	times := batch.Column(ncol).(*array.Int64).Int64Values()
	rows := batch.NumRows()
	if err := w.mkdirs(p); err != nil {
		return err
	}
	name := w.uuid.next(w.opts.Now()) + ".parquet"
	if w.opts.FileName != nil {
		name = w.opts.FileName(p.keyDir, p.files) + ".parquet"
	}
	p.files++
	final := filepath.Join(p.dir, name)
	return w.submit(fileJob{
		batch: array.NewRecordBatch(w.layout.Schema(), batch.Columns()[:ncol], rows),
		tmp:   filepath.Join(p.dir, "."+name+".tmp"),
		final: final,
		info: FileInfo{
			Path: final, Key: p.keyDir + "/" + name,
			Region: p.key.region, Account: p.key.account, EventDay: w.days[p.key.day],
			Rows:    rows,
			MinTime: times[0], MaxTime: times[len(times)-1],
		},
	})
}

// batchBytes is the Arrow size estimate of the batch being written.
func batchBytes(batch arrow.RecordBatch) int64 {
	var n int64
	for _, c := range batch.Columns() {
		n += int64(c.Data().SizeInBytes())
	}
	return n
}

// rowGroupRows bounds row groups to RowGroupBytes of Arrow data each;
// compressed they are smaller still.
func rowGroupRows(rec arrow.RecordBatch) int {
	n := rec.NumRows()
	if size := batchBytes(rec); size > RowGroupBytes {
		return int(max(1, n*RowGroupBytes/size))
	}
	return int(n)
}

func countSlots(n *plan.Node) int {
	m := n.Slot + 1
	for _, c := range n.Children {
		m = max(m, countSlots(c))
	}
	for _, it := range n.Items {
		m = max(m, countSlots(it))
	}
	return m
}
