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
	"slices"
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
func readBody(w http.ResponseWriter, r *http.Request, limit, minRate int64, grace time.Duration, dst []byte) ([]byte, error) {
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
	if r.ContentLength > 0 && r.ContentLength <= limit {
		dst = slices.Grow(dst, int(r.ContentLength)+1)
	}
	src = io.LimitReader(src, limit+1)
	for {
		if len(dst) == cap(dst) {
			// Doubling, but never past limit+1: a body at the limit must not
			// take twice its size.
			dst = slices.Grow(dst, max(min(len(dst), int(limit+1)-len(dst)), 64<<10))
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
// pool, so it does not hold that memory for good.
const maxPooled = 4 << 20

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
func splitAlerts(body []byte, ndjson []byte, lim limits) (out []byte, alerts int, rejected []rejection, err error) {
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 {
		return ndjson, 0, nil, nil
	}
	check := checkerPool.Get().(*source.Extractor)
	defer checkerPool.Put(check)
	switch {
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

// splitArray takes a JSON array's elements one at a time: memory holds one
// element besides the body, however many there are.
func splitArray(body []byte, ndjson []byte, lim limits, check *source.Extractor) (out []byte, alerts int, rejected []rejection, err error) {
	start := len(ndjson)
	invalid := func(err error) ([]byte, int, []rejection, error) {
		return ndjson[:start], 0, nil, fmt.Errorf("the body starts a JSON array but is not valid JSON: %v", err)
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	if _, err := dec.Token(); err != nil { // '['
		return invalid(err)
	}
	var e json.RawMessage
	for i := 1; dec.More(); i++ {
		e = e[:0]
		if err := dec.Decode(&e); err != nil {
			return invalid(err)
		}
		if err := check.Extract(e, nil); err != nil {
			rejected = append(rejected, rejection{line: i, reason: "array element: " + err.Error(), raw: bytes.Clone(bytes.TrimSpace(e))})
		} else {
			ndjson = appendCompact(ndjson, e)
			alerts++
		}
		if err := lim.check(alerts, len(rejected)); err != nil {
			return ndjson[:start], 0, nil, err
		}
	}
	if _, err := dec.Token(); err != nil { // ']'
		return invalid(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return invalid(errors.New("data after the array's end"))
	}
	return ndjson, alerts, rejected, nil
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
