// Package service is the always-on integration (`ocsfmap serve`): alerts
// posted over HTTP are made durable in a write-ahead log per integration
// before they are acknowledged, then delivered to the integration's
// Security Lake bucket by the engine's delivery job, exactly once.
//
// Exactly once: a delivery takes a range of the log, records the range
// before writing any file, and names its files from the range. A delivery
// cut short by a crash is replayed from the same range into the same
// object keys, so the upload overwrites instead of adding. The range's log
// segments go only after every file is confirmed by S3.
package service

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ocsfmap/ocsfmap/engine"
	"github.com/ocsfmap/ocsfmap/engine/diag"
	integfile "github.com/ocsfmap/ocsfmap/engine/integration"
	"github.com/ocsfmap/ocsfmap/engine/lake"
	"github.com/ocsfmap/ocsfmap/engine/plan"
	"github.com/ocsfmap/ocsfmap/engine/store"
	"github.com/ocsfmap/ocsfmap/engine/wal"
)

// Config configures a Service. Zero values take the defaults noted.
type Config struct {
	// Paths are integration files, or folders whose *.yaml files are
	// integration files (each names its own mapping and rules).
	Paths []string
	// DataDir holds each integration's write-ahead log, staging folder,
	// state and dead letters (default ./ocsfmap-data).
	DataDir string
	// Files are cut at RollBytes of alerts (default 256 MB) or when the
	// oldest waiting alert is RollAge old (default 5 minutes).
	RollBytes int64
	RollAge   time.Duration
	Memory    int64 // what a delivery aims to stay within (default engine.DefaultMemory)
	MaxBody   int64 // request body limit, compressed or not (default 16 MiB)
	// MaxLogBytes caps each integration's log; over it ingest answers 503
	// with Retry-After (default 4 GiB).
	MaxLogBytes int64
	// IngestTokens may post alerts and read the status (Bearer tokens).
	IngestTokens []string
	// MaxIngests bounds the requests read at once per integration
	// (default 8): with many clients, memory stays bounded and the others
	// wait their turn (503 with Retry-After after IngestWait, default 10 s).
	// Each integration has its own, so one integration's clients cannot
	// make another's wait.
	MaxIngests int
	IngestWait time.Duration
	// MaxAlerts bounds the alerts of one request (default 100,000): past
	// it the request is refused whole with 413.
	MaxAlerts int
	// A body must come at MinReadRate bytes a second (default 32 KiB)
	// after BodyGrace (default 5 s), or the request is cut with 408: a slow
	// client does not hold an ingest slot for minutes.
	MinReadRate int64
	BodyGrace   time.Duration
	// IngestMemory is what the request bodies being read and logged may
	// hold at once, service-wide (default Memory/4; delivery keeps to the
	// rest of Memory). A request that cannot get its share within
	// MemoryWait (default 2 s) is answered 503 with Retry-After.
	IngestMemory int64
	MemoryWait   time.Duration
	// KeyRetention is how long Idempotency-Keys are remembered (default 1h:
	// a client retries within minutes; at 60 requests/s a day of keys would
	// hold ~1 GB).
	KeyRetention time.Duration
	// MaxKeys bounds the Idempotency-Keys remembered per integration
	// (default 200,000, ~70 MB at the longest keys): past it the oldest are
	// forgotten before their retention, so no client can grow the memory.
	MaxKeys int
	NoSync  bool // tests only: no fsync (acknowledged alerts may be lost on a crash)
	Logger  *slog.Logger
	// AllowNoIntegrations starts the service with no integration file, for
	// the console to add the first one (console_api.go).
	AllowNoIntegrations bool

	// walOpenFile, when set, opens the logs' segment files: the tests'
	// seam to make writes fail as on a full disk.
	walOpenFile func(path string, flag int, perm os.FileMode) (wal.File, error)
}

