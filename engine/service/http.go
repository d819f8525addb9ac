package service

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/ocsfmap/ocsfmap/engine"
	"github.com/ocsfmap/ocsfmap/engine/store"
	"github.com/ocsfmap/ocsfmap/engine/wal"
)

// maxKeyLen bounds an Idempotency-Key.
const maxKeyLen = 256

// retryAfter is what a client is told to wait when the log is full or the
// service is stopping.
const retryAfter = "5"

// Handler serves the HTTP API (docs/serve.md):
//
//	POST /v1/integrations/{name}/alerts           ingest (Bearer token)
//	GET  /v1/integrations, /v1/integrations/{name} status (Bearer token)
//	GET  /healthz, /readyz (problems listed with a Bearer token)
//	GET  /metrics                                  (Bearer token; see OpsHandler)
//
// Test Connection is the console's (admin token, rate-limited): an ingest
// token does not run it.
func (s *Service) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("POST /v1/integrations/{name}/alerts", s.auth(s.ingest))
	mux.Handle("GET /v1/integrations", s.auth(s.list))
	mux.Handle("GET /v1/integrations/{name}", s.auth(s.one))
	mux.HandleFunc("GET /healthz", healthz)
	mux.HandleFunc("GET /readyz", s.readyz)
	mux.Handle("GET /metrics", s.auth(s.met.handler().ServeHTTP))
	return mux
}

// auth lets a request through only with a valid Bearer token; nothing is
// read or written for one without.
func (s *Service) auth(h http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || !validToken(strings.TrimSpace(token), s.cfg.IngestTokens) {
			time.Sleep(authFailDelay) // a guess costs a little
			w.Header().Set("WWW-Authenticate", `Bearer realm="ocsfmap"`)
			writeError(w, http.StatusUnauthorized, "a valid ingest token is required (Authorization: Bearer TOKEN)")
			return
		}
		h(w, r)
	})
}

// IngestResponse is the 202's body.
type IngestResponse struct {
	Integration string `json:"integration"`
	Accepted    int    `json:"accepted"`
	Rejected    int    `json:"rejected"`
	// Replayed: the Idempotency-Key was accepted before; nothing new was ingested.
	Replayed bool `json:"replayed,omitempty"`
}

func (s *Service) ingest(w http.ResponseWriter, r *http.Request) {
	begin := time.Now()
	in := s.lookup(r.PathValue("name"))
	if in == nil {
		writeError(w, http.StatusNotFound, fmt.Sprintf("no integration named %q", r.PathValue("name")))
		return
	}
	if !s.Accepting() {
		w.Header().Set("Retry-After", retryAfter)
		writeError(w, http.StatusServiceUnavailable, "the service is stopping; retry against the next instance")
		return
	}
	if in.cfg.Load().integ.Disabled { // enabled: false (the console's Disable): what was accepted is still delivered
		writeError(w, http.StatusConflict, fmt.Sprintf("integration %q is disabled (enabled: false in %s)", in.name, in.file))
		return
	}
	// Slots are the integration's own: clients of one integration, however
	// many or slow, cannot make another's wait.
	t := time.NewTimer(s.cfg.IngestWait)
	select {
	case in.slots <- struct{}{}:
		t.Stop()
		defer func() { <-in.slots }()
	case <-t.C:
		w.Header().Set("Retry-After", retryAfter)
		writeError(w, http.StatusServiceUnavailable, "too many requests at once for this integration; retry later")
		return
	case <-r.Context().Done():
		t.Stop()
		return
	}
	key := r.Header.Get("Idempotency-Key")
	if len(key) > maxKeyLen {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("Idempotency-Key longer than %d bytes", maxKeyLen))
		return
	}
	if key != "" {
		prev, done := in.keys.begin(key)
		if done {
			writeJSON(w, http.StatusAccepted, IngestResponse{Integration: in.name, Accepted: prev.Accepted, Rejected: prev.Rejected, Replayed: true})
			return
		}
	}
	resp, status, err := s.accept(r, w, in, key)
	if key != "" {
		in.keys.finish(key, response{Accepted: resp.Accepted, Rejected: resp.Rejected}, status == http.StatusAccepted)
	}
	s.met.observeIngest(in.name, status, time.Since(begin))
	if err != nil {
		if status == http.StatusServiceUnavailable {
			w.Header().Set("Retry-After", retryAfter)
		}
		writeError(w, status, err.Error())
		return
	}
	writeJSON(w, status, resp)
}

