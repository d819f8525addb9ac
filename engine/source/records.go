package source

import (
	"bytes"
	"io"
)

// Records is a pull iterator over one input's records, in the manner of
// Prometheus' WAL LiveReader:
//
//	for recs.Next() {
//		use(recs.Record()) // valid until the next call to Next
//	}
//	if err := recs.Err(); err != nil { … }
//
// Whatever the input — a file, stdin, an SQS body, the write-ahead log —
// records come out already split, and nothing is copied on the way.
type Records interface {
	// Next advances to the next record: false at the end of the input or
	// on an error, which Err then returns.
	Next() bool
	// Record is the current record's bytes, without surrounding blanks.
	// They point into the iterator's buffer: copy them to keep them.
	Record() []byte
	// Where is the current record's 1-based line and its 1-based index in
	// the envelope array that holds it (0 when it is in none), for dead
	// letters.
	Where() (line, index int)
	// Bytes is how many bytes of the input have been read so far.
	Bytes() int64
	Err() error
	Close() error
}

// Stream is the Records of a byte stream, split by a Reader (format
// detected from the content: NDJSON, arrays, pretty-printed objects,
// envelopes, gzip).
type Stream struct {
	r   *Reader
	rec Record
	err error
}

// NewStream returns the records of in, named name in records and errors.
// Close does not close in.
func NewStream(name string, in io.Reader) *Stream { return &Stream{r: NewReader(name, in)} }

// OpenStream opens the records of the file at path, or stdin for "-".
func OpenStream(path string) (*Stream, error) {
	r, err := Open(path)
	if err != nil {
		return nil, err
	}
	return &Stream{r: r}, nil
}

// BytesStream returns the records held in b (an SQS message's body, say).
func BytesStream(name string, b []byte) *Stream { return NewStream(name, bytes.NewReader(b)) }

// Envelope looks for records inside documents' arrays under keys (see
// Reader.Envelope); call it before the first Next.
func (s *Stream) Envelope(keys ...string) { s.r.Envelope(keys...) }

func (s *Stream) Next() bool {
	if s.err != nil {
		return false
	}
	rec, err := s.r.Next()
	if err != nil {
		if err != io.EOF {
			s.err = err
		}
		s.rec = Record{}
		return false
	}
	s.rec = rec
	return true
}

func (s *Stream) Record() []byte           { return s.rec.Raw }
func (s *Stream) Where() (line, index int) { return s.rec.Line, s.rec.Index }
func (s *Stream) Bytes() int64             { return s.r.Bytes() }
func (s *Stream) Err() error               { return s.err }
func (s *Stream) Close() error             { return s.r.Close() }

// Lines is the Records of data that holds one record per line, each
// line ending in '\n', as an input already split and stored (a log record
// of accepted alerts) keeps them: lines are cut at their newline, never
// scanned as JSON again.
type Lines struct {
	data      []byte
	off, line int
	rec       []byte
	n         int64
}

// NewLines returns the lines of data.
func NewLines(data []byte) *Lines { return &Lines{data: data} }

func (l *Lines) Next() bool {
	if l.off >= len(l.data) {
		return false
	}
	rest := l.data[l.off:]
	end := bytes.IndexByte(rest, '\n')
	if end < 0 {
		end = len(rest)
	}
	l.rec = rest[:end]
	l.off += min(end+1, len(rest))
	l.n = int64(l.off)
	l.line++
	return true
}

func (l *Lines) Record() []byte           { return l.rec }
func (l *Lines) Where() (line, index int) { return l.line, 0 }
func (l *Lines) Bytes() int64             { return l.n }
func (l *Lines) Err() error               { return nil }
func (l *Lines) Close() error             { return nil }