// Service runs the integrations: ingest, delivery, status. Handler serves
// its HTTP API.
type Service struct {
	cfg Config
	log *slog.Logger
	met *metrics
	mem *memBudget // request bodies in flight (memory.go)

	mu    sync.RWMutex
	integ map[string]*integration

	ctx      context.Context // ends the delivery loops at once
	cancel   context.CancelFunc
	drain    chan struct{} // closed: stop accepting, deliver what is accepted
	draining sync.Once
	wg       sync.WaitGroup
	started  atomic.Bool // Start ran: an integration added by Reload starts delivering at once (console_api.go)
}

// New loads every integration (and its mapping and rules), opens its log
// and replays what was accepted and not delivered. Every problem found is
// returned at once.
func New(cfg Config) (*Service, error) {
	if cfg.DataDir == "" {
		cfg.DataDir = "ocsfmap-data"
	}
	if cfg.RollBytes <= 0 {
		cfg.RollBytes = lake.DefaultRollBytes
	}
	if cfg.RollAge <= 0 {
		cfg.RollAge = lake.DefaultRollAge
	}
	if cfg.Memory <= 0 {
		cfg.Memory = engine.DefaultMemory
	}
	if cfg.MaxBody <= 0 {
		cfg.MaxBody = 16 << 20
	}
	if cfg.MaxLogBytes <= 0 {
		cfg.MaxLogBytes = 4 << 30
	}
	if cfg.MaxIngests <= 0 {
		cfg.MaxIngests = 8
	}
	if cfg.MaxAlerts <= 0 {
		cfg.MaxAlerts = 100_000
	}
	if cfg.MinReadRate <= 0 {
		cfg.MinReadRate = 32 << 10
	}
	if cfg.BodyGrace <= 0 {
		cfg.BodyGrace = 5 * time.Second
	}
	if cfg.IngestWait <= 0 {
		cfg.IngestWait = 10 * time.Second
	}
	if cfg.MaxKeys <= 0 {
		cfg.MaxKeys = 200_000
	}
	if cfg.IngestMemory <= 0 {
		cfg.IngestMemory = cfg.Memory / 4
	}
	// The largest request must fit, or it would be refused for good.
	if need := requestMemory(cfg.MaxBody+1, maxPooled) + (&rejectFile{cap: cfg.MaxLogBytes / budgetShare}).writeMemory(maxRejected); need > cfg.IngestMemory {
		return nil, fmt.Errorf("--max-body %d needs %d bytes of memory per request, more than ingest's share of --memory (%d of %d): raise --memory or lower --max-body", cfg.MaxBody, need, cfg.IngestMemory, cfg.Memory)
	}
	if cfg.MemoryWait <= 0 {
		cfg.MemoryWait = 2 * time.Second
	}
	if cfg.KeyRetention <= 0 {
		cfg.KeyRetention = time.Hour
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if len(cfg.IngestTokens) == 0 {
		return nil, errors.New("no ingest token: set OCSFMAP_INGEST_TOKEN or --ingest-token-file")
	}
	s := &Service{cfg: cfg, log: cfg.Logger, integ: map[string]*integration{}, drain: make(chan struct{}), mem: newMemBudget(cfg.IngestMemory)}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.met = newMetrics(s)
	files, err := integrationFiles(cfg.Paths)
	if err != nil {
		return nil, err
	}
	var errs []error
	for _, f := range files {
		l, err := load(context.Background(), f, s.log)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if prev, dup := s.integ[l.integ.Name]; dup {
			errs = append(errs, fmt.Errorf("%s: integration %q is also defined in %s", f, l.integ.Name, prev.file))
			continue
		}
		in, err := openIntegration(s, f, l)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		s.integ[in.name] = in
	}
	if err := errors.Join(errs...); err != nil {
		s.closeLogs()
		return nil, err
	}
	if len(s.integ) == 0 && !cfg.AllowNoIntegrations {
		return nil, errors.New("no integration file found in " + strings.Join(cfg.Paths, ", "))
	}
	return s, nil
}

// integrationFiles expands folders into their *.yaml / *.yml files.
func integrationFiles(paths []string) ([]string, error) {
	var out []string
	for _, p := range paths {
		fi, err := os.Stat(p)
		if err != nil {
			return nil, err
		}
		if !fi.IsDir() {
			out = append(out, p)
			continue
		}
		for _, pat := range []string{"*.yaml", "*.yml"} {
			m, _ := filepath.Glob(filepath.Join(p, pat))
			out = append(out, m...)
		}
	}
	sort.Strings(out)
	return out, nil
}

// ConfigError is an integration file, mapping or rule set that does not
// load; Diags holds every problem when they are diagnostics.
type ConfigError struct {
	File  string
	Diags diag.List
	Err   error
}

func (e *ConfigError) Error() string {
	if len(e.Diags) > 0 {
		return strings.TrimRight(e.Diags.Render(), "\n")
	}
	if msg := e.Err.Error(); strings.Contains(msg, e.File) {
		return msg
	}
	return fmt.Sprintf("%s: %v", e.File, e.Err)
}

func (e *ConfigError) Unwrap() error { return e.Err }

// load reads an integration file, compiles its mapping and rules. Nothing is
// half-loaded: any failure is an error. The uploader is made apart
// (swapConfig, connect): it reads the AWS configuration, which may fail on
// its own.
func load(ctx context.Context, file string, log *slog.Logger) (*loaded, error) {
	src, err := os.ReadFile(file)
	if err != nil {
		return nil, &ConfigError{File: file, Err: err}
	}
	return compile(file, src, "")
}

// compile loads the integration file whose bytes are src and its mapping;
// mappingSum, when set, is the SHA-256 the mapping file must have (an
// epoch rebuilt as it was cut, epochcfg.go).
func compile(file string, src []byte, mappingSum string) (*loaded, error) {
	li, err := engine.ParseIntegration(file, src)
	if err != nil {
		var le *engine.LoadError
		if !errors.As(err, &le) {
			return nil, &ConfigError{File: file, Err: err}
		}
		ce := &ConfigError{File: le.File, Err: le}
		if le.Diags.HasErrors() { // else the error is not a diagnostic: le says it
			ce.Diags = le.Diags
		}
		return nil, ce
	}
	integ := li.Integ
	if mappingSum != "" && li.MappingSum != mappingSum {
		return nil, &ConfigError{File: integ.Mapping, Err: fmt.Errorf("the mapping file changed (sha256 %s, was %s)", li.MappingSum, mappingSum)}
	}
	if li.Mapping.Plan.Policy == plan.Fail {
		return nil, &ConfigError{File: integ.Mapping, Err: errFailPolicy}
	}
	return &loaded{integ: integ, mapping: li.Mapping, rules: li.Rules, src: src, mappingSum: li.MappingSum}, nil
}

// errFailPolicy refuses on_error: fail. A batch run stops at the first
// record that fails and the operator runs it again; serve cannot stop: the
// same record would fail its epoch again and again, and every alert
// accepted after it would wait behind it, across restarts.
var errFailPolicy = errors.New("on_error: fail cannot be served: one record that fails would block every later alert " +
	"(its epoch is retried forever); use on_error: dead_letter (the record goes to the dead letters with the reason) or null_field")

// Start starts each integration's delivery loop.
func (s *Service) Start() error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	s.started.Store(true)
	for _, in := range s.integ {
		s.startDelivery(in)
	}
	return nil
}