// accept reads, splits and logs one request; the status says how it went.
func (s *Service) accept(r *http.Request, w http.ResponseWriter, in *integration, key string) (IngestResponse, int, error) {
	if in.overBudget(0) { // refused before its body is read
		return IngestResponse{}, http.StatusServiceUnavailable, errBudget
	}
	// The request's buffers are counted in the ingest memory budget before
	// they grow; they go back to the pool once it is given back (deferred
	// calls run last first).
	bufs := bufferPool.Get().(*ingestBuffers)
	defer putBuffers(bufs)
	res := &reservation{m: s.mem, ctx: r.Context(), wait: s.cfg.MemoryWait}
	defer res.release()
	recCap := int64(cap(bufs.rec))
	room := func(bodyCap int) error { return res.ensure(requestMemory(int64(bodyCap), recCap)) }
	if err := room(cap(bufs.body)); err != nil {
		return IngestResponse{}, http.StatusServiceUnavailable, err
	}
	body, err := readBody(w, r, s.cfg.MaxBody, s.cfg.MinReadRate, s.cfg.BodyGrace, bufs.body[:0], room)
	bufs.body = body
	switch {
	case errors.Is(err, errMemory):
		return IngestResponse{}, http.StatusServiceUnavailable, err
	case errors.Is(err, errTooLarge):
		return IngestResponse{}, http.StatusRequestEntityTooLarge, fmt.Errorf("request body over %d bytes (--max-body)", s.cfg.MaxBody)
	case errors.Is(err, errTooSlow):
		return IngestResponse{}, http.StatusRequestTimeout, fmt.Errorf("the body came slower than %d bytes/s (--min-read-rate): the request was cut", s.cfg.MinReadRate)
	case err != nil:
		return IngestResponse{}, http.StatusBadRequest, err
	}
	// The alerts go straight after the log record's header.
	now := time.Now()
	b := &batch{key: key, accepted: now}
	// Room for every alert of the body (they are no longer than their
	// lines or elements), allocated exactly: requestMemory counts it.
	rec, at := b.appendHeader(bufs.rec[:0])
	if need := len(rec) + len(body) + 1; cap(rec) < need {
		rec = append(make([]byte, 0, need), rec...)
	}
	rec, alerts, rejected, err := splitAlerts(body, rec, limits{alerts: s.cfg.MaxAlerts, rejected: maxRejected}, in.cfg.Load().mapping.Plan.Envelope)
	bufs.rec = rec
	var le *limitError
	if errors.As(err, &le) {
		return IngestResponse{}, le.status, err
	}
	if err != nil {
		return IngestResponse{}, http.StatusBadRequest, err
	}
	if len(rejected) > 0 { // their dead letters, before anything is accepted
		if err := res.ensure(res.n + in.rejects.writeMemory(len(rejected))); err != nil {
			return IngestResponse{}, http.StatusServiceUnavailable, err
		}
	}
	if in.overBudget(int64(len(rec))) {
		return IngestResponse{}, http.StatusServiceUnavailable, errBudget
	}
	b.alerts, b.rejected = alerts, len(rejected)
	setCounts(rec[at:], b.alerts, b.rejected)
	ndjson := rec[at+8:]
	if alerts > 0 || key != "" {
		// The body is read: a client gone now does not undo the request
		// (its retry with the key is answered from the log).
		if err := in.accept(context.WithoutCancel(r.Context()), b, rec); err != nil {
			if errors.Is(err, wal.ErrFull) {
				return IngestResponse{}, http.StatusServiceUnavailable, errors.New("the write-ahead log is full: delivery is behind; retry later")
			}
			msg := err.Error()
			in.walErr.Store(&msg)
			in.log.Error("cannot write the write-ahead log", "err", err)
			return IngestResponse{}, http.StatusServiceUnavailable, errors.New("alerts not accepted: the write-ahead log cannot be written")
		}
		in.walErr.Store(nil)
	} else {
		in.rejected.Add(int64(len(rejected)))
	}
	in.keepRecent(now, ndjson)
	if len(rejected) > 0 {
		in.writeRejected("POST "+r.URL.Path, rejected)
	}
	return IngestResponse{Integration: in.name, Accepted: alerts, Rejected: len(rejected)}, http.StatusAccepted, nil
}

