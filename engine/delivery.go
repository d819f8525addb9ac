package engine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/ocsfmap/ocsfmap/engine/diag"
	"github.com/ocsfmap/ocsfmap/engine/filter"
	"github.com/ocsfmap/ocsfmap/engine/integration"
	"github.com/ocsfmap/ocsfmap/engine/lake"
	"github.com/ocsfmap/ocsfmap/engine/store"
)

// DefaultMemory keeps a delivery within the 300 MB a small container or a
// Lambda-sized host gives it.
const DefaultMemory = 256 << 20

// DeliveryOptions say where a Delivery writes and how it cuts files. The
// zero value of each field takes the default noted.
type DeliveryOptions struct {
	// Integration, when set, delivers to its Security Lake bucket: files
	// are staged under its StagingDir, uploaded with its role and removed
	// once S3 confirms them; its alert rules choose what is exported, and
	// its status is kept in its StateDir. Nil: a local lake in Dir.
	Integration *integration.Integration
	// Dir is the local lake's root (required without Integration). With an
	// Integration it replaces the staging folder.
	Dir string
	// Source names the custom source for the default prefix ext/<Source>/
	// (default: the mapping's vendor); Prefix replaces that prefix. Both
	// are ignored with an Integration, whose prefix is the custom source's.
	Source, Prefix string
	// Partition key names (default region, accountId) and the values used
	// for records without one (empty: such a record is dead-lettered).
	RegionKey, AccountKey         string
	DefaultRegion, DefaultAccount string
	// A partition's file is rolled at RollBytes (default 256 MB) or when
	// its oldest row is RollAge old (default 5 minutes).
	RollBytes int64
	RollAge   time.Duration
	// Memory is what the delivery aims to stay within (default
	// DefaultMemory); it bounds the rows buffered before they spill.
	Memory     int64
	Validation Validation
	Workers    int // mapping goroutines; 0: GOMAXPROCS
	// DeadLetters is the dead-letter file (default: dead-letters.ndjson in
	// the integration's state folder, or beside the local lake).
	DeadLetters string
	// MaxDeadLetterRaw, when above zero, keeps at most that many bytes of
	// a dead letter's original record (see DeadLetterFile.MaxRaw).
	MaxDeadLetterRaw int
	// FileName names a partition's n-th file of this delivery instead of a
	// UUIDv7 (see lake.Options.FileName): a delivery that may be replayed
	// derives names from what it delivers, so the replay overwrites.
	FileName func(keyDir string, n int) string
	// NoSync skips the fsync of each file before its rename: for a caller
	// that rebuilds the files from a log of its own after a crash.
	NoSync bool
	// Deliverer, when set, uploads the files of an Integration: one shared
	// by successive deliveries keeps the assumed role's credentials (and
	// the status's current delivery) instead of assuming the role again.
	Deliverer *store.Deliverer
	// Progress, when set, is called after every batch of records.
	Progress func(Counts)
	Logger   *slog.Logger // default slog.Default()
}

// RulesError is an integration whose alert rules do not compile, or that
// would export nothing.
type RulesError struct {
	File  string
	Diags diag.List // the rules' diagnostics; empty when every rule is disabled
}

func (e *RulesError) Error() string {
	if len(e.Diags) == 0 {
		return e.File + ": every alert rule is disabled: no alert would be exported"
	}
	n := 0
	for _, d := range e.Diags {
		if d.Severity == diag.Error {
			n++
		}
	}
	return fmt.Sprintf("%s: alert rules: %d error(s)", e.File, n)
}

// OptionsError is a DeliveryOptions the lake cannot work with (a bad prefix
// or partition key, no folder), as opposed to a failure to reach the
// destination.
type OptionsError struct{ Err error }

func (e *OptionsError) Error() string { return e.Err.Error() }
func (e *OptionsError) Unwrap() error { return e.Err }

