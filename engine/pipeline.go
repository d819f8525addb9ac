package engine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ocsfmap/ocsfmap/engine/filter"
	"github.com/ocsfmap/ocsfmap/engine/plan"
	"github.com/ocsfmap/ocsfmap/engine/source"
)

// Validation chooses how records are checked before they are written.
type Validation uint8

const (
	// ValidatePlan runs the checks the plan could not settle at load time
	// (required attributes a rule may leave empty, enum ranges). Tests prove
	// the JSON Schema validator agrees with it on the corpus and fuzzed input.
	ValidatePlan Validation = iota
	// ValidateFull also validates every record against the JSON Schema.
	ValidateFull
)

// Result is one mapped record on its way to a sink.
type Result struct {
	Input string
	Line  int
	Class int         // the record's class: an index into Mapping.Plans
	Rec   plan.Record // a copy the sink may keep until Write returns
	JSON  []byte      // OCSF JSON, when the sink asked for it
}

// Sink receives mapped records in input order, from one goroutine.
type Sink interface {
	// WantsJSON tells the pipeline to render each record as OCSF JSON.
	WantsJSON() bool
	// Write takes one record. A *RecordError dead-letters the record;
	// any other error stops the run. r and the values it holds are valid
	// only during the call: the pipeline reuses their memory.
	Write(r *Result) error
}

// RecordError is a sink's refusal of one record, e.g. no partition value.
type RecordError struct {
	Code string
	Msg  string
}

func (e *RecordError) Error() string { return e.Code + ": " + e.Msg }

// Counts add up: Read = Written + DeadLettered + Filtered.
type Counts struct {
	Read         int64            `json:"read"`
	Written      int64            `json:"written"`
	DeadLettered int64            `json:"dead_lettered"`
	Filtered     int64            `json:"filtered"`
	Bytes        int64            `json:"bytes,omitempty"`   // input bytes read (decompressed)
	ByCode       map[string]int64 `json:"by_code,omitempty"` // dead letters per code
	ByRule       map[string]int64 `json:"by_rule,omitempty"` // exported records per alert rule
	// ByClass counts the written records per class name, for a mapping
	// with several classes (nil for one).
	ByClass map[string]int64 `json:"by_class,omitempty"`
	// ScopeErrors counts alerts no enabled rule exported because a scope
	// failed to evaluate for them; they are also counted as filtered,
	// written or dead-lettered, as Options.OnScopeError says.
	ScopeErrors  int64                       `json:"scope_errors,omitempty"`
	ByScopeError map[string]*ScopeErrorCount `json:"by_scope_error,omitempty"` // per rule whose scope failed
}

// ScopeErrorCount is one rule's scope errors and the first of them.
type ScopeErrorCount struct {
	N     int64  `json:"n"`
	First string `json:"first"` // the first error's message
	Input string `json:"input"` // where the first failing alert was read
	Line  int    `json:"line"`
}

// ScopePolicy is what happens to an alert whose rule scope failed to
// evaluate when no other enabled rule exports it.
type ScopePolicy uint8

const (
	// ScopeDeadLetter dead-letters the alert (R407): nothing disappears
	// without a trace. The default.
	ScopeDeadLetter ScopePolicy = iota
	// ScopeSkip leaves the alert out, as filtered, but counted apart.
	ScopeSkip
	// ScopeExport maps and writes the alert as if the scope held.
	ScopeExport
)

// ParseScopePolicy reads an integration's on_scope_error value ("" is the
// default, dead_letter).
func ParseScopePolicy(s string) (ScopePolicy, error) {
	switch s {
	case "", "dead_letter":
		return ScopeDeadLetter, nil
	case "skip":
		return ScopeSkip, nil
	case "export":
		return ScopeExport, nil
	}
	return 0, fmt.Errorf("on_scope_error %q: one of dead_letter, skip, export", s)
}

