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
	"github.com/ocsfmap/ocsfmap/engine/lake"
	"github.com/ocsfmap/ocsfmap/engine/store"
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
	// MaxIngests bounds the requests read at once (default 16): with many
	// clients, memory stays bounded and the others wait their turn (503
	// with Retry-After after IngestWait, default 10 s).
	MaxIngests int
	IngestWait time.Duration
	// KeyRetention is how long Idempotency-Keys are remembered (default 1h:
	// a client retries within minutes; at 60 requests/s a day of keys would
	// hold ~1 GB).
	KeyRetention time.Duration
	NoSync       bool // tests only: no fsync (acknowledged alerts may be lost on a crash)
	Logger       *slog.Logger
	// AllowNoIntegrations starts the service with no integration file, for
	// the console to add the first one (console_api.go).
	AllowNoIntegrations bool
}

// Service runs the integrations: ingest, delivery, status. Handler serves
// its HTTP API.
type Service struct {
	cfg     Config
	log     *slog.Logger
	met     *metrics
	ingests chan struct{} // a slot per request being read

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
		cfg.MaxIngests = 16
	}
	if cfg.IngestWait <= 0 {
		cfg.IngestWait = 10 * time.Second
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
	s := &Service{cfg: cfg, log: cfg.Logger, integ: map[string]*integration{}, drain: make(chan struct{}),
		ingests: make(chan struct{}, cfg.MaxIngests)}
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
	return fmt.Sprintf("%s: %v", e.File, e.Err)
}

func (e *ConfigError) Unwrap() error { return e.Err }

// load reads an integration file, compiles its mapping and rules, and
// prepares its uploader. Nothing is half-loaded: any failure is an error.
func load(ctx context.Context, file string, log *slog.Logger) (*loaded, error) {
	integ, err := store.LoadIntegration(file)
	if err != nil {
		var dl diag.List
		if errors.As(err, &dl) {
			return nil, &ConfigError{File: file, Diags: dl, Err: err}
		}
		return nil, &ConfigError{File: file, Err: err}
	}
	m, err := engine.Load(integ.Mapping)
	if err != nil {
		var dl diag.List
		if errors.As(err, &dl) {
			return nil, &ConfigError{File: integ.Mapping, Diags: dl, Err: err}
		}
		return nil, &ConfigError{File: integ.Mapping, Err: err}
	}
	if _, err := engine.CompileRules(integ); err != nil {
		var re *engine.RulesError
		if errors.As(err, &re) {
			return nil, &ConfigError{File: file, Diags: re.Diags, Err: err}
		}
		return nil, &ConfigError{File: file, Err: err}
	}
	return &loaded{integ: integ, mapping: m}, nil
}

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
			err := in.connect(s.ctx, in.cfg.Load())
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

// connect makes the uploader of l (the role's credentials are assumed lazily
// and cached by the SDK).
func (in *integration) connect(ctx context.Context, l *loaded) error {
	dl, err := l.integ.Deliverer(ctx, store.DeliverOptions{Logger: in.log, OnPut: in.s.met.observePut(in.name)})
	if err != nil {
		return err
	}
	next := *l
	next.dl = dl
	in.cfg.Store(&next)
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
		errs = append(errs, in.wal.Close())
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
		if err != nil {
			msg := err.Error()
			in.configErr.Store(&msg)
			in.log.Error("reload failed; the previous configuration keeps running", "err", msg)
			errs = append(errs, err)
			continue
		}
		in.setPaths(l)
		if err := in.connect(ctx, l); err != nil {
			in.log.Warn("reloaded, but cannot reach the bucket yet", "err", err)
			in.cfg.Store(l)
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