// Delivery is one delivery job: alerts from any inputs go through the alert
// rules, the plan and the lake writer into Parquet files, which an
// integration's are uploaded as they are finished. `ocsfmap run`, `serve`,
// the Lambda function and embedders all deliver through it. Run may be
// called more than once; Close finishes the files and the uploads.
type Delivery struct {
	m        *Mapping
	o        DeliveryOptions
	rules    *filter.Filter
	onScope  ScopePolicy // on_scope_error
	w        *lake.Writer
	dead     *DeadLetterFile
	log      *slog.Logger
	out      string // the lake's root folder (the staging folder with an integration)
	prefix   string
	uploader *store.Uploader
	// cancelUploads stops the uploads; files not sent stay staged.
	cancelUploads context.CancelFunc

	mu        sync.Mutex
	uploadErr error
	counts    Counts
	closed    bool
}

// DeliveryReport is what a Delivery did, once closed.
type DeliveryReport struct {
	Counts                   // every record of every Run
	Lake        lake.Stats   // files written (staged, with an integration)
	Uploaded    store.Report // with an integration: objects delivered, files left staged
	Dir         string       // where the files were written (the staging folder with an integration)
	Prefix      string       // the key prefix under Dir
	DeadLetters string       // the dead-letter file
	// FilesWritten: every record read is in a finished file or a dead
	// letter. With an error and FilesWritten, only uploads failed: the
	// files are staged, and uploading them again completes the delivery.
	FilesWritten bool
}

// NewDelivery prepares a delivery of m's records. With an integration it
// compiles the alert rules (a *RulesError when they fail), assumes the role
// and starts uploading files an earlier delivery left staged.
func (m *Mapping) NewDelivery(ctx context.Context, o DeliveryOptions) (*Delivery, error) {
	if n := len(m.Plans); n > 1 {
		return nil, &OptionsError{fmt.Errorf("mapping %s emits %d classes (%s); delivery per class is not supported yet: use ocsfmap map", m.Plan.Name, n, strings.Join(m.Classes(), ", "))}
	}
	d := &Delivery{m: m, o: o, log: o.Logger, out: o.Dir, prefix: o.Prefix}
	if d.log == nil {
		d.log = slog.Default()
	}
	if o.Memory <= 0 {
		o.Memory = DefaultMemory
	}
	if o.Source == "" {
		o.Source = strings.SplitN(m.Plan.Name, "/", 2)[0]
	}
	if d.prefix == "" {
		d.prefix = "ext/" + o.Source + "/"
	}
	integ := o.Integration
	if integ != nil {
		rules, err := CompileRules(integ)
		if err != nil {
			return nil, err
		}
		d.rules = rules
		if d.onScope, err = ParseScopePolicy(integ.OnScopeError); err != nil {
			return nil, &OptionsError{fmt.Errorf("%s: %w", integ.File, err)}
		}
		if d.out == "" {
			d.out = integ.StagingDir
		}
		d.prefix = integ.ClassKeyPrefix(m.Plan.Class.Name) // Security Lake: one class per custom source
	}
	if d.out == "" {
		return nil, &OptionsError{errors.New("delivery: a local lake needs DeliveryOptions.Dir")}
	}
	if o.DeadLetters == "" {
		o.DeadLetters = filepath.Join(d.out, "dead-letters.ndjson")
		if integ != nil {
			o.DeadLetters = filepath.Join(integ.StateDir, "dead-letters.ndjson")
		}
	}
	d.o = o
	var err error
	if d.dead, err = NewDeadLetterFile(o.DeadLetters); err != nil {
		return nil, err
	}
	d.dead.MaxRaw = o.MaxDeadLetterRaw

	onFile := func(lake.FileInfo) {}
	if integ != nil {
		upCtx, cancel := context.WithCancel(context.Background())
		dl := o.Deliverer
		if dl == nil {
			var err error
			if dl, err = integ.Deliverer(ctx, store.DeliverOptions{Logger: d.log}); err != nil {
				cancel()
				return nil, err
			}
		}
		// Files an earlier delivery staged go first.
		var err error
		if d.uploader, err = dl.Start(upCtx, d.out, 0); err != nil {
			cancel()
			return nil, err
		}
		d.cancelUploads = cancel
		onFile = func(fi lake.FileInfo) {
			if err := d.uploader.Submit(upCtx, fi.Key, fi.Path); err != nil {
				d.mu.Lock()
				d.uploadErr = errors.Join(d.uploadErr, err)
				d.mu.Unlock()
			}
		}
	}
	region, account := m.Plan.PartitionSlots()
	w, err := lake.New(m.Plan.Root, lake.Options{
		Dir: d.out, Prefix: d.prefix,
		RegionKey: o.RegionKey, AccountKey: o.AccountKey,
		RollBytes: o.RollBytes, RollAge: o.RollAge,
		TimeSlot: m.Plan.TimeSlot(), RegionSlot: region, AccountSlot: account,
		DefaultRegion: o.DefaultRegion, DefaultAccount: o.DefaultAccount,
		MaxBuffered: bufferBudget(o.Memory),
		FileName:    o.FileName,
		NoSync:      o.NoSync,
		OnFile:      onFile,
	})
	if err != nil {
		d.stopUploads()
		return nil, &OptionsError{err}
	}
	d.w = w
	return d, nil
}

