package engine

import (
	"cmp"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/ocsfmap/ocsfmap/engine/filter"
	"github.com/ocsfmap/ocsfmap/engine/integration"
	"github.com/ocsfmap/ocsfmap/engine/lake"
	"github.com/ocsfmap/ocsfmap/engine/plan"
	"github.com/ocsfmap/ocsfmap/engine/store"
)

// Delivery, exactly once.
//
// Deliver runs one batch through the rules, the plan and one lake writer
// per class into files staged in a folder of the batch's own (emptied
// first), then hands each file to the Destination. A file's name is one
// function of (batch ID, class, partition, file number), and a batch is one
// roll (files are cut by size only, at the same records every time), so
// delivering the same batch again rebuilds the same files under the same
// keys and each upload overwrites the one before: after a crash at any
// point, delivering the batch again leaves every record exactly once. The
// batch's dead-letter file is emptied first likewise.

// Destination takes the files of a delivery. One Deliver calls Put from
// several goroutines at once. (LocalLake's files are written in place: its
// Staging is the lake, which Deliver never empties.)
type Destination interface {
	// KeyPrefix is the folder a class's files go under ("ext/<source>/"):
	// each class has its own, since a file never holds two classes.
	KeyPrefix(class string) string
	// Staging is the folder a batch's files are written in before Put, laid
	// out like their keys. Deliver empties it first.
	Staging(batchID string) string
	// Put delivers one staged file as key, retrying what may pass; the
	// staged file may be gone afterwards.
	Put(ctx context.Context, key, path string) error
}

// Batch is one delivery's records and the ID its files are named after.
type Batch struct {
	// ID names the batch's staging folder and files: the same ID and the
	// same records make the same keys.
	ID     string
	Inputs []Input
	// DeadLetters is the batch's own dead-letter file (default: the
	// DeliverConfig's). It is emptied first: a batch delivered again holds
	// each dead letter once.
	DeadLetters string
	// ReadCtx, when set, ends reading early (what was read is still
	// written and delivered); the ctx of Deliver bounds everything.
	ReadCtx context.Context
	// Stream marks a long-running batch (`run` over stdin): a partition's
	// file is also cut when its oldest row is RollAge old. Its cuts then
	// depend on time: delivering it again may cut other files.
	Stream bool
}

// DeliverConfig says how a Mapping's batches are delivered. Zero values
// take the defaults noted.
type DeliverConfig struct {
	Destination Destination // required
	// Integration, when set, brings on_scope_error and keeps the scope
	// errors in its status.
	Integration *integration.Integration
	// Rules are the integration's alert rules, compiled once where it was
	// loaded (engine.LoadIntegration, CompileRules); nil exports every alert.
	Rules *filter.Filter
	// Partition key names (default region, accountId) and the values used
	// for records without one (empty: such a record is dead-lettered).
	RegionKey, AccountKey         string
	DefaultRegion, DefaultAccount string
	// A partition's file is cut at RollBytes (default 256 MB); a Stream
	// batch's also at RollAge (default 5 minutes).
	RollBytes int64
	RollAge   time.Duration
	// Memory is what a delivery aims to stay within (default DefaultMemory).
	Memory     int64
	Validation Validation
	Workers    int // mapping goroutines; 0: GOMAXPROCS
	// DeadLetters is the dead-letter file of batches without their own
	// (required then), emptied by each. MaxDeadLetterRaw > 0 keeps at most
	// that many bytes of a dead letter's record.
	DeadLetters      string
	MaxDeadLetterRaw int
	Progress         func(Counts) // called after every few hundred records
	Logger           *slog.Logger // default slog.Default()
}

// BatchReport is what one Deliver did.
type BatchReport struct {
	Counts
	Files       []FileOutcome // in the order they were finished
	Inputs      map[string]*InputOutcome
	Partitions  int
	DeadLetters string // the dead-letter file
	// FilesWritten: every record read is in a staged file, a dead letter or
	// filtered (the files may have failed to upload). Without it, files
	// may be missing from Files.
	FilesWritten bool
	// Complete: every record of every input is in a delivered file, a dead
	// letter or filtered.
	Complete bool
}

// InputOutcome is what became of one input's records.
type InputOutcome struct {
	Written      int64 // records in the batch's files
	DeadLettered int64
	// Err says why the input could not be opened or read to its end (its
	// records read before stand); nil when it was read whole.
	Err error
}

// ErrUnread is an input not read to its end because reading stopped
// (Batch.ReadCtx or the context of Deliver ended).
var ErrUnread = errors.New("not read to its end: reading stopped")