// Input is one named input; Open is called when it is its turn and returns
// its records, already split (see source.Records). A Records with an
// Envelope method is told the mapping's envelope keys.
type Input struct {
	Name string
	Open func() (source.Records, error)
}

// FileInput is the file at path ("-": stdin) as an Input: NDJSON, arrays,
// objects, envelopes, gzip.
func FileInput(path string) Input {
	return Input{Name: path, Open: func() (source.Records, error) { return source.OpenStream(path) }}
}

// ReaderInput is the byte stream open returns as an Input; Close closes it.
func ReaderInput(name string, open func() (io.ReadCloser, error)) Input {
	return Input{Name: name, Open: func() (source.Records, error) {
		rc, err := open()
		if err != nil {
			return nil, err
		}
		return closingStream{source.NewStream(name, rc), rc}, nil
	}}
}

// BytesInput is the records held in b (an SQS message's body) as an Input.
func BytesInput(name string, b []byte) Input {
	return Input{Name: name, Open: func() (source.Records, error) { return source.BytesStream(name, b), nil }}
}

type closingStream struct {
	*source.Stream
	rc io.Closer
}

func (c closingStream) Close() error { return errors.Join(c.Stream.Close(), c.rc.Close()) }

// Options configure a pipeline run.
type Options struct {
	Sink        Sink
	DeadLetters interface{ Write(*DeadLetter) error }
	Filter      *filter.Filter // nil: every alert is exported
	// OnScopeError handles alerts whose scope failed (see ScopePolicy).
	OnScopeError ScopePolicy
	Validation   Validation
	Workers      int // mapping goroutines; 0: GOMAXPROCS
	// Progress, when set, is called from the sink goroutine after every batch.
	Progress func(Counts)
	// InputEnd, when set, is told of every input read to its end (err nil)
	// or that failed to open or read (err says why); then an input's failure
	// does not stop the run: its records read before stand, and the next
	// input is read. Inputs left unread when ctx ends are not reported.
	// Called from the reading goroutine.
	InputEnd func(input string, err error)
}

// ErrFailPolicy is returned when a record fails under on_error: fail.
var ErrFailPolicy = errors.New("record failed under on_error: fail")

const batchSize = 256

type item struct {
	input  string
	line   int
	index  int // position in its envelope array, 0 when not in one
	raw    []byte
	res    Result
	dead   *DeadLetter
	rule   string
	filter bool
	fatal  bool // failed under on_error: fail
	scope  *filter.ScopeError
}

type batch struct {
	seq   int
	items []item
	bytes int64
	err   error // a reader error ends the run after this batch
	// arena holds the record values of items, copied out of the mapper.
	// Batches are recycled once delivered, arena included: allocated
	// afresh it was the run's largest allocation (a few KB per record, and
	// full of pointers for the collector to scan).
	arena []plan.Value
}

// Run reads every input, maps, validates and hands records to the sink, in
// input order. Records that cannot be mapped, fail validation or are refused
// by the sink go to the dead letters. It stops early when ctx is done, after
// writing what was read.
func (m *Mapping) Run(ctx context.Context, inputs []Input, opts Options) (Counts, error) {
	counts := Counts{ByCode: map[string]int64{}, ByRule: map[string]int64{}, ByScopeError: map[string]*ScopeErrorCount{}}
	if len(m.Plans) > 1 {
		counts.ByClass = map[string]int64{}
	}
	workers := opts.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	raw := make(chan *batch, workers*2)
	done := make(chan *batch, workers*2)
	free := make(chan *batch, workers*4+2)
	// The raw bytes of delivered records come back to the reader too.
	rawFree := make(chan []byte, batchSize*(workers*4+2))
	readErr := make(chan error, 1)
	go func() { readErr <- readInputs(ctx, inputs, m.Plan.Envelope, raw, free, rawFree, opts.InputEnd) }()
	var wg sync.WaitGroup
	wantJSON := opts.Sink != nil && opts.Sink.WantsJSON()
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w := m.newWorker(opts, wantJSON)
			for b := range raw {
				w.process(b)
				done <- b
			}
		}()
	}
	go func() { wg.Wait(); close(done) }()

	var runErr error
	pending := map[int]*batch{}
	next := 0
	for b := range done {
		pending[b.seq] = b
		for {
			b, ok := pending[next]
			if !ok {
				break
			}
			delete(pending, next)
			next++
			if runErr == nil {
				runErr = m.deliver(b, opts, &counts)
			}
			if opts.Progress != nil {
				opts.Progress(counts)
			}
			for i := range b.items {
				select {
				case rawFree <- b.items[i].raw:
				default:
				}
			}
			select {
			case free <- b:
			default:
			}
		}
	}
	if err := <-readErr; err != nil && runErr == nil {
		runErr = err
	}
	return counts, runErr
}

