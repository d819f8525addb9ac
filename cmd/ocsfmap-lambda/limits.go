package main

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"slices"

	"github.com/ocsfmap/ocsfmap/engine/source"
)

// What the function reads is bounded whatever an event names: only the
// staging buckets the configuration lists (OCSFMAP_STAGING_BUCKETS), at
// most MaxObject bytes of an object (stored, and again once decompressed),
// and at most MaxRecord bytes without a record ending. A 292 KB gzip object
// holding one 300 MB line took 1.15 GB through the reader before: now it
// fails its own message, and the function lives on.
const (
	defaultMaxObject = 512 << 20
	defaultMaxRecord = 16 << 20
)

// errObjectTooLarge is an object over MaxObject, stored or decompressed.
var errObjectTooLarge = errors.New("object too large")

// stagingBucket tells whether the configuration names bucket as one alert
// files are dropped in.
func (c config) stagingBucket(bucket string) bool {
	return slices.Contains(c.StagingBuckets, bucket)
}

// limitedInput reads an input (an SQS body, a fetched object) as the
// engine will, decompressing gzip itself, and fails it with
// source.ErrRecordTooLarge once maxRecord bytes go by without a record's
// end, or errObjectTooLarge past maxObject bytes in all.
type limitedInput struct {
	name      string
	src       io.Reader
	closer    io.Closer
	gz        *gzip.Reader
	started   bool
	maxRecord int64
	maxObject int64

	total int64
	rec   recordEnds
}

func newLimitedInput(name string, rc io.ReadCloser, maxRecord, maxObject int64) *limitedInput {
	return &limitedInput{name: name, src: rc, closer: rc, maxRecord: maxRecord, maxObject: maxObject, rec: recordEnds{limit: maxRecord}}
}

func (l *limitedInput) Read(p []byte) (int, error) {
	if !l.started {
		l.started = true
		br := bufio.NewReader(l.src)
		l.src = br
		if magic, _ := br.Peek(2); bytes.Equal(magic, []byte{0x1f, 0x8b}) {
			zr, err := gzip.NewReader(br)
			if err != nil {
				return 0, fmt.Errorf("read %s: gzip: %w", l.name, err)
			}
			l.gz, l.src = zr, zr
			inner := bufio.NewReader(zr)
			if magic, _ := inner.Peek(2); bytes.Equal(magic, []byte{0x1f, 0x8b}) {
				// The engine would decompress the inner one, past these limits.
				return 0, fmt.Errorf("read %s: gzip inside gzip: %w", l.name, gzip.ErrHeader)
			}
			l.src = inner
		}
	}
	n, err := l.src.Read(p)
	l.total += int64(n)
	if l.total > l.maxObject {
		return 0, fmt.Errorf("%s: %w: more than %d bytes (OCSFMAP_MAX_OBJECT)", l.name, errObjectTooLarge, l.maxObject)
	}
	if l.rec.feed(p[:n]); l.rec.over {
		return 0, fmt.Errorf("%s: %w: more than %d bytes without a record's end (OCSFMAP_MAX_RECORD)", l.name, source.ErrRecordTooLarge, l.maxRecord)
	}
	return n, err
}

func (l *limitedInput) Close() error {
	if l.gz != nil {
		l.gz.Close()
	}
	return l.closer.Close()
}

// recordEnds follows where records end as engine/source reads them: lines
// (NDJSON), elements of a top-level array, or JSON values one after another
// when the first line opens one (pretty-printed). run is the bytes since
// the last end; over is set once a run passed limit.
type recordEnds struct {
	limit int64
	mode  byte // 0 undecided, 'n' NDJSON, 'a' array, 's' stream
	seen  bool // a byte of the first line that is not blank
	last  byte // the first line's last byte that is not blank
	depth int
	str   bool
	esc   bool
	run   int64
	over  bool
}

func (r *recordEnds) grow(n int64) {
	r.run += n
	r.over = r.over || r.run > r.limit
}

// feed takes the next bytes.
func (r *recordEnds) feed(b []byte) {
	for len(b) > 0 && !r.over {
		switch r.mode {
		case 0:
			b = r.decide(b)
			continue
		case 'n': // lines: only newlines matter
			i := bytes.IndexByte(b, '\n')
			if i < 0 {
				r.grow(int64(len(b)))
				return
			}
			r.grow(int64(i))
			r.run, b = 0, b[i+1:]
			continue
		}
		c := b[0]
		b = b[1:]
		r.grow(1)
		r.structure(c)
	}
}

// structure follows one byte of an array or a stream of values.
func (r *recordEnds) structure(c byte) {
	switch {
	case r.str:
		if r.esc {
			r.esc = false
		} else if c == '\\' {
			r.esc = true
		} else if c == '"' {
			r.str = false
		}
	case c == '"':
		r.str = true
	case c == '{' || c == '[':
		r.depth++
	case c == '}' || c == ']':
		if r.depth > 0 {
			r.depth--
		}
		if r.depth == 0 {
			r.run = 0
		}
	case c == ',' && r.mode == 'a' && r.depth == 1:
		r.run = 0
	case c == '\n' && r.mode == 's' && r.depth == 0:
		r.run = 0
	}
}

// decide follows the first line to tell the format: a leading '[' is an
// array; a line ending with an opener starts a stream of values; any
// other is NDJSON. The line counts as a run.
func (r *recordEnds) decide(b []byte) []byte {
	for i, c := range b {
		r.grow(1)
		if r.over {
			return nil
		}
		switch {
		case c == '[' && !r.seen:
			r.mode, r.depth = 'a', 1
			return b[i+1:]
		case c == '\n':
			if r.last == '{' || r.last == '[' {
				r.mode = 's' // its structure is followed already
				return b[i+1:]
			}
			r.mode = 'n'
			r.run, r.depth, r.str, r.esc = 0, 0, false, false
			return b[i+1:]
		}
		r.structure(c)
		switch c {
		case ' ', '\t', '\r':
		case 0xef, 0xbb, 0xbf: // a byte-order mark
			if r.seen {
				r.last = c
			}
		default:
			r.seen, r.last = true, c
		}
	}
	return nil
}
