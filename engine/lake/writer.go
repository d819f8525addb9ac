// Package lake writes mapped records as Parquet files laid out like an
// Amazon Security Lake custom source:
//
//	<Dir>/<Prefix>region=<region>/accountId=<account>/eventDay=<YYYYMMDD>/<uuidv7>.parquet
//
// Rows are buffered per partition in columnar builders, sorted by time and
// written as one complete file at a time: under a hidden temporary name,
// fsynced, then renamed, so a crash never leaves a partial file under a
// final name (readers and the Security Lake crawler skip names starting
// with '.').
package lake

import (
	"bufio"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/compute"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/compress"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"

	"github.com/ocsfmap/ocsfmap/engine/columnar"
	"github.com/ocsfmap/ocsfmap/engine/plan"
)

// Defaults of Options.
const (
	DefaultRollBytes   = 256 << 20
	DefaultRollAge     = 5 * time.Minute
	DefaultMaxBuffered = 128 << 20
	// RowGroupBytes bounds a row group (Security Lake: ≤ 256 MB compressed).
	RowGroupBytes = 256 << 20
	// dataPageBytes keeps data pages under 1 MB uncompressed: the writer
	// cuts a page once it reaches this size, after a write batch of up to
	// writeBatch values, so the margin absorbs one batch of short values.
	dataPageBytes = 768 << 10
	writeBatch    = 1024
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
	// name), from the goroutine that wrote it; the uploader hooks here.
	OnFile func(FileInfo)
	// Allocator for Arrow buffers (default memory.DefaultAllocator).
	Allocator memory.Allocator
	// Now is the clock for roll ages and file names (default time.Now).
	Now func() time.Time
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
	BufferBytes int64 // Arrow bytes allocated now (buffered rows)
}

type pkey struct {
	region, account string
	day             int64
}

type partition struct {
	key      pkey
	dir      string // absolute directory
	keyDir   string // '/'-separated directory relative to Dir
	made     bool   // dir exists
	b        *columnar.Builder
	times    []int64
	bytes    int64     // b.Bytes() as last seen
	opened   time.Time // when the first buffered row arrived
	inBuffer bool
}

// Writer writes records into partitioned Parquet files. Its methods are
// safe for concurrent use (Tick from a timer while another goroutine
// writes); they serialize on one mutex.
type Writer struct {
	mu       sync.Mutex
	opts     Options
	layout   *columnar.Layout
	mem      *countingAllocator
	props    *parquet.WriterProperties
	arrProps pqarrow.ArrowWriterProperties
	parts    map[pkey]*partition
	free     []*columnar.Builder
	days     map[int64]string
	buffered int64 // Arrow bytes over all partitions
	rows     int64 // rows buffered
	uuid     uuidGen
	bw       *bufio.Writer
	nextScan time.Time
	stats    Stats
	closed   bool
	err      error // sticky: a failed file write poisons the writer
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
	if opts.Allocator == nil {
		opts.Allocator = memory.DefaultAllocator
	}
	n := countSlots(root)
	if opts.TimeSlot < 0 || opts.TimeSlot >= n {
		return nil, fmt.Errorf("lake: TimeSlot %d out of range [0,%d)", opts.TimeSlot, n)
	}
	// Region and account may live in slots past the tree's: a plan's
	// partition rules fill slots that are not written to the record.
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
	w := &Writer{
		opts:   opts,
		layout: columnar.NewLayout(root),
		mem:    &countingAllocator{Allocator: opts.Allocator},
		parts:  make(map[pkey]*partition),
		days:   make(map[int64]string),
		bw:     bufio.NewWriterSize(nil, 1<<20),
	}
	w.props = parquet.NewWriterProperties(
		parquet.WithAllocator(w.mem),
		parquet.WithCompression(compress.Codecs.Zstd),
		parquet.WithStats(true),
		parquet.WithDataPageSize(dataPageBytes),
		parquet.WithBatchSize(writeBatch),
		parquet.WithDictionaryDefault(true),
		parquet.WithCreatedBy("ocsfmap"),
	)
	w.arrProps = pqarrow.NewArrowWriterProperties(pqarrow.WithAllocator(w.mem))
	return w, nil
}

// Schema is the Arrow schema of every file the writer makes.
func (w *Writer) Schema() *arrow.Schema { return w.layout.Schema() }

// Write buffers one record in its partition. A record whose partition
// cannot be told returns a *PartitionError and is not written. Other errors
// (a file that could not be written) are final: the writer is unusable.
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
	if p.b == nil {
		p.b = w.builder()
		p.opened = now
	}
	p.b.Append(rec)
	p.times = append(p.times, ms)
	nb := p.b.Bytes()
	w.buffered += nb - p.bytes
	p.bytes = nb
	w.rows++

	if p.bytes >= w.opts.RollBytes {
		if err := w.flush(p); err != nil {
			return err
		}
	}
	if w.mem.inUse.Load() > w.opts.MaxBuffered {
		if err := w.evict(); err != nil {
			return err
		}
	}
	if !now.Before(w.nextScan) {
		return w.rollAged(now)
	}
	return nil
}