// deliver writes one processed batch to the sink and the dead letters.
func (m *Mapping) deliver(b *batch, opts Options, c *Counts) error {
	c.Bytes += b.bytes
	for i := range b.items {
		it := &b.items[i]
		c.Read++
		if it.scope != nil {
			c.ScopeErrors++
			sc := c.ByScopeError[it.scope.Rule]
			if sc == nil {
				sc = &ScopeErrorCount{First: it.scope.Err.Error(), Input: it.input, Line: it.line}
				c.ByScopeError[it.scope.Rule] = sc
			}
			sc.N++
		}
		switch {
		case it.filter:
			c.Filtered++
			continue
		case it.dead == nil && opts.Sink != nil:
			err := opts.Sink.Write(&it.res)
			var re *RecordError
			if errors.As(err, &re) {
				it.dead = &DeadLetter{Input: it.input, Line: it.line, Index: it.index, Code: re.Code, Reason: re.Msg}
				it.dead.SetRaw(it.raw)
			} else if err != nil {
				return fmt.Errorf("%s:%d: %w", it.input, it.line, err)
			}
		}
		if it.dead != nil {
			c.DeadLettered++
			c.ByCode[it.dead.Code]++
			if opts.DeadLetters != nil {
				if err := opts.DeadLetters.Write(it.dead); err != nil {
					return fmt.Errorf("dead letters: %w", err)
				}
			}
			if it.fatal {
				return fmt.Errorf("%s:%d: %s: %w", it.input, it.line, it.dead.Reason, ErrFailPolicy)
			}
			continue
		}
		c.Written++
		if it.rule != "" {
			c.ByRule[it.rule]++
		}
		if c.ByClass != nil {
			c.ByClass[m.Plans[it.res.Class].Class.Name]++
		}
	}
	return b.err
}

// readInputs splits the inputs into batches of raw records (copied, so the
// reader's buffer can move on). Reading happens on a goroutine of its own:
// a read blocked on an endless stream must not keep a batch of records that
// already arrived from the sink (idle flush), nor a cancelled run from
// finishing (the blocked read is abandoned; the process is ending).
func readInputs(ctx context.Context, inputs []Input, envelope []string, out chan<- *batch, free <-chan *batch, rawFree <-chan []byte, inputEnd func(string, error)) error {
	defer close(out)
	items := make(chan item, 4*batchSize)
	errc := make(chan error, 1)
	var read atomic.Int64
	go func() {
		defer close(items)
		errc <- scanInputs(ctx, inputs, envelope, items, &read, rawFree, inputEnd)
	}()
	// A delivered batch comes back through free to be filled again.
	next := func() *batch {
		select {
		case b := <-free:
			clear(b.items) // drop the last round's references
			b.items, b.bytes, b.err = b.items[:0], 0, nil
			return b
		default:
			return &batch{}
		}
	}
	seq := 0
	cur := next()
	var counted int64
	flush := func() {
		if len(cur.items) == 0 && cur.err == nil {
			return
		}
		n := read.Load()
		cur.bytes, counted = n-counted, n
		cur.seq = seq
		seq++
		out <- cur
		cur = next()
	}
	idle := time.NewTimer(time.Hour)
	defer idle.Stop()
	for {
		select {
		case it, ok := <-items:
			if !ok {
				err := <-errc
				var se *source.SyntaxError
				if errors.As(err, &se) {
					// The input's record boundaries are lost (a broken JSON
					// array): what was read stands, the rest is reported.
					cur.err, err = err, nil
				}
				flush()
				return err
			}
			cur.items = append(cur.items, it)
			if len(cur.items) == batchSize {
				flush()
			}
			idle.Reset(idleFlush)
		case <-idle.C:
			flush()
		case <-ctx.Done():
			// Records already read are written; only a read still blocked
			// on the input is abandoned.
			for {
				select {
				case it, ok := <-items:
					if ok {
						cur.items = append(cur.items, it)
						if len(cur.items) == batchSize {
							flush()
						}
						continue
					}
				default:
				}
				break
			}
			flush()
			return nil
		}
	}
}

