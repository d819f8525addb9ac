package service

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/ocsfmap/ocsfmap/engine/source"
)

// errTooLarge is a body over the size limit, compressed or not.
var errTooLarge = errors.New("request body too large")

// errTooSlow is a body that came slower than the minimum rate.
var errTooSlow = errors.New("request body too slow")

// readBody appends the request body to dst, gunzipping it when it says so,
// up to limit bytes either way (a small gzip body must not inflate past the
// limit). The body must come at minRate bytes a second after a grace
// period: a request holds one of its integration's slots while it is read,
// and a client trickling bytes must not hold it for minutes.
//
// room is asked before dst grows, with its new capacity (the ingest
// memory budget); its error ends the read. The time it takes does not
// count against the rate.
func readBody(w http.ResponseWriter, r *http.Request, limit, minRate int64, grace time.Duration, dst []byte, room func(capacity int) error) ([]byte, error) {
	body := &rateReader{r: http.MaxBytesReader(w, r.Body, limit), rc: http.NewResponseController(w), start: time.Now(), rate: minRate, grace: grace}
	body.extend()
	defer body.rc.SetReadDeadline(time.Time{})
	var src io.Reader = body
	switch strings.ToLower(strings.TrimSpace(r.Header.Get("Content-Encoding"))) {
	case "", "identity":
	case "gzip":
		zr, err := gzip.NewReader(body)
		if err != nil {
			return nil, body.cause(err, "gzip body")
		}
		defer zr.Close()
		src = zr
	default:
		return nil, fmt.Errorf("unsupported Content-Encoding %q (gzip or none)", r.Header.Get("Content-Encoding"))
	}
	grow := func(n int) error {
		begin := time.Now()
		if err := room(len(dst) + n); err != nil {
			return err
		}
		body.start = body.start.Add(time.Since(begin))
		dst = append(make([]byte, 0, len(dst)+n), dst...) // exactly what room was asked for
		return nil
	}
	// A small body's announced length is taken at its word; a large one's
	// grows as its bytes come (a client announcing 16 MiB and sending a
	// byte a second must not hold 16 MiB of the memory budget).
	if n := r.ContentLength + 1; r.ContentLength > 0 && n <= min(limit+1, maxPooled) && cap(dst) < int(n) {
		if err := grow(int(n)); err != nil {
			return dst, err
		}
	}
	src = io.LimitReader(src, limit+1)
	for {
		if len(dst) == cap(dst) {
			// Doubling, but never past limit+1: a body at the limit must not
			// take twice its size.
			if err := grow(max(min(len(dst), int(limit+1)-len(dst)), 64<<10)); err != nil {
				return dst, err
			}
		}
		n, err := src.Read(dst[len(dst):cap(dst)])
		dst = dst[:len(dst)+n]
		if int64(len(dst)) > limit {
			return dst, errTooLarge
		}
		if err == io.EOF {
			return dst, nil
		}
		if err != nil {
			return dst, body.cause(err, "body")
		}
	}
}

// rateReader moves the connection's read deadline forward as bytes come:
// by grace, plus one second per rate bytes read so far.
type rateReader struct {
	r     io.Reader
	rc    *http.ResponseController
	start time.Time
	n     int64
	rate  int64
	grace time.Duration
	// timedOut: the deadline passed (the error the connection returns then
	// is a timeout; the reader says it in words).
	timedOut bool
}

func (b *rateReader) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	b.n += int64(n)
	if n > 0 {
		b.extend()
	}
	if ne, ok := err.(interface{ Timeout() bool }); ok && ne.Timeout() {
		b.timedOut = true
	}
	return n, err
}

func (b *rateReader) extend() {
	if b.rate > 0 {
		// Without a deadline of its own (a test's recorder), the server's ReadTimeout applies.
		b.rc.SetReadDeadline(b.start.Add(b.grace + time.Duration(float64(b.n)/float64(b.rate)*float64(time.Second))))
	}
}

// cause names a failed read: too large, too slow, or what the reader said.
func (b *rateReader) cause(err error, what string) error {
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe):
		return errTooLarge
	case b.timedOut || errors.Is(err, os.ErrDeadlineExceeded):
		return errTooSlow
	}
	return fmt.Errorf("read %s: %w", what, err)
}

// ingestBuffers are one request's body, and its log record. Pooled: a
// request's worth of bytes (hundreds of KB) allocated afresh every time
// was most of the service's garbage.
type ingestBuffers struct{ body, rec []byte }

var bufferPool = sync.Pool{New: func() any { return new(ingestBuffers) }}

// maxPooled keeps the buffers of an unusually large request out of the
// pool, so it does not hold that memory for good (and a small request
// taking pooled buffers does not reserve much of the memory budget).
const maxPooled = 1 << 20

