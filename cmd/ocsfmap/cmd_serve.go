package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/ocsfmap/ocsfmap/engine"
	"github.com/ocsfmap/ocsfmap/engine/console"
	"github.com/ocsfmap/ocsfmap/engine/lake"
	"github.com/ocsfmap/ocsfmap/engine/service"
)

func init() {
	register(command{name: "serve", summary: "run integrations as a service: HTTP ingest behind a write-ahead log, exactly-once delivery, status and metrics", run: runServe})
}

// pathList is a repeatable flag.
type pathList []string

func (p *pathList) String() string     { return strings.Join(*p, ",") }
func (p *pathList) Set(s string) error { *p = append(*p, s); return nil }

func runServe(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("serve", "-c PATH [-c PATH…] [flags]", stderr)
	var paths pathList
	fs.Var(&paths, "c", "integration `file` or folder of them (repeatable)")
	listen := fs.String("listen", "127.0.0.1:8470", "address to listen on")
	data := fs.String("data", "ocsfmap-data", "`folder` for the write-ahead logs, staging, state and dead letters")
	rollSize := byteSize(lake.DefaultRollBytes)
	fs.Var(&rollSize, "roll-size", "cut files when the alerts waiting reach `SIZE`")
	rollAge := fs.Duration("roll-age", lake.DefaultRollAge, "cut files when the oldest alert waiting is this old")
	maxBody := byteSize(16 << 20)
	fs.Var(&maxBody, "max-body", "request body limit, compressed or not (`SIZE`)")
	maxLog := byteSize(4 << 30)
	fs.Var(&maxLog, "max-log", "disk budget per integration (`SIZE`) for the write-ahead log, rejected lines, dead letters and Idempotency-Keys; over it ingest answers 503 with Retry-After")
	maxAlerts := fs.Int("max-alerts", 100_000, "most alerts in one request; over it the request is refused whole (413)")
	maxIngests := fs.Int("max-ingests", 8, "requests read at once per integration; more wait up to 10s, then 503 with Retry-After")
	minRate := byteSize(32 << 10)
	fs.Var(&minRate, "min-read-rate", "a request body must come at `SIZE` a second after 5s, or it is cut (408)")
	memory := byteSize(engine.DefaultMemory)
	fs.Var(&memory, "memory", "memory the service aims to stay within (`SIZE`): a quarter for request bodies being read (503 with Retry-After past it), the rest for delivery")
	tokenFile := fs.String("ingest-token-file", "", "`file` of ingest tokens, one a line (or OCSFMAP_INGEST_TOKEN, comma-separated)")
	logFormat := fs.String("log-format", "text", "text | json")
	keyRetention := fs.Duration("key-retention", time.Hour, "how long an Idempotency-Key is remembered after its request was accepted")
	maxKeys := fs.Int("max-keys", 200_000, "Idempotency-Keys remembered per integration at most; past it the oldest are forgotten before --key-retention")
	drainTimeout := fs.Duration("drain-timeout", 10*time.Minute, "on SIGTERM, how long to deliver what was accepted before exiting anyway (the log keeps the rest)")
	noSync := fs.Bool("unsafe-no-fsync", false, "benchmarks only: acknowledge alerts without fsync (a crash may lose them)")
	adminFile := fs.String("admin-token-file", "", "`file` holding the console's admin token(s), one a line (or OCSFMAP_ADMIN_TOKEN); without one, no console is served")
	var mappingPaths pathList
	fs.Var(&mappingPaths, "mappings", "mapping `file` or folder the console's wizard and playground offer (repeatable; default ./mappings when it exists)")
	tlsCert := fs.String("tls-cert", "", "serve HTTPS with this certificate `file` (PEM; with --tls-key)")
	tlsKey := fs.String("tls-key", "", "the private key `file` of --tls-cert (PEM)")
	secureCookies := fs.Bool("secure-cookies", false, "mark the console's cookies Secure behind a proxy that serves HTTPS (automatic with --tls-cert)")
	metricsAddr := fs.String("metrics-addr", "", "also serve /metrics, /readyz and /healthz in full, without a token, on this private `address` (e.g. 127.0.0.1:9470)")
	var allowedHosts pathList
	fs.Var(&allowedHosts, "allowed-host", "a `name` the console answers to besides the --listen host, localhost and IP addresses (repeatable; against DNS rebinding)")
	if _, err := parse(fs, args); err != nil {
		return err
	}
	if len(paths) == 0 {
		return usagef("give -c PATH: an integration file or a folder of them")
	}
	var handler slog.Handler = slog.NewTextHandler(stderr, nil)
	switch *logFormat {
	case "text":
	case "json":
		handler = slog.NewJSONHandler(stderr, nil)
	default:
		return usagef("--log-format must be text or json, not %q", *logFormat)
	}
	log := slog.New(handler)
	tokens, err := readTokens(os.Getenv("OCSFMAP_INGEST_TOKEN"), *tokenFile)
	if err != nil {
		return usageError{err}
	}
	if len(tokens) == 0 {
		return usagef("no ingest token: set OCSFMAP_INGEST_TOKEN (comma-separated) or --ingest-token-file")
	}
	for _, t := range tokens {
		if len(t) < minTokenLen {
			return usagef("an ingest token needs at least %d characters (one of %d given): use a long random one, e.g. openssl rand -hex 24", minTokenLen, len(t))
		}
	}
	adminTokens, err := readTokens(os.Getenv("OCSFMAP_ADMIN_TOKEN"), *adminFile)
	if err != nil {
		return usageError{fmt.Errorf("admin token: %w", err)}
	}
	if (*tlsCert == "") != (*tlsKey == "") {
		return usagef("give --tls-cert and --tls-key together")
	}
	setMemoryLimit(int64(memory), int64(memory)/4)

	svc, err := service.New(service.Config{
		Paths: paths, DataDir: *data,
		RollBytes: int64(rollSize), RollAge: *rollAge,
		Memory: int64(memory), MaxBody: int64(maxBody), MaxLogBytes: int64(maxLog),
		MaxAlerts: *maxAlerts, MaxIngests: *maxIngests, MinReadRate: int64(minRate),
		IngestTokens: tokens, NoSync: *noSync, Logger: log, KeyRetention: *keyRetention, MaxKeys: *maxKeys,
		// With a console, start empty: the first integration is added there.
		AllowNoIntegrations: len(adminTokens) > 0,
	})
	if err != nil {
		var ce *service.ConfigError
		if errors.As(err, &ce) {
			fmt.Fprintln(stderr, err)
			return usagef("configuration errors")
		}
		return usageError{err}
	}
	var web http.Handler = svc.Handler()
	if len(adminTokens) > 0 {
		if len(mappingPaths) == 0 {
			if fi, err := os.Stat("mappings"); err == nil && fi.IsDir() {
				mappingPaths = append(mappingPaths, "mappings")
			}
		}
		c, err := console.New(console.Options{
			Service: svc, AdminTokens: adminTokens, IngestTokens: tokens,
			Dir: firstFolder(paths), Mappings: mappingPaths, Secure: *tlsCert != "" || *secureCookies, Logger: log,
			AllowedHosts: append(allowedHosts, listenHost(*listen)),
		})
		if err != nil {
			svc.Close()
			return usageError{err}
		}
		web = console.WithAPI(web, c)
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		svc.Close()
		return err
	}
	srv := &http.Server{
		Handler:           web,
		ReadHeaderTimeout: 10 * time.Second,
		// Ingest sets a read deadline of its own from --min-read-rate.
		ReadTimeout:    2 * time.Minute,
		WriteTimeout:   2 * time.Minute,
		IdleTimeout:    2 * time.Minute,
		MaxHeaderBytes: 64 << 10,
		ErrorLog:       slog.NewLogLogger(handler, slog.LevelWarn),
	}
	var opsSrv *http.Server
	if *metricsAddr != "" {
		opsLn, err := net.Listen("tcp", *metricsAddr)
		if err != nil {
			ln.Close()
			svc.Close()
			return fmt.Errorf("--metrics-addr: %w", err)
		}
		opsSrv = &http.Server{Handler: svc.OpsHandler(), ReadHeaderTimeout: 10 * time.Second, WriteTimeout: time.Minute,
			ErrorLog: slog.NewLogLogger(handler, slog.LevelWarn)}
		go opsSrv.Serve(opsLn)
		defer opsSrv.Close()
		log.Info("serving metrics and readiness", "listen", opsLn.Addr().String())
	}
	if err := svc.Start(); err != nil {
		svc.Close()
		return err
	}
	// Signals are caught before the first request is answered: a SIGTERM
	// right after /healthz answers must drain, not kill.
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	defer signal.Stop(sigs)
	served := make(chan error, 1)
	go func() {
		if *tlsCert != "" {
			served <- srv.ServeTLS(ln, *tlsCert, *tlsKey)
			return
		}
		served <- srv.Serve(ln)
	}()
	scheme := "http"
	if *tlsCert != "" {
		scheme = "https"
	}
	log.Info("serving", "listen", ln.Addr().String(), "data", *data, "integrations", len(svc.Statuses()), "console", len(adminTokens) > 0, "url", scheme+"://"+ln.Addr().String()+"/")

	for {
		select {
		case err := <-served:
			svc.Close()
			return err
		case sig := <-sigs:
			if sig == syscall.SIGHUP {
				if err := svc.Reload(context.Background()); err != nil {
					log.Error("reload: some integrations keep their previous configuration", "err", err)
				}
				continue
			}
			return drain(svc, srv, sigs, *drainTimeout, log)
		}
	}
}