// FileOutcome is one file of a delivery.
type FileOutcome struct {
	Class                     string // the OCSF class name
	Key                       string // the object key, under the class's KeyPrefix
	Region, Account, EventDay string // the partition
	Rows, Bytes               int64
	// Inputs are the inputs with rows in the file (at least those), sorted.
	Inputs []string
	Err    error // nil: delivered
}

// Failed lists the inputs with a record not delivered and why: rows in a
// file that failed (in any file, without FilesWritten), or the input not
// read to its end.
func (r BatchReport) Failed() map[string]error {
	out := map[string]error{}
	for name, in := range r.Inputs {
		switch {
		case in.Err != nil:
			out[name] = in.Err
		case !r.FilesWritten && in.Written > 0:
			out[name] = errors.New("records written to a file that could not be made")
		}
	}
	for _, f := range r.Files {
		if f.Err == nil {
			continue
		}
		for _, name := range f.Inputs {
			if out[name] == nil {
				out[name] = fmt.Errorf("file %s not delivered: %w", f.Key, f.Err)
			}
		}
	}
	return out
}

// FileName is the name (a UUID, version 8) of a batch's n-th file of class
// in the key folder keyDir: one function of them, so a batch delivered
// again rebuilds the same keys.
func FileName(batchID, class, keyDir string, n int) string {
	h := sha256.New()
	fmt.Fprintf(h, "ocsfmap\x00%s\x00%s\x00%s\x00%d", batchID, class, keyDir, n)
	s := h.Sum(nil)
	s[6] = s[6]&0x0f | 0x80
	s[8] = s[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", s[0:4], s[4:6], s[6:8], s[8:10], s[10:16])
}

// BatchFolder is a batch ID as a folder name: the ID itself when it is a
// plain name, else a hash of it.
func BatchFolder(id string) string {
	ok := id != "" && len(id) <= 128 && id[0] != '.'
	for i := 0; ok && i < len(id); i++ {
		c := id[i]
		ok = c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-'
	}
	if ok {
		return id
	}
	s := sha256.Sum256([]byte(id))
	return fmt.Sprintf("%x", s[:16])
}

// Deliver delivers one batch: every record of its inputs is read, mapped
// and written to a file that goes to the destination, or dead-lettered, or
// filtered. The error is nil when the batch is complete (or complete up to
// where Batch.ReadCtx stopped the reading); the report says which files
// were delivered and which inputs failed either way.
func (m *Mapping) Deliver(ctx context.Context, b Batch, cfg DeliverConfig) (BatchReport, error) {
	rep := BatchReport{Inputs: map[string]*InputOutcome{}}
	for _, in := range b.Inputs {
		rep.Inputs[in.Name] = &InputOutcome{Err: ErrUnread} // until read whole
	}
	if cfg.Destination == nil {
		return rep, &OptionsError{errors.New("deliver: no destination")}
	}
	if b.ID == "" {
		return rep, &OptionsError{errors.New("deliver: a batch needs an ID")}
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	rules := cfg.Rules
	onScope := ScopeDeadLetter
	if integ := cfg.Integration; integ != nil {
		var err error
		if onScope, err = ParseScopePolicy(integ.OnScopeError); err != nil {
			return rep, &OptionsError{fmt.Errorf("%s: %w", integ.File, err)}
		}
	}
	rep.DeadLetters = cmp.Or(b.DeadLetters, cfg.DeadLetters)
	if rep.DeadLetters == "" {
		return rep, &OptionsError{errors.New("deliver: no dead-letter file")}
	}

	dead, err := NewDeadLetterFile(rep.DeadLetters)
	if err != nil {
		return rep, err
	}
	dead.MaxRaw = cfg.MaxDeadLetterRaw
	d, err := m.newBatchRun(ctx, b, cfg, log)
	if err != nil {
		return rep, err
	}

	readCtx := ctx
	if b.ReadCtx != nil {
		var cancel context.CancelFunc
		readCtx, cancel = context.WithCancel(b.ReadCtx)
		defer cancel()
		stop := context.AfterFunc(ctx, cancel)
		defer stop()
	}
	stopTicks := d.tick(readCtx)
	d.inputs = rep.Inputs
	var endMu sync.Mutex
	counts, runErr := m.Run(readCtx, b.Inputs, Options{
		Sink: d, DeadLetters: countingDead{dead, rep.Inputs}, Filter: rules, OnScopeError: onScope,
		Validation: cfg.Validation, Workers: cfg.Workers, Progress: cfg.Progress,
		InputEnd: func(name string, err error) {
			endMu.Lock()
			rep.Inputs[name].Err = err
			endMu.Unlock()
		},
	})
	stopTicks()
	rep.Counts = counts
	// Every record read is written, even after ctx ends: the files of what
	// was read are made and their uploads fail, rather than records vanish.
	files, partitions, closeErr := d.end()
	closeErr = errors.Join(closeErr, dead.Close())
	rep.Files, rep.Partitions = files, partitions
	var upErr error
	for _, f := range rep.Files {
		upErr = errors.Join(upErr, f.Err)
	}
	rep.FilesWritten = runErr == nil && closeErr == nil
	rep.Complete = rep.FilesWritten && upErr == nil
	// Inputs not read whole fail the batch, but for those left unread by
	// a deliberate stop (ReadCtx).
	stopped := b.ReadCtx != nil && b.ReadCtx.Err() != nil
	var inErr error
	for _, in := range b.Inputs {
		if err := rep.Inputs[in.Name].Err; err != nil {
			rep.Complete = false
			switch {
			case err == ErrUnread && stopped:
			case strings.Contains(err.Error(), in.Name): // os and source errors name it
				inErr = errors.Join(inErr, err)
			default:
				inErr = errors.Join(inErr, fmt.Errorf("%s: %w", in.Name, err))
			}
		}
	}
	if integ := cfg.Integration; integ != nil && rep.Complete && counts.ScopeErrors > 0 {
		recordScopeErrors(integ, b.ID, counts, log)
	}
	return rep, errors.Join(runErr, inErr, closeErr, upErr)
}

// recordScopeErrors adds a delivered batch's scope errors to the status,
// once per batch ID however often the batch is delivered.
func recordScopeErrors(integ *integration.Integration, batchID string, c Counts, log *slog.Logger) {
	add := map[string]store.ScopeErrorStat{}
	for rule, e := range c.ByScopeError {
		add[rule] = store.ScopeErrorStat{Count: e.N, First: e.First, Where: fmt.Sprintf("%s:%d", e.Input, e.Line)}
	}
	if err := store.RecordBatchScopeErrors(integ.StateDir, batchID, add); err != nil {
		log.Warn("could not record the scope errors in the status", "err", err)
	}
}

// batchRun is one Deliver under way: the Sink of its pipeline run, with a
// lake writer per class, and the uploads of the finished files.
type batchRun struct {
	m       *Mapping
	b       Batch
	cfg     DeliverConfig
	log     *slog.Logger
	staging string
	inPlace bool           // staging is the destination (a local lake): never emptied
	prefix  []string       // per class
	writers []*lake.Writer // per class
	inputs  map[string]*InputOutcome

	mu        sync.Mutex             // the lake's OnFile may run on the tick goroutine
	files     map[partID]*partInputs // inputs since the partition's last file
	last      *partInputs            // the last record's partition…
	lastInput string                 // …and input

	up      chan int // indexes into outs
	outs    []FileOutcome
	upWG    sync.WaitGroup
	closeMu sync.Mutex
}

// newBatchRun empties the batch's staging folder, makes each class's lake
// writer (a bad prefix or key name fails here, not at the first record)
// and starts the uploads.
func (m *Mapping) newBatchRun(ctx context.Context, b Batch, cfg DeliverConfig, log *slog.Logger) (*batchRun, error) {
	d := &batchRun{m: m, b: b, cfg: cfg, log: log, files: map[partID]*partInputs{}, inputs: map[string]*InputOutcome{}}
	if err := d.prefixes(); err != nil {
		return nil, &OptionsError{err}
	}
	d.staging = cfg.Destination.Staging(b.ID)
	ip, ok := cfg.Destination.(interface{ inPlace() bool })
	d.inPlace = ok && ip.inPlace()
	// In place, what a crash left is complete files under their final
	// names, which delivering the batch again overwrites.
	if !d.inPlace {
		if err := os.RemoveAll(d.staging); err != nil {
			return nil, fmt.Errorf("deliver: empty staging: %w", err)
		}
	}
	for class := range d.writers {
		if _, err := d.writer(class); err != nil {
			d.discardWriters()
			return nil, err
		}
	}
	d.startUploads(ctx)
	return d, nil
}

// end writes every buffered record to its file, waits for the uploads and
// empties the staging folder: nothing staged outlives a Deliver, since
// delivering the batch again rebuilds every file from its records.
func (d *batchRun) end() (files []FileOutcome, partitions int, err error) {
	err = d.closeWriters()
	files = d.finishUploads()
	for _, w := range d.writers {
		partitions += w.Stats().Partitions
	}
	if !d.inPlace {
		os.RemoveAll(d.staging)
		os.Remove(filepath.Dir(d.staging)) // when no other batch is staged
	}
	return files, partitions, err
}

func (d *batchRun) className(class int) string { return d.m.Plans[class].Class.Name }

// prefixes asks the destination for each class's key prefix: no two
// classes may share one.
func (d *batchRun) prefixes() error {
	seen := map[string]string{}
	for i := range d.m.Plans {
		name := d.className(i)
		p := d.cfg.Destination.KeyPrefix(name)
		if other, dup := seen[p]; dup {
			return fmt.Errorf("classes %s and %s would share the key prefix %s: a custom source holds one class", other, name, p)
		}
		seen[p] = name
		d.prefix = append(d.prefix, p)
	}
	d.writers = make([]*lake.Writer, len(d.m.Plans))
	return nil
}

func (*batchRun) WantsJSON() bool { return false }

// Write hands a record to its class's lake writer; a record without a
// usable partition value is dead-lettered.
func (d *batchRun) Write(r *Result) error {
	w, err := d.writer(r.Class)
	if err != nil {
		return err
	}
	if len(d.b.Inputs) > 1 { // one input's name is on every file
		d.note(r)
	}
	err = w.Write(&r.Rec)
	var pe *lake.PartitionError
	if errors.As(err, &pe) {
		return &RecordError{Code: "R405", Msg: pe.Error()}
	}
	if err == nil {
		if in := d.inputs[r.Input]; in != nil {
			in.Written++
		}
	}
	return err
}

// countingDead counts each input's dead letters on their way to the file.
type countingDead struct {
	w      *DeadLetterFile
	inputs map[string]*InputOutcome
}

func (c countingDead) Write(d *DeadLetter) error {
	if in := c.inputs[d.Input]; in != nil {
		in.DeadLettered++
	}
	return c.w.Write(d)
}

func (d *batchRun) writer(class int) (*lake.Writer, error) {
	if class < 0 || class >= len(d.writers) {
		return nil, fmt.Errorf("deliver: record of class %d: the mapping has %d", class, len(d.writers))
	}
	if w := d.writers[class]; w != nil {
		return w, nil
	}
	p := d.m.Plans[class]
	name := d.className(class)
	region, account := p.PartitionSlots()
	memory := d.cfg.Memory
	if memory <= 0 {
		memory = DefaultMemory
	}
	w, err := lake.New(p.Root, lake.Options{
		Dir: d.staging, Prefix: d.prefix[class],
		RegionKey: d.cfg.RegionKey, AccountKey: d.cfg.AccountKey,
		// A batch that is not a stream is the roll: cut by size only.
		RollBytes: d.cfg.RollBytes, RollAge: d.cfg.RollAge, NoRollAge: !d.b.Stream,
		TimeSlot: p.TimeSlot(), RegionSlot: region, AccountSlot: account,
		DefaultRegion: d.cfg.DefaultRegion, DefaultAccount: d.cfg.DefaultAccount,
		MaxBuffered: bufferBudget(memory) / int64(len(d.writers)),
		FileName:    func(keyDir string, n int) string { return FileName(d.b.ID, name, keyDir, n) },
		// A staged file lost in a crash is rebuilt by delivering the batch
		// again; a file written in place is the lake's: it must last.
		NoSync: !d.inPlace,
		OnFile: func(fi lake.FileInfo) { d.finished(class, fi) },
	})
	if err != nil {
		return nil, &OptionsError{err}
	}
	d.mu.Lock() // the tick goroutine reads writers
	d.writers[class] = w
	d.mu.Unlock()
	return w, nil
}

// note remembers that r's input has rows in its partition's next file. The
// partition is read as the lake writer reads it (blank: the default;
// surrounding blanks trimmed). Records of an input mostly share a
// partition: the same one as the record before costs no map lookup, and
// none costs an allocation but a partition's first.
func (d *batchRun) note(r *Result) {
	p := d.m.Plans[r.Class]
	v := r.Rec.Values
	regionSlot, accountSlot := p.PartitionSlots()
	t := v[p.TimeSlot()]
	if t.Kind != plan.Int || t.Int < 0 {
		return // the lake refuses it
	}
	key := partID{class: r.Class, day: t.Int / dayMs,
		region: slotString(v, regionSlot, d.cfg.DefaultRegion), account: slotString(v, accountSlot, d.cfg.DefaultAccount)}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.last != nil && d.last.key == key && d.lastInput == r.Input {
		return
	}
	pi := d.files[key]
	if pi == nil {
		key.region, key.account = strings.Clone(key.region), strings.Clone(key.account)
		pi = &partInputs{key: key}
		d.files[key] = pi
	}
	d.last, d.lastInput = pi, r.Input
	if !slices.Contains(pi.inputs, r.Input) {
		pi.inputs = append(pi.inputs, r.Input)
	}
}

const dayMs = 86_400_000

// partID is a partition of one class's files.
type partID struct {
	class           int
	day             int64 // days since 1970-01-01 UTC
	region, account string
}

// partInputs are the inputs with rows in a partition's next file.
type partInputs struct {
	key    partID
	inputs []string
}

func slotString(v []plan.Value, slot int, def string) string {
	if slot < 0 || v[slot].Kind != plan.String {
		return def
	}
	if s := strings.TrimSpace(v[slot].Str); s != "" {
		return s
	}
	return def
}

// finished queues a finished file for upload with the inputs noted for its
// partition since its last file. (A file cut by size may be reported after
// records of the next file were noted: the list is then a superset.)
func (d *batchRun) finished(class int, fi lake.FileInfo) {
	key := partID{class: class, region: fi.Region, account: fi.Account}
	if t, err := time.Parse("20060102", fi.EventDay); err == nil {
		key.day = t.Unix() * 1000 / dayMs
	}
	d.mu.Lock()
	var inputs []string
	if pi := d.files[key]; pi != nil {
		inputs = pi.inputs
		delete(d.files, key)
	}
	d.last = nil // the next record starts the partition's next file
	d.mu.Unlock()
	if len(d.b.Inputs) == 1 {
		inputs = []string{d.b.Inputs[0].Name}
	}
	slices.Sort(inputs)
	d.closeMu.Lock()
	d.outs = append(d.outs, FileOutcome{Class: d.className(class), Key: fi.Key, Region: fi.Region, Account: fi.Account, EventDay: fi.EventDay,
		Rows: fi.Rows, Bytes: fi.Bytes, Inputs: inputs})
	i := len(d.outs) - 1
	d.closeMu.Unlock()
	d.up <- i
}

// uploadWorkers is how many files go to the destination at once: uploads
// wait on the network, not the CPU.
const uploadWorkers = 8

func (d *batchRun) startUploads(ctx context.Context) {
	d.up = make(chan int, 1024)
	d.upWG.Add(uploadWorkers)
	for range uploadWorkers {
		go func() {
			defer d.upWG.Done()
			for i := range d.up {
				d.closeMu.Lock()
				f := d.outs[i]
				d.closeMu.Unlock()
				err := d.put(ctx, f.Key)
				if err != nil {
					d.log.Error("file not delivered", "key", f.Key, "err", err)
				}
				d.closeMu.Lock()
				d.outs[i].Err = err
				d.closeMu.Unlock()
			}
		}()
	}
}

// put hands one staged file to the destination; a destination that panics
// fails the file, not the process.
func (d *batchRun) put(ctx context.Context, key string) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("destination panicked: %v", p)
		}
	}()
	if err := ctx.Err(); err != nil {
		return err
	}
	return d.cfg.Destination.Put(ctx, key, filepath.Join(d.staging, filepath.FromSlash(key)))
}

// tick rolls aged files of a Stream batch; it returns the function that
// stops it.
func (d *batchRun) tick(ctx context.Context) func() {
	if !d.b.Stream {
		return func() {}
	}
	tctx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(5 * time.Second)
		defer t.Stop()
		for {
			select {
			case now := <-t.C:
				d.mu.Lock()
				ws := slices.Clone(d.writers)
				d.mu.Unlock()
				for _, w := range ws {
					if w != nil {
						w.Tick(now)
					}
				}
			case <-tctx.Done():
				return
			}
		}
	}()
	return func() { stop(); <-done }
}

func (d *batchRun) discardWriters() {
	for _, w := range d.writers {
		if w != nil {
			w.Discard()
		}
	}
}

func (d *batchRun) closeWriters() error {
	var err error
	for _, w := range d.writers {
		if w != nil {
			err = errors.Join(err, w.Close(context.Background()))
		}
	}
	return err
}

// finishUploads waits for every upload and returns the files' outcomes.
func (d *batchRun) finishUploads() []FileOutcome {
	close(d.up)
	d.upWG.Wait()
	d.closeMu.Lock()
	defer d.closeMu.Unlock()
	return d.outs
}