// requestMemory is what a request may hold once its body buffer has
// bodyCap bytes: the body, its log record (no longer than the body, plus a
// header), the record buffer it took from the pool (recCap, kept until the
// record outgrows it) and the gzip reader's state.
func requestMemory(bodyCap, recCap int64) int64 {
	return 2*bodyCap + recCap + requestOverhead
}

// requestOverhead covers a request's small buffers: the gzip reader's
// window and tables, the record header, the connection's buffers.
const requestOverhead = 64 << 10

func putBuffers(b *ingestBuffers) {
	if cap(b.body) > maxPooled || cap(b.rec) > maxPooled {
		return
	}
	bufferPool.Put(b)
}

// rejection is one part of a request that is not an alert.
type rejection struct {
	line   int // 1-based line of the body (the element's index for an array)
	reason string
	raw    []byte
}

// limits bound what one request may hold: past either, the request is
// refused whole (nothing is accepted, nothing is written), so a small
// compressed body cannot turn into millions of log or dead-letter lines.
type limits struct {
	alerts   int // alerts in one request (--max-alerts)
	rejected int // parts that are not alerts (maxRejected)
}

// maxRejected is how many parts of one request may be rejected before the
// whole request is: a client sending mostly junk gets a 400 it can read
// instead of a 202 and a dead-letter file growing by the million.
const maxRejected = 1000

// limitError is a request over one of its limits; status is the answer.
type limitError struct {
	status int
	msg    string
}

func (e *limitError) Error() string { return e.msg }

func (lim limits) check(alerts, rejected int) error {
	if lim.alerts > 0 && alerts > lim.alerts {
		return &limitError{http.StatusRequestEntityTooLarge, fmt.Sprintf("more than %d alerts in one request (--max-alerts): send them in several requests; nothing was accepted", lim.alerts)}
	}
	if lim.rejected > 0 && rejected > lim.rejected {
		return &limitError{http.StatusBadRequest, fmt.Sprintf("more than %d parts of the body are not JSON objects: is it NDJSON, a JSON array of objects or one object? nothing was accepted", lim.rejected)}
	}
	return nil
}

// splitAlerts finds the alerts of a body: NDJSON, a JSON array of objects,
// or one object (which may span lines). Each alert is appended to ndjson
// compacted onto one line; what is not a JSON object is returned as a
// rejection. An array that is not valid JSON cannot be split and fails
// whole; so does a body over lim (a *limitError).
func splitAlerts(body []byte, ndjson []byte, lim limits, envelope []string) (out []byte, alerts int, rejected []rejection, err error) {
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 {
		return ndjson, 0, nil, nil
	}
	check := checkerPool.Get().(*source.Extractor)
	defer checkerPool.Put(check)
	switch {
	case len(envelope) > 0 && trimmed[0] == '{':
		return splitEnvelopes(trimmed, ndjson, lim, check, envelope)
	case trimmed[0] == '[':
		return splitArray(trimmed, ndjson, lim, check)
	case trimmed[0] == '{' && bytes.IndexByte(trimmed, '\n') > 0 && check.Extract(trimmed, nil) == nil:
		// One object over several lines (NDJSON of two objects is not valid JSON as a whole).
		return appendCompact(ndjson, trimmed), 1, nil, nil
	}
	line := 0
	for len(body) > 0 {
		line++
		var l []byte
		if i := bytes.IndexByte(body, '\n'); i >= 0 {
			l, body = body[:i], body[i+1:]
		} else {
			l, body = body, nil
		}
		if l = bytes.TrimSpace(l); len(l) == 0 {
			continue
		}
		if err := check.Extract(l, nil); err != nil {
			rejected = append(rejected, rejection{line: line, reason: err.Error(), raw: l})
		} else {
			ndjson = append(append(ndjson, l...), '\n')
			alerts++
		}
		if err := lim.check(alerts, len(rejected)); err != nil {
			return ndjson, 0, nil, err
		}
	}
	return ndjson, alerts, rejected, nil
}