// writeRejected dead-letters a request's rejected lines, each keeping at
// most maxStoredRaw of its bytes and all of them rawRoom.
// The request is accepted already: a failed write is logged, not answered.
func (in *integration) writeRejected(input string, rejected []rejection) {
	ds := make([]*engine.DeadLetter, len(rejected))
	room := in.rejects.rawRoom()
	for i, rj := range rejected {
		d := &engine.DeadLetter{Input: input, Line: rj.line, Code: "R400", Reason: rj.reason}
		keep := min(len(rj.raw), maxStoredRaw, room)
		d.SetRawUpTo(rj.raw, keep)
		room -= keep
		ds[i] = d
	}
	if err := in.rejects.write(ds); err != nil {
		in.log.Error("cannot write rejected lines", "lines", len(ds), "err", err)
	}
}

// keepRecent keeps the last few alerts of a request for the console, in
// the order they came. An alert over maxRecentAlert is not kept (cut, it
// would no longer be JSON for the rule previews): the ring holds at most
// recentAlerts × maxRecentAlert bytes.
func (in *integration) keepRecent(at time.Time, ndjson []byte) {
	const perRequest = 5
	start, lines := len(ndjson), 0
	for start > 0 && lines < perRequest {
		start = bytes.LastIndexByte(ndjson[:start-1], '\n') + 1
		lines++
	}
	for _, l := range bytes.Split(bytes.TrimSuffix(ndjson[start:], []byte{'\n'}), []byte{'\n'}) {
		if len(l) > 0 && len(l) <= maxRecentAlert {
			in.recent.add(at, l)
		}
	}
}

func (s *Service) list(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{"integrations": s.Statuses()})
}

func (s *Service) one(w http.ResponseWriter, r *http.Request) {
	st, ok := s.Status(r.PathValue("name"))
	if !ok {
		writeError(w, http.StatusNotFound, fmt.Sprintf("no integration named %q", r.PathValue("name")))
		return
	}
	writeJSON(w, http.StatusOK, st)
}

// ConnectionResult is a Test Connection's outcome, in words: the checks
// that passed, and the failure with its kind (role-refused, no-such-bucket,
// wrong-region, access-denied, unreachable …). It holds no credential.
type ConnectionResult struct {
	Time  time.Time `json:"time"`
	OK    bool      `json:"ok"`
	Steps []string  `json:"steps"`
	Error string    `json:"error,omitempty"`
	Kind  string    `json:"kind,omitempty"`
}

// CheckConnection runs `ocsfmap connect`'s checks against o: assume the
// role with the External ID, reach the bucket in its region, and with
// writeProbe put and delete a small object under prefix.
func CheckConnection(ctx context.Context, o store.S3Options, prefix string, writeProbe bool) (ConnectionResult, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	res := ConnectionResult{Time: time.Now().UTC()}
	dst, err := store.NewS3(ctx, o)
	if err == nil {
		var rep store.ConnectReport
		rep, err = dst.Connect(ctx, prefix, writeProbe)
		res.Steps = rep.Steps
	}
	res.OK = err == nil
	if err != nil {
		res.Error = err.Error()
		if k := store.KindOf(err); k != 0 {
			res.Kind = k.String()
		}
	}
	return res, err
}

// TestConnection checks the named integration's connection and records the
// outcome in its status, as the Integrations page's Test Connection does.
func (s *Service) TestConnection(ctx context.Context, name string, writeProbe bool) (ConnectionResult, error) {
	in := s.lookup(name)
	if in == nil {
		return ConnectionResult{}, fmt.Errorf("no integration named %q", name)
	}
	integ := in.cfg.Load().integ
	var res ConnectionResult
	var err error
	for _, t := range integ.Targets() { // each class's custom source, through its own role
		if res, err = CheckConnection(ctx, t.S3, t.KeyPrefix, writeProbe); err != nil {
			break
		}
	}
	if rerr := store.RecordCheck(integ.StateDir, err); rerr != nil {
		in.log.Warn("could not record the connection test", "err", rerr)
	}
	return res, nil
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.Encode(v)
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"error": msg})
}
