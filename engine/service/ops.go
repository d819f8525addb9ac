package service

import (
	"fmt"
	"net/http"
	"strings"
	"time"
)

// The operations endpoints. /healthz says only that the process answers.
// /readyz and /metrics name the integrations and rules, count their alerts
// and quote the log's errors (paths included), so the public listener
// shows them only to a caller with an ingest token: anonymously /readyz
// says ready or not, and /metrics answers 401. OpsHandler serves them
// whole for a listener of their own (serve --metrics-addr), one a
// Prometheus and a readiness probe reach and the Internet does not.

// OpsHandler serves /healthz, /readyz and /metrics in full, without a
// token: mount it on a private listener only.
func (s *Service) OpsHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", healthz)
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) { s.writeReadiness(w, true) })
	mux.Handle("GET /metrics", s.met.handler())
	return mux
}

func healthz(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "alive"})
}

// readyz is /readyz on the public listener: the problems only for a
// caller with an ingest token.
func (s *Service) readyz(w http.ResponseWriter, r *http.Request) {
	token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	s.writeReadiness(w, ok && validToken(strings.TrimSpace(token), s.cfg.IngestTokens))
}

// writeReadiness answers 200 when every log is writable and every
// integration loaded, else 503; detail lists the problems.
func (s *Service) writeReadiness(w http.ResponseWriter, detail bool) {
	problems := s.readiness()
	switch {
	case len(problems) == 0:
		writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
	case detail:
		writeJSON(w, http.StatusServiceUnavailable, map[string]any{"status": "not ready", "problems": problems})
	default:
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "not ready"})
	}
}

// readiness lists what keeps the service from being ready.
func (s *Service) readiness() []string {
	var problems []string
	if !s.Accepting() {
		problems = append(problems, "stopping")
	}
	for _, n := range s.names() {
		in := s.lookup(n)
		if msg := in.walErr.Load(); msg != nil {
			problems = append(problems, fmt.Sprintf("%s: write-ahead log: %s", n, *msg))
		}
		if msg := in.configErr.Load(); msg != nil {
			problems = append(problems, fmt.Sprintf("%s: configuration not reloaded (the previous one runs)", n))
		}
	}
	return problems
}

// authFailDelay is what a request with a wrong token waits for its 401.
const authFailDelay = 200 * time.Millisecond