// idleFlush is how long a partial batch waits for more records on a slow stream.
const idleFlush = 100 * time.Millisecond

// scanInputs reads every input in turn and sends its records, copied into
// buffers of delivered records where there are some. With inputEnd, an
// input's failure is reported there and the next input is read.
func scanInputs(ctx context.Context, inputs []Input, envelope []string, items chan<- item, read *atomic.Int64, rawFree <-chan []byte, inputEnd func(string, error)) error {
	for _, in := range inputs {
		if ctx.Err() != nil {
			return nil
		}
		err := scanInput(ctx, in, envelope, items, read, rawFree)
		switch {
		case inputEnd == nil && err != nil:
			return err
		case inputEnd != nil && (err != nil || ctx.Err() == nil):
			inputEnd(in.Name, err)
		}
	}
	return nil
}

// scanInput sends one input's records; nil when it was read to its end or
// ctx ended first.
func scanInput(ctx context.Context, in Input, envelope []string, items chan<- item, read *atomic.Int64, rawFree <-chan []byte) error {
	recs, err := in.Open()
	if err != nil {
		return err // os errors name the file already
	}
	defer recs.Close()
	if e, ok := recs.(interface{ Envelope(...string) }); ok {
		e.Envelope(envelope...)
	}
	var before int64
	for ctx.Err() == nil {
		more := recs.Next()
		read.Add(recs.Bytes() - before)
		before = recs.Bytes()
		if !more {
			return recs.Err()
		}
		var buf []byte
		select {
		case buf = <-rawFree:
		default:
		}
		line, index := recs.Where()
		select {
		case items <- item{input: in.Name, line: line, index: index, raw: append(buf[:0], recs.Record()...)}:
		case <-ctx.Done():
		}
	}
	return nil
}

type worker struct {
	m        *Mapping
	mapper   *plan.Mapper
	matcher  *filter.Matcher
	full     bool
	wantJSON bool
	slots    int
	onScope  ScopePolicy
}

func (m *Mapping) newWorker(opts Options, wantJSON bool) *worker {
	w := &worker{m: m, full: opts.Validation == ValidateFull, wantJSON: wantJSON, onScope: opts.OnScopeError}
	for _, p := range m.Plans {
		w.slots = max(w.slots, p.Slots())
	}
	var ruleFields []string
	if opts.Filter != nil && opts.Filter.Rules() > 0 {
		w.matcher = opts.Filter.NewMatcher()
		ruleFields = opts.Filter.Fields()
	}
	// One scan of each alert serves the rules and the mapping (issue 21).
	w.mapper = m.Plan.NewMapper(ruleFields...)
	return w
}

