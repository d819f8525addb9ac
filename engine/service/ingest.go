package service

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"

	"github.com/ocsfmap/ocsfmap/engine/source"
)

// errTooLarge is a body over the size limit, compressed or not.
var errTooLarge = errors.New("request body too large")

// readBody appends the request body to dst, gunzipping it when it says so,
// up to limit bytes either way (a small gzip body must not inflate past the
// limit).
func readBody(w http.ResponseWriter, r *http.Request, limit int64, dst []byte) ([]byte, error) {
	body := http.MaxBytesReader(w, r.Body, limit)
	var src io.Reader = body
	switch strings.ToLower(strings.TrimSpace(r.Header.Get("Content-Encoding"))) {
	case "", "identity":
	case "gzip":
		zr, err := gzip.NewReader(body)
		if err != nil {
			return nil, tooLargeOr(err, "gzip body")
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
			dst = slices.Grow(dst, max(len(dst), 64<<10))
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
			return dst, tooLargeOr(err, "body")
		}
	}
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

func tooLargeOr(err error, what string) error {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return errTooLarge
	}
	return fmt.Errorf("read %s: %w", what, err)
}

// rejection is one part of a request that is not an alert.
type rejection struct {
	line   int // 1-based line of the body (the element's index for an array)
	reason string
	raw    []byte
}

// splitAlerts finds the alerts of a body: NDJSON, a JSON array of objects,
// or one object (which may span lines). Each alert is appended to ndjson
// compacted onto one line; what is not a JSON object is returned as a
// rejection. An array that is not valid JSON cannot be split and fails whole.
func splitAlerts(body []byte, ndjson []byte) (out []byte, alerts int, rejected []rejection, err error) {
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 {
		return ndjson, 0, nil, nil
	}
	check := checkerPool.Get().(*source.Extractor)
	defer checkerPool.Put(check)
	switch {
	case trimmed[0] == '[':
		var elems []json.RawMessage
		if err := json.Unmarshal(trimmed, &elems); err != nil {
			return ndjson, 0, nil, fmt.Errorf("the body starts a JSON array but is not valid JSON: %v", err)
		}
		for i, e := range elems {
			if err := check.Extract(e, nil); err != nil {
				rejected = append(rejected, rejection{line: i + 1, reason: "array element: " + err.Error(), raw: bytes.TrimSpace(e)})
				continue
			}
			ndjson = appendCompact(ndjson, e)
			alerts++
		}
		return ndjson, alerts, rejected, nil
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
			continue
		}
		ndjson = append(append(ndjson, l...), '\n')
		alerts++
	}
	return ndjson, alerts, rejected, nil
}

// checkerPool holds extractors that extract nothing: Extract then checks
// that a record is a JSON object exactly as the pipeline will decode it
// (and several times faster than encoding/json.Valid).
var checkerPool = sync.Pool{New: func() any { return source.NewExtractor(nil) }}

func appendCompact(dst, obj []byte) []byte {
	var b bytes.Buffer
	if err := json.Compact(&b, obj); err != nil {
		return append(append(dst, obj...), '\n') // unreachable: obj is valid JSON
	}
	return append(append(dst, b.Bytes()...), '\n')
}