// drain stops accepting (ingest answers 503), delivers what was accepted,
// then stops the server. A second signal stops at once: the log keeps what
// is not delivered, and the next start replays it.
func drain(svc *service.Service, srv *http.Server, sigs <-chan os.Signal, timeout time.Duration, log *slog.Logger) error {
	log.Info("stopping: ingest closed, delivering what was accepted")
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	go func() {
		for sig := range sigs {
			if sig != syscall.SIGHUP {
				log.Warn("second signal: stopping now; undelivered alerts stay in the log")
				cancel()
				return
			}
		}
	}()
	err := svc.Drain(ctx)
	shut, cancelShut := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancelShut()
	srv.Shutdown(shut)
	if ctx.Err() != nil {
		return exitError{1}
	}
	log.Info("stopped")
	return err
}

// minTokenLen is the shortest ingest or admin token serve takes: a token
// is a secret to guess, not a password to remember.
const minTokenLen = 16

// listenHost is --listen's host, for the console's Host check.
func listenHost(listen string) string {
	host, _, err := net.SplitHostPort(listen)
	if err != nil {
		return listen
	}
	return host
}

// firstFolder is the first -c that is a folder: where the console writes
// the integration files it adds ("" when every -c is a file).
func firstFolder(paths []string) string {
	for _, p := range paths {
		if fi, err := os.Stat(p); err == nil && fi.IsDir() {
			return p
		}
	}
	return ""
}

// readTokens takes tokens from a comma-separated list and from a file with
// one a line; blank lines and lines starting with # are skipped.
func readTokens(env, file string) ([]string, error) {
	var out []string
	for _, t := range strings.Split(env, ",") {
		if t = strings.TrimSpace(t); t != "" {
			out = append(out, t)
		}
	}
	if file != "" {
		b, err := os.ReadFile(file)
		if err != nil {
			return nil, fmt.Errorf("--ingest-token-file: %w", err)
		}
		for _, t := range strings.Split(string(b), "\n") {
			if t = strings.TrimSpace(t); t != "" && !strings.HasPrefix(t, "#") {
				out = append(out, t)
			}
		}
	}
	return out, nil
}