// process maps a batch in place. Record values are copied into one arena
// per batch: the mapper reuses its own.
func (w *worker) process(b *batch) {
	arena := b.arena[:0]
	if cap(arena) < len(b.items)*w.slots {
		arena = make([]plan.Value, 0, len(b.items)*w.slots)
	}
	defer func() { b.arena = arena }()
	for i := range b.items {
		it := &b.items[i]
		if w.matcher != nil {
			err := w.mapper.Extract(it.raw)
			var rule string
			if err == nil {
				rule, err = w.matcher.MatchValues(it.raw, w.mapper.Extra())
			}
			var se *filter.ScopeError
			if errors.As(err, &se) {
				it.scope = se
				switch w.onScope {
				case ScopeSkip:
					it.filter = true
					continue
				case ScopeDeadLetter:
					it.dead = &DeadLetter{Input: it.input, Line: it.line, Index: it.index, Code: "R407",
						Reason: se.Error() + " (no other enabled rule exports the alert; on_scope_error: dead_letter)"}
					it.dead.SetRaw(it.raw)
					continue
				}
				err, rule = nil, se.Rule // export: as if the scope held
			}
			if err != nil {
				it.dead = deadLetter(it, err)
				continue
			}
			if rule == "" {
				it.filter = true
				continue
			}
			it.rule = rule
		}
		var rec *plan.Record
		var err error
		if w.matcher != nil {
			rec, err = w.mapper.MapExtracted()
		} else {
			rec, err = w.mapper.Map(it.raw)
		}
		if errors.Is(err, plan.ErrDropped) {
			it.filter = true
			continue
		}
		if err != nil {
			it.dead = deadLetter(it, err)
			it.fatal = w.m.Plan.Policy == plan.Fail
			continue
		}
		class := w.mapper.Class()
		if w.full {
			if v := w.m.validators[class].Validate(w.mapper.Doc()); len(v) > 0 {
				d := &DeadLetter{Input: it.input, Line: it.line, Index: it.index, Code: "V500", Reason: "record fails the OCSF JSON Schema: " + v[0].String()}
				for _, x := range v {
					d.Violations = append(d.Violations, x.String())
				}
				d.SetRaw(it.raw)
				it.dead = d
				continue
			}
		}
		start := len(arena)
		arena = append(arena, rec.Values...)
		it.res = Result{Input: it.input, Line: it.line, Class: class, Rec: plan.Record{Values: arena[start:len(arena):len(arena)]}}
		if w.wantJSON {
			it.res.JSON = w.mapper.AppendJSON(nil)
		}
	}
}

func deadLetter(it *item, err error) *DeadLetter {
	d := &DeadLetter{Input: it.input, Line: it.line, Index: it.index, Reason: err.Error()}
	var pe *plan.Error
	var se *source.SyntaxError
	switch {
	case errors.As(err, &pe):
		d.Code, d.Path, d.Reason = pe.Code, pe.Path, pe.Msg
		if pe.Rule.Line > 0 {
			d.Rule = pe.Rule.String()
		}
		for _, o := range pe.Others {
			d.Also = append(d.Also, o.Error())
		}
	case errors.As(err, &se):
		d.Code, d.Reason = "R400", "invalid JSON: "+se.Error()
	default:
		d.Code = "R400"
	}
	d.SetRaw(it.raw)
	return d
}

// SortedCodes lists dead-letter codes with their counts, most first.
func (c Counts) SortedCodes() []string {
	codes := make([]string, 0, len(c.ByCode))
	for code := range c.ByCode {
		codes = append(codes, code)
	}
	sort.Slice(codes, func(i, j int) bool {
		if c.ByCode[codes[i]] != c.ByCode[codes[j]] {
			return c.ByCode[codes[i]] > c.ByCode[codes[j]]
		}
		return codes[i] < codes[j]
	})
	return codes
}

// Add adds o's counts to c.
func (c *Counts) Add(o Counts) {
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
	addTo(&c.ByCode, o.ByCode)
	addTo(&c.ByRule, o.ByRule)
	addTo(&c.ByClass, o.ByClass)
}

// addTo adds the counts of src to *dst, making it when it is nil.
func addTo(dst *map[string]int64, src map[string]int64) {
	for k, n := range src {
		if *dst == nil {
			*dst = map[string]int64{}
		}
		(*dst)[k] += n
	}
}