// splitEnvelopes splits a body of the documents a mapping with input.records
// reads ({"Records":[…]}, or single events, one after another): each
// element of an envelope is an alert, as it is for run, so the counts the
// status gives are the alerts delivery writes. A body whose boundaries
// cannot be found (a broken envelope) is refused whole.
func splitEnvelopes(body []byte, ndjson []byte, lim limits, check *source.Extractor, envelope []string) (out []byte, alerts int, rejected []rejection, err error) {
	start := len(ndjson)
	r := source.NewReader("body", bytes.NewReader(body))
	r.Envelope(envelope...)
	for {
		rec, err := r.Next()
		if err == io.EOF {
			return ndjson, alerts, rejected, nil
		}
		if err != nil {
			return ndjson[:start], 0, nil, fmt.Errorf("the body is not JSON documents whose records can be found: %v", err)
		}
		if err := check.Extract(rec.Raw, nil); err != nil {
			rejected = append(rejected, rejection{line: rec.Line, reason: err.Error(), raw: bytes.Clone(rec.Raw)})
		} else {
			ndjson = appendCompact(ndjson, rec.Raw)
			alerts++
		}
		if err := lim.check(alerts, len(rejected)); err != nil {
			return ndjson[:start], 0, nil, err
		}
	}
}

// splitArray takes a JSON array's elements one at a time, as slices of the
// body: memory holds nothing of an element besides the body and the log
// record, however many or large the elements are.
func splitArray(body []byte, ndjson []byte, lim limits, check *source.Extractor) (out []byte, alerts int, rejected []rejection, err error) {
	start := len(ndjson)
	invalid := func(cause string) ([]byte, int, []rejection, error) {
		return ndjson[:start], 0, nil, fmt.Errorf("the body starts a JSON array but is not valid JSON: %v", syntaxError(body, cause))
	}
	i := skipSpace(body, 1) // after '['
	if i < len(body) && body[i] == ']' {
		i++
	} else {
		for n := 1; ; n++ {
			end, ok := valueEnd(body, i)
			if !ok {
				return invalid("an array element is cut short")
			}
			e := body[i:end]
			if err := check.Extract(e, nil); err != nil {
				if !json.Valid(e) {
					return invalid("an array element is not JSON")
				}
				rejected = append(rejected, rejection{line: n, reason: "array element: " + err.Error(), raw: e})
			} else {
				ndjson = appendCompact(ndjson, e)
				alerts++
			}
			if err := lim.check(alerts, len(rejected)); err != nil {
				return ndjson[:start], 0, nil, err
			}
			if i = skipSpace(body, end); i < len(body) && body[i] == ',' {
				i = skipSpace(body, i+1)
				continue
			}
			if i < len(body) && body[i] == ']' {
				i++
				break
			}
			return invalid("an array element is not followed by ',' or ']'")
		}
	}
	if skipSpace(body, i) != len(body) {
		return invalid("data after the array's end")
	}
	return ndjson, alerts, rejected, nil
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\r' || b[i] == '\n') {
		i++
	}
	return i
}

// valueEnd finds the end of the JSON value at b[i] from its structure
// alone: strings (and their escapes), brackets by depth, a scalar up to
// the next delimiter. Whether it is valid JSON is checked apart.
func valueEnd(b []byte, i int) (end int, ok bool) {
	depth := 0
	for j := i; j < len(b); j++ {
		switch b[j] {
		case '"':
			for { // to the closing quote: one not escaped by an odd run of backslashes
				k := bytes.IndexByte(b[j+1:], '"')
				if k < 0 {
					return 0, false
				}
				j += k + 1
				bs := 0
				for b[j-1-bs] == '\\' {
					bs++
				}
				if bs%2 == 0 {
					break
				}
			}
		case '{', '[':
			depth++
			continue
		case '}', ']':
			if depth == 0 {
				return j, j > i // a scalar's end
			}
			depth--
		case ',', ' ', '\t', '\r', '\n':
			if depth == 0 {
				return j, j > i
			}
			continue
		default:
			continue
		}
		if depth == 0 {
			return j + 1, true
		}
	}
	return len(b), depth == 0 && len(b) > i
}

// syntaxError is encoding/json's account of invalid JSON (its scanner
// holds nothing of the input's size), or cause when it finds none.
func syntaxError(b []byte, cause string) error {
	var se *json.SyntaxError
	if err := json.Unmarshal(b, new(struct{})); errors.As(err, &se) {
		return se
	}
	return errors.New(cause)
}

// checkerPool holds extractors that extract nothing: Extract then checks
// that a record is a JSON object exactly as the pipeline will decode it
// (and several times faster than encoding/json.Valid).
var checkerPool = sync.Pool{New: func() any { return source.NewExtractor(nil) }}

// appendCompact appends obj on one line, compacted straight into dst.
func appendCompact(dst, obj []byte) []byte {
	if bytes.IndexAny(obj, " \t\r\n") < 0 { // compact already: most arrays' elements
		return append(append(dst, obj...), '\n')
	}
	b := bytes.NewBuffer(dst)
	if err := json.Compact(b, obj); err != nil {
		return append(append(dst, obj...), '\n') // unreachable: obj is valid JSON
	}
	return append(b.Bytes(), '\n')
}
