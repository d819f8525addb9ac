// Package console is the web console of `ocsfmap serve`: the Integrations
// page with each integration's Pending / Success / Failed, the
// add-integration wizard with Test Connection (the vendor's Administration >
// Integrations > Amazon Security Lake), alert rules compiled as they are
// typed, a mapping playground, and the dead letters.
//
// It is an http.Handler an embedder mounts beside the service's API
// (WithAPI). Pages are rendered on the server with html/template, whose
// contextual escaping is the defence against injected markup; templates and
// assets are embedded; the little JavaScript there is is plain and optional
// (copy buttons, live diagnostics, the list refreshing itself).
//
// Security: an admin token signs in (compared in constant time; an ingest
// token never does); the session cookie is HttpOnly, SameSite=Strict and,
// over TLS, Secure; every POST carries the session's CSRF token or is
// refused with 403; every page without a session redirects to /login. No
// credential is ever rendered: the console never reads the AWS keys (the SDK
// does), and tokens are only compared.
//
// Integration files stay the source of truth: the wizard and the rule
// editor write them (integration.WriteIntegrationFile) and reload the service.
package console

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ocsfmap/ocsfmap/engine/service"
	"github.com/ocsfmap/ocsfmap/engine/store"
)

//go:embed templates/*.html static/*
var assets embed.FS

// Options configure a Console.
type Options struct {
	Service *service.Service
	// AdminTokens sign in to the console. Ingest tokens never do: New
	// refuses an admin token that is also one of IngestTokens.
	AdminTokens  []string
	IngestTokens []string
	// Dir is the folder Finish writes new integration files into: one the
	// service reads (a -c folder), so a reload picks them up. Empty: the
	// console edits existing integrations but cannot add one.
	Dir string
	// Mappings are mapping files, or folders searched for them, offered by
	// the wizard and the playground besides the integrations' own.
	Mappings []string
	// Secure marks the session cookie Secure: set it when serving over TLS,
	// or behind a proxy that does (serve --secure-cookies).
	Secure bool
	// AllowedHosts are the names, besides localhost and IP addresses, the
	// console answers to in the Host header (the listen address's, the
	// proxy's): any other is refused, against DNS rebinding.
	AllowedHosts []string
	// SessionTTL is how long a sign-in lasts (default 12h).
	SessionTTL time.Duration
	Logger     *slog.Logger
	// CallerAccount returns the writer's AWS account ID for the Cloud
	// Storage step (default store.CallerAccount: STS GetCallerIdentity).
	CallerAccount func(ctx context.Context, region string) (string, error)
}

// Console serves the pages. Create it with New.
type Console struct {
	o     Options
	svc   *service.Service
	log   *slog.Logger
	pages map[string]*template.Template
	mux   *http.ServeMux
	sess  *sessions

	acctMu sync.Mutex
	acct   accountCache

	mapMu    sync.Mutex
	mappings map[string]*cachedMapping // the playground's loaded mappings, by path

	checks *throttle    // Test Connection, the wizard's and the API's
	signIn *signInGuard // sign-in attempts
}