// value reads and sanitizes a region or account slot; empty → default.
func (w *Writer) value(rec *plan.Record, slot int, field, def string) (string, error) {
	var s string
	if slot >= 0 && slot < len(rec.Values) {
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
	p := &partition{key: k, keyDir: keyDir, dir: filepath.Join(w.opts.Dir, filepath.FromSlash(keyDir))}
	w.parts[k] = p
	w.stats.Partitions++
	return p
}

// builder takes a builder from the free list or makes one. Builders hold
// no buffers between batches, so idle partitions cost nothing but their
// map entry.
func (w *Writer) builder() *columnar.Builder {
	if n := len(w.free); n > 0 {
		b := w.free[n-1]
		w.free = w.free[:n-1]
		return b
	}
	return w.layout.NewBuilder(w.mem)
}

const maxFree = 64

func (w *Writer) release(b *columnar.Builder) {
	if len(w.free) < maxFree {
		w.free = append(w.free, b)
		return
	}
	b.Release()
}

// Tick writes out partitions whose oldest buffered row is RollAge old. Call
// it from a timer so idle streams still roll.
func (w *Writer) Tick(now time.Time) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err != nil {
		return w.err
	}
	return w.rollAged(now)
}

func (w *Writer) rollAged(now time.Time) error {
	// Scan at most once a second: with thousands of partitions a scan per
	// record would cost more than the rows.
	w.nextScan = now.Add(min(time.Second, w.opts.RollAge))
	for _, p := range w.parts {
		if p.b != nil && now.Sub(p.opened) >= w.opts.RollAge {
			if err := w.flush(p); err != nil {
				return err
			}
		}
	}
	return nil
}

// evict writes out the largest partitions until the buffer is at 90% of
// its cap: the biggest buffers make the biggest (fewest) files.
func (w *Writer) evict() error {
	var big []*partition
	for _, p := range w.parts {
		if p.b != nil {
			big = append(big, p)
		}
	}
	slices.SortFunc(big, func(a, b *partition) int { return cmp.Compare(b.bytes, a.bytes) })
	target := w.opts.MaxBuffered / 10 * 9
	for _, p := range big {
		if w.mem.inUse.Load() <= target {
			break
		}
		if err := w.flush(p); err != nil {
			return err
		}
	}
	return nil
}

// Flush writes every buffered row to files.
func (w *Writer) Flush(ctx context.Context) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err != nil {
		return w.err
	}
	return w.flushAll(ctx)
}

func (w *Writer) flushAll(ctx context.Context) error {
	// Deterministic order: partitions sorted by key.
	var ps []*partition
	for _, p := range w.parts {
		if p.b != nil {
			ps = append(ps, p)
		}
	}
	slices.SortFunc(ps, func(a, b *partition) int { return strings.Compare(a.keyDir, b.keyDir) })
	for _, p := range ps {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("lake: flush: %w", err)
		}
		if err := w.flush(p); err != nil {
			return err
		}
	}
	return nil
}

// Close flushes every buffered row and frees the builders. The writer
// cannot be used afterwards. If ctx ends first, rows not yet written are
// dropped (no partial file is left behind either way).
func (w *Writer) Close(ctx context.Context) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return w.err
	}
	var err error
	if w.err == nil {
		err = w.flushAll(ctx)
	}
	w.closed = true
	for _, p := range w.parts {
		if p.b != nil {
			p.b.Release()
			p.b = nil
		}
	}
	for _, b := range w.free {
		b.Release()
	}
	w.free = nil
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
	s.Buffered = w.rows
	s.BufferBytes = w.mem.inUse.Load()
	for _, p := range w.parts {
		if p.b != nil {
			s.Mismatched += p.b.Mismatched()
		}
	}
	return s
}

// flush writes p's buffered rows as one file and returns its builder.
func (w *Writer) flush(p *partition) error {
	if p.b == nil || p.b.Len() == 0 {
		return nil
	}
	w.stats.Mismatched += p.b.Mismatched()
	batch := p.b.NewRecordBatch()
	defer batch.Release()
	times := p.times
	w.buffered -= p.bytes
	w.rows -= int64(len(times))
	b := p.b
	p.b, p.bytes, p.times = nil, 0, p.times[:0]
	if cap(p.times) > 4096 {
		p.times = nil // don't pin a big slice on an idle partition
	}
	defer w.release(b)
	start := time.Now()
	info, err := w.writeFile(p, batch, times)
	w.stats.WriteTime += time.Since(start)
	if err != nil {
		w.err = fmt.Errorf("lake: write %s: %w", p.keyDir, err)
		return w.err
	}
	w.stats.Files++
	w.stats.Bytes += info.Bytes
	w.stats.Rows += info.Rows
	if w.opts.OnFile != nil {
		w.opts.OnFile(info)
	}
	return nil
}