// startDelivery runs in's delivery loop until the service stops.
func (s *Service) startDelivery(in *integration) {
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		// Unreachable now is not fatal: ingest goes on, delivery waits.
		for in.cfg.Load().dl == nil {
			err := in.connect(s.ctx)
			if err == nil {
				break
			}
			in.log.Warn("cannot reach the bucket yet; alerts are accepted and delivered once it can", "err", err)
			if sleep(s.ctx, 5*time.Second); s.ctx.Err() != nil {
				return
			}
		}
		in.run(s.ctx, s.drain)
	}()
}

// newUploader makes the uploader of integ (the role's credentials are
// assumed lazily and cached by the SDK). It fails when the AWS shared
// configuration does not parse.
func (in *integration) newUploader(ctx context.Context, integ *integfile.Integration) (*store.Deliverer, error) {
	return integ.Deliverer(ctx, store.DeliverOptions{Logger: in.log, OnPut: in.s.met.observePut(in.name)})
}

// connect gives the current configuration its uploader.
func (in *integration) connect(ctx context.Context) error {
	in.swapMu.Lock()
	defer in.swapMu.Unlock()
	l := in.cfg.Load()
	if l.dl != nil {
		return nil // a reload did
	}
	dl, err := in.newUploader(ctx, l.integ)
	if err != nil {
		return err
	}
	next := *l
	next.dl = dl
	in.cfg.Store(&next)
	return nil
}