// New returns a console for o.Service.
func New(o Options) (*Console, error) {
	if o.Service == nil {
		return nil, errors.New("console: no service")
	}
	var admin []string
	for _, t := range o.AdminTokens {
		if t = strings.TrimSpace(t); t != "" {
			admin = append(admin, t)
		}
	}
	if len(admin) == 0 {
		return nil, errors.New("console: no admin token (set OCSFMAP_ADMIN_TOKEN or --admin-token-file)")
	}
	for _, a := range admin {
		for _, i := range o.IngestTokens {
			if a == i {
				return nil, errors.New("console: an admin token is also an ingest token: give the console its own")
			}
		}
		if len(a) < 16 {
			return nil, errors.New("console: an admin token needs at least 16 characters")
		}
	}
	o.AdminTokens = admin
	if o.SessionTTL <= 0 {
		o.SessionTTL = 12 * time.Hour
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.CallerAccount == nil {
		o.CallerAccount = store.CallerAccount
	}
	c := &Console{o: o, svc: o.Service, log: o.Logger.With("component", "console"),
		sess: newSessions(o.SessionTTL), mappings: map[string]*cachedMapping{},
		checks: newThrottle(10*time.Second, 5), signIn: newSignInGuard()}
	if err := c.parseTemplates(); err != nil {
		return nil, err
	}
	c.routes()
	return c, nil
}

// WithAPI is the handler `ocsfmap serve` listens with: the service's API
// keeps /v1/…, /healthz, /readyz and /metrics, the console has the rest
// and Test Connection (admin token). Only the Bearer-token API answers to
// any Host: a load balancer's name is not known here.
func WithAPI(api http.Handler, c *Console) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/v1/", api)
	mux.Handle("POST /v1/integrations/{name}/test-connection", c.hostChecked(http.HandlerFunc(c.apiTestConnection)))
	for _, p := range []string{"/healthz", "/readyz", "/metrics"} {
		mux.Handle(p, c.hostChecked(api))
	}
	mux.Handle("/", c)
	return mux
}

// hostChecked refuses a request whose Host is not this server's (see
// hostAllowed) with 421 Misdirected Request.
func (c *Console) hostChecked(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if c.foreignHost(w, r) {
			return
		}
		h.ServeHTTP(w, r)
	})
}

// foreignHost answers 421 to a request whose Host is not this server's.
func (c *Console) foreignHost(w http.ResponseWriter, r *http.Request) bool {
	if hostAllowed(r.Host, c.o.AllowedHosts) {
		return false
	}
	http.Error(w, "this server does not answer to the name "+strconv.Quote(r.Host)+" (serve --allowed-host)", http.StatusMisdirectedRequest)
	return true
}

func (c *Console) routes() {
	m := http.NewServeMux()
	static, _ := fs.Sub(assets, "static")
	m.Handle("GET /static/", http.StripPrefix("/static/", http.FileServerFS(static)))
	m.HandleFunc("GET /favicon.ico", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) })
	m.HandleFunc("GET /login", c.loginPage)
	m.HandleFunc("POST /login", c.login)
	m.Handle("POST /logout", c.auth(c.logout))

	m.Handle("GET /{$}", c.auth(c.integrationsPage))
	m.Handle("GET /integrations/table", c.auth(c.integrationsTable))
	m.Handle("GET /integrations/new", c.auth(c.wizardNew))
	m.Handle("GET /integrations/{name}/edit", c.auth(c.wizardEdit))
	m.Handle("POST /wizard", c.auth(c.wizardPost))
	m.Handle("POST /integrations/{name}/enabled", c.auth(c.setEnabled))
	m.Handle("GET /integrations/{name}/rules", c.auth(c.rulesPage))
	m.Handle("POST /integrations/{name}/rules", c.auth(c.rulesPost))
	m.Handle("POST /api/scope", c.auth(c.scopeCheck))
	m.Handle("GET /playground", c.auth(c.playgroundPage))
	m.Handle("POST /playground", c.auth(c.playgroundPost))
	m.Handle("GET /dead-letters", c.auth(c.deadLettersPage))
	m.Handle("/", c.auth(func(w http.ResponseWriter, r *http.Request, _ *session) {
		c.render(w, r, http.StatusNotFound, "error", nil, pageData{Title: "Not found", Error: "There is no page at " + r.URL.Path + "."})
	}))
	c.mux = m
}

// ServeHTTP serves the console with headers that keep its pages from being
// framed, sniffed or given to other origins' scripts.
func (c *Console) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if c.foreignHost(w, r) {
		return
	}
	h := w.Header()
	h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	if r.Method == http.MethodPost {
		// Forms are small; a rule, an alert for the playground at most.
		r.Body = http.MaxBytesReader(w, r.Body, 4<<20)
	}
	c.mux.ServeHTTP(w, r)
}

// pageData is what every page template gets; Data is the page's own.
type pageData struct {
	Title  string
	Nav    string // the current section, for aria-current
	CSRF   string
	Flash  string
	Error  string
	Signed bool
	Data   any
}