// sortByTime returns batch ordered by times (stable), or batch itself
// (retained) when already in order: streams mostly arrive in time order.
func (w *Writer) sortByTime(batch arrow.RecordBatch, times []int64) (arrow.RecordBatch, error) {
	if slices.IsSorted(times) {
		batch.Retain()
		return batch, nil
	}
	idx := make([]int32, len(times))
	for i := range idx {
		idx[i] = int32(i)
	}
	slices.SortStableFunc(idx, func(a, b int32) int { return cmp.Compare(times[a], times[b]) })
	slices.Sort(times)
	ib := array.NewInt32Builder(w.mem)
	defer ib.Release()
	ib.AppendValues(idx, nil)
	indices := ib.NewArray()
	defer indices.Release()
	ctx := compute.WithAllocator(context.Background(), w.mem)
	// NewDatum retains what it wraps; release the datums, not the values.
	vals, idxs := compute.NewDatum(batch), compute.NewDatum(indices)
	defer vals.Release()
	defer idxs.Release()
	out, err := compute.Take(ctx, *compute.DefaultTakeOptions(), vals, idxs)
	if err != nil {
		return nil, fmt.Errorf("sort by time: %w", err)
	}
	return out.(*compute.RecordDatum).Value, nil
}

// writeFile writes batch, sorted by time, to a new file in p's directory:
// a hidden temporary name first, renamed once complete (and synced).
func (w *Writer) writeFile(p *partition, batch arrow.RecordBatch, times []int64) (FileInfo, error) {
	sorted, err := w.sortByTime(batch, times)
	if err != nil {
		return FileInfo{}, err
	}
	defer sorted.Release()

	if !p.made {
		if err := os.MkdirAll(p.dir, 0o755); err != nil {
			return FileInfo{}, err
		}
		p.made = true
	}
	name := w.uuid.next(w.opts.Now()) + ".parquet"
	final := filepath.Join(p.dir, name)
	tmp := filepath.Join(p.dir, "."+name+".tmp")
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return FileInfo{}, err
	}
	done := false
	defer func() {
		if !done {
			f.Close()
			os.Remove(tmp)
		}
	}()
	if w.sink != nil {
		w.bw.Reset(w.sink(f))
	} else {
		w.bw.Reset(f)
	}
	fw, err := pqarrow.NewFileWriter(sorted.Schema(), w.bw, w.props, w.arrProps)
	if err != nil {
		return FileInfo{}, fmt.Errorf("parquet writer: %w", err)
	}
	if err := writeRowGroups(fw, sorted, batchBytes(batch)); err != nil {
		fw.Close()
		return FileInfo{}, err
	}
	if err := fw.Close(); err != nil {
		return FileInfo{}, fmt.Errorf("parquet footer: %w", err)
	}
	if err := w.bw.Flush(); err != nil {
		return FileInfo{}, err
	}
	w.bw.Reset(nil)
	if !w.opts.NoSync {
		if err := f.Sync(); err != nil {
			return FileInfo{}, err
		}
	}
	st, err := f.Stat()
	if err != nil {
		return FileInfo{}, err
	}
	if err := f.Close(); err != nil {
		return FileInfo{}, err
	}
	if err := os.Rename(tmp, final); err != nil {
		return FileInfo{}, err
	}
	done = true
	return FileInfo{
		Path: final, Key: p.keyDir + "/" + name,
		Region: p.key.region, Account: p.key.account, EventDay: w.days[p.key.day],
		Rows: sorted.NumRows(), Bytes: st.Size(),
		MinTime: times[0], MaxTime: times[len(times)-1],
	}, nil
}

// batchBytes is the Arrow size estimate of the batch being written.
func batchBytes(batch arrow.RecordBatch) int64 {
	var n int64
	for _, c := range batch.Columns() {
		n += int64(c.Data().SizeInBytes())
	}
	return n
}

// writeRowGroups writes rec in row groups of at most RowGroupBytes of Arrow
// data each; compressed they are smaller still. Each Write call streams one
// row group to the file, so a file never holds more than one row group in
// memory.
func writeRowGroups(fw *pqarrow.FileWriter, rec arrow.RecordBatch, size int64) error {
	n := rec.NumRows()
	per := n
	if size > RowGroupBytes {
		per = max(1, n*RowGroupBytes/size)
	}
	if per >= n {
		return fw.Write(rec)
	}
	for off := int64(0); off < n; off += per {
		s := rec.NewSlice(off, min(off+per, n))
		err := fw.Write(s)
		s.Release()
		if err != nil {
			return err
		}
	}
	return nil
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