// swapConfig makes l the configuration, its uploader made first. When that
// fails (the AWS shared configuration does not parse, say), the previous
// configuration and its uploader keep running: a delivery never finds a
// configuration without an uploader.
func (in *integration) swapConfig(ctx context.Context, l *loaded) error {
	in.swapMu.Lock()
	defer in.swapMu.Unlock()
	dl, err := in.newUploader(ctx, l.integ)
	if err != nil {
		if in.cfg.Load().dl == nil {
			// Not delivering yet: the start's loop goes on trying, with l.
			in.cfg.Store(l)
		}
		return &ConfigError{File: in.file, Err: fmt.Errorf("cannot make the uploader (AWS configuration): %w", err)}
	}
	l.dl = dl
	in.cfg.Store(l)
	return nil
}

// Accepting tells whether ingest is open (false once draining).
func (s *Service) Accepting() bool { return !isClosed(s.drain) }

// Drain stops accepting alerts and delivers everything accepted, then
// returns; ctx cut short stops the deliveries (the log keeps what is left).
func (s *Service) Drain(ctx context.Context) error {
	s.draining.Do(func() { close(s.drain) })
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		s.cancel()
		<-done
	}
	return s.Close()
}

// Close stops the deliveries at once and closes the logs; what was accepted
// and not delivered is replayed by the next start.
func (s *Service) Close() error {
	s.cancel()
	s.wg.Wait()
	return s.closeLogs()
}

func (s *Service) closeLogs() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var errs []error
	for _, in := range s.integ {
		if in.keys != nil {
			errs = append(errs, in.keys.close())
		}
		errs = append(errs, in.wal.Close(), in.rejects.close())
	}
	return errors.Join(errs...)
}

// Reload reads every integration file and mapping again. One that fails
// keeps its previous version running and shows why in its status. An
// integration file new since the start is added (addNew, console_api.go).
func (s *Service) Reload(ctx context.Context) error {
	errs := s.addNew(ctx) // before the read lock: adding takes the write lock
	s.mu.RLock()
	defer s.mu.RUnlock()
	for _, in := range s.integ {
		l, err := load(ctx, in.file, in.log)
		if err == nil && l.integ.Name != in.name {
			err = &ConfigError{File: in.file, Err: fmt.Errorf("the integration's name changed from %q to %q: restart to rename", in.name, l.integ.Name)}
		}
		if err == nil && identityOf(l.integ) != identityOf(in.cfg.Load().integ) {
			err = &ConfigError{File: in.file, Err: errNewExternalID}
		}
		if err == nil {
			in.setPaths(l)
			err = in.swapConfig(ctx, l)
		}
		if err != nil {
			msg := err.Error()
			in.configErr.Store(&msg)
			in.log.Error("reload failed; the previous configuration keeps running", "err", msg)
			errs = append(errs, err)
			continue
		}
		in.configErr.Store(nil)
		in.log.Info("reloaded", "mapping", l.integ.Mapping, "rules", len(l.integ.Rules))
	}
	return errors.Join(errs...)
}

// lookup returns the named integration, or nil.
func (s *Service) lookup(name string) *integration {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.integ[name]
}

// names lists the integrations, sorted.
func (s *Service) names() []string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]string, 0, len(s.integ))
	for n := range s.integ {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// validToken compares a token with every ingest token in constant time.
func validToken(token string, tokens []string) bool {
	ok := 0
	for _, t := range tokens {
		ok |= subtle.ConstantTimeCompare([]byte(token), []byte(t))
	}
	return ok == 1 && token != ""
}