var funcs = template.FuncMap{
	"bytes": humanBytes,
	"ago":   ago,
	"time": func(t time.Time) string {
		if t.IsZero() {
			return "—"
		}
		return t.UTC().Format("2006-01-02 15:04:05 UTC")
	},
	"lower": strings.ToLower,
	"add":   func(a, b int) int { return a + b },
}

func (c *Console) parseTemplates() error {
	c.pages = map[string]*template.Template{}
	names, err := fs.Glob(assets, "templates/*.html")
	if err != nil {
		return err
	}
	for _, n := range names {
		base := strings.TrimSuffix(filepath.Base(n), ".html")
		if base == "layout" {
			continue
		}
		t, err := template.New("layout.html").Funcs(funcs).ParseFS(assets, "templates/layout.html", n)
		if err != nil {
			return fmt.Errorf("console templates: %w", err)
		}
		c.pages[base] = t
	}
	return nil
}

// render writes a page: the layout around the page's "content".
func (c *Console) render(w http.ResponseWriter, r *http.Request, status int, page string, s *session, d pageData) {
	t := c.pages[page]
	if t == nil {
		http.Error(w, "no template "+page, http.StatusInternalServerError)
		return
	}
	if s != nil {
		d.CSRF, d.Signed = s.csrf, true
	}
	var b strings.Builder
	if err := t.ExecuteTemplate(&b, "layout.html", d); err != nil {
		c.log.Error("render", "page", page, "err", err)
		http.Error(w, "the page could not be rendered", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	w.Write([]byte(b.String()))
}

// renderPart writes one named template of a page alone (the table the list
// refreshes itself with).
func (c *Console) renderPart(w http.ResponseWriter, page, part string, d any) {
	var b strings.Builder
	if err := c.pages[page].ExecuteTemplate(&b, part, d); err != nil {
		c.log.Error("render", "part", part, "err", err)
		http.Error(w, "the table could not be rendered", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Write([]byte(b.String()))
}

func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

func ago(t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	d := time.Since(t).Round(time.Second)
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds ago", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm ago", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh ago", int(d.Hours()))
	}
	return t.UTC().Format("2006-01-02")
}

// mappingChoices are the mappings the wizard and the playground offer: the
// integrations' own and those under Options.Mappings, sorted.
func (c *Console) mappingChoices() []string {
	seen := map[string]bool{}
	var out []string
	addFile := func(p string) {
		if abs, err := filepath.Abs(p); err == nil {
			p = abs
		}
		if !seen[p] {
			seen[p] = true
			out = append(out, p)
		}
	}
	for _, st := range c.svc.Statuses() {
		if st.Mapping != "" {
			addFile(st.Mapping)
		}
	}
	for _, p := range c.o.Mappings {
		fi, err := os.Stat(p)
		if err != nil {
			continue
		}
		if !fi.IsDir() {
			addFile(p)
			continue
		}
		filepath.WalkDir(p, func(path string, d fs.DirEntry, err error) error {
			if err != nil || !d.Type().IsRegular() { // a FIFO or device would hang or flood the read
				return nil
			}
			name := d.Name()
			if (strings.HasSuffix(name, ".yaml") || strings.HasSuffix(name, ".yml")) && !strings.Contains(name, "_test.") && isMapping(path) {
				addFile(path)
			}
			return nil
		})
	}
	sort.Strings(out)
	return out
}

// isMapping tells a mapping file from other YAML (tests, templates): it has
// an ocsf: section at the top level.
func isMapping(path string) bool {
	b, err := os.ReadFile(path)
	if err != nil {
		return false
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "ocsf:") {
			return true
		}
	}
	return false
}

// shortPath shows a path relative to the working folder when it is inside it.
func shortPath(p string) string {
	wd, err := os.Getwd()
	if err != nil {
		return p
	}
	if rel, err := filepath.Rel(wd, p); err == nil && !strings.HasPrefix(rel, "..") {
		return rel
	}
	return p
}