// bufferBudget is the lake writer's share of the delivery's memory: Arrow
// buffers of rows waiting for their file (the sort into a spill run copies
// them once more), besides the mapping workers, the Parquet encoder and the
// collector's headroom.
func bufferBudget(memory int64) int64 { return memory * 3 / 8 }

// CompileRules compiles an integration's alert rules: nil when it has none
// (every alert is exported), a *RulesError when they fail to compile or are
// all disabled.
func CompileRules(integ *integration.Integration) (*filter.Filter, error) {
	if len(integ.Rules) == 0 {
		return nil, nil
	}
	rules := make([]filter.Rule, len(integ.Rules))
	for i, r := range integ.Rules {
		rules[i] = filter.Rule{Name: r.Name, Enabled: r.Enabled, Scope: r.Scope, Pos: r.ScopePos}
	}
	f, diags := filter.Compile(rules)
	if diags.HasErrors() {
		return nil, &RulesError{File: integ.File, Diags: diags}
	}
	if f.Rules() == 0 {
		return nil, &RulesError{File: integ.File}
	}
	return f, nil
}

// Run delivers every record of inputs. It stops reading when ctx is done;
// what was read is still written by Close. The 5-minute roll happens on an
// idle stream too.
func (d *Delivery) Run(ctx context.Context, inputs []Input) (Counts, error) {
	return d.RunPlaced(ctx, inputs, nil)
}

// RunPlaced is Run, and it also tells placed, for every record the lake
// took, the name of the input it came from and its partition; placed is
// called from one goroutine, in input order. A caller that must know which
// inputs have records in which files uses it (the Lambda function reports
// exactly the SQS messages whose records are in a file that was not
// uploaded).
func (d *Delivery) RunPlaced(ctx context.Context, inputs []Input, placed func(input string, p Placement)) (Counts, error) {
	var sink Sink = lakeSink{d.w}
	if placed != nil {
		region, account := d.m.Plan.PartitionSlots()
		sink = placingSink{lakeSink: lakeSink{d.w}, placed: placed, time: d.m.Plan.TimeSlot(),
			region: region, account: account, defRegion: d.o.DefaultRegion, defAccount: d.o.DefaultAccount}
	}
	tickCtx, stopTicks := context.WithCancel(ctx)
	ticked := make(chan struct{})
	go func() {
		defer close(ticked)
		t := time.NewTicker(5 * time.Second)
		defer t.Stop()
		for {
			select {
			case now := <-t.C:
				d.w.Tick(now)
			case <-tickCtx.Done():
				return
			}
		}
	}()
	counts, err := d.m.Run(ctx, inputs, Options{
		Sink: sink, DeadLetters: d.dead, Filter: d.rules, OnScopeError: d.onScope,
		Validation: d.o.Validation, Workers: d.o.Workers, Progress: d.o.Progress,
	})
	stopTicks()
	<-ticked
	if integ := d.o.Integration; integ != nil && counts.ScopeErrors > 0 {
		add := map[string]store.ScopeErrorStat{}
		for rule, c := range counts.ByScopeError {
			add[rule] = store.ScopeErrorStat{Count: c.N, First: c.First, Where: fmt.Sprintf("%s:%d", c.Input, c.Line)}
		}
		if serr := store.RecordScopeErrors(integ.StateDir, add); serr != nil {
			d.log.Warn("could not record the scope errors in the status", "err", serr)
		}
	}
	d.mu.Lock()
	d.counts.add(counts)
	d.mu.Unlock()
	return counts, err
}

// Close writes every buffered record to its file, waits for the uploads and
// returns what the delivery did. Cancelling ctx stops the uploads still
// running: their files stay staged for the next delivery.
func (d *Delivery) Close(ctx context.Context) (DeliveryReport, error) {
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		return DeliveryReport{}, errors.New("delivery: Close called twice")
	}
	d.closed = true
	d.mu.Unlock()
	watchDone := make(chan struct{})
	defer close(watchDone)
	go func() {
		select {
		case <-ctx.Done():
			d.stopUploads()
		case <-watchDone:
		}
	}()
	// Close writes every buffered partition, even after ctx is done.
	err := errors.Join(d.w.Close(context.Background()), d.dead.Close())
	rep := DeliveryReport{Lake: d.w.Stats(), Dir: d.out, Prefix: d.prefix, DeadLetters: d.o.DeadLetters, FilesWritten: err == nil}
	if d.uploader != nil {
		up, uerr := d.uploader.Close()
		rep.Uploaded = up
		d.mu.Lock()
		err = errors.Join(err, d.uploadErr, uerr)
		d.mu.Unlock()
		d.stopUploads()
	}
	d.mu.Lock()
	rep.Counts = d.counts
	d.mu.Unlock()
	return rep, err
}

// Abort ends the delivery without writing the records it buffered: no file
// is written or uploaded (files already finished by a roll stay where they
// are). For a caller that delivers those records again later from a log of
// its own, so an abandoned attempt leaves no object behind.
func (d *Delivery) Abort() error {
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		return errors.New("delivery: Abort after Close")
	}
	d.closed = true
	d.mu.Unlock()
	err := errors.Join(d.w.Discard(), d.dead.Close())
	if d.uploader != nil {
		d.stopUploads()
		d.uploader.Close() // nothing was submitted: no file was written
	}
	return err
}

func (d *Delivery) stopUploads() {
	if d.cancelUploads != nil {
		d.cancelUploads()
	}
}

// lakeSink hands mapped records to the lake writer; a record without a
// usable partition value is dead-lettered.
type lakeSink struct{ w *lake.Writer }

func (lakeSink) WantsJSON() bool { return false }

func (s lakeSink) Write(r *Result) error {
	err := s.w.Write(&r.Rec)
	var pe *lake.PartitionError
	if errors.As(err, &pe) {
		return &RecordError{Code: "R405", Msg: pe.Error()}
	}
	return err
}

// add adds o's counts to c.
func (c *Counts) add(o Counts) {
	c.Read += o.Read
	c.Written += o.Written
	c.DeadLettered += o.DeadLettered
	c.Filtered += o.Filtered
	c.Bytes += o.Bytes
	c.ScopeErrors += o.ScopeErrors
	for rule, e := range o.ByScopeError {
		if c.ByScopeError == nil {
			c.ByScopeError = map[string]*ScopeErrorCount{}
		}
		if cur, ok := c.ByScopeError[rule]; ok {
			cur.N += e.N
		} else {
			first := *e
			c.ByScopeError[rule] = &first
		}
	}
	for k, n := range o.ByCode {
		if c.ByCode == nil {
			c.ByCode = map[string]int64{}
		}
		c.ByCode[k] += n
	}
	for k, n := range o.ByRule {
		if c.ByRule == nil {
			c.ByRule = map[string]int64{}
		}
		c.ByRule[k] += n
	}
}
