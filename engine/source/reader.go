package source

import (
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"os"
)

// Record is one alert as read from an input, not yet decoded.
type Record struct {
	Input string // input name: the path given to Open, "<stdin>" for "-", or NewReader's name
	Line  int    // 1-based line where the record starts
	// Index is the record's 1-based position in the envelope array that
	// holds it (see [Reader.Envelope]); 0 when it is not in an envelope.
	Index int
	// Raw holds the record's bytes without surrounding whitespace. It points
	// into the Reader's buffer and is overwritten by the next call to Next:
	// copy it (or decode it) before calling Next again.
	Raw []byte
}

// Locate returns err with the record's input name and line filled in when err
// is a *SyntaxError that lacks them (as Extract's errors do); other errors are
// returned unchanged.
func (rec Record) Locate(err error) error {
	var se *SyntaxError
	if errors.As(err, &se) && se.Input == "" {
		c := *se
		c.Input, c.Line = rec.Input, rec.Line
		return &c
	}
	return err
}

const (
	bufSize          = 256 << 10
	defaultMaxRecord = 1 << 30 // a record beyond this is a broken input, not an alert
	stdinName        = "<stdin>"
)

type format uint8

const (
	formatUnknown format = iota
	formatNDJSON         // one record per line
	formatArray          // [ rec, rec, ... ], possibly several arrays one after another
	formatStream         // JSON values one after another, each possibly spanning lines
)

// arrayState is where an array-format Reader stands between records.
type arrayState uint8

const (
	outside    arrayState = iota // before '[' or after ']'
	first                        // after '[': an element or ']'
	afterElem                    // after an element: ',' or ']'
	afterComma                   // after ',': an element
)

// Reader reads records from one input. The format is detected from the
// content, not the name: gzip by its magic bytes, then a JSON array when the
// first non-blank byte is '[', otherwise NDJSON (one record per line, blank
// lines skipped, CRLF accepted). A single object file is one record, even when
// pretty-printed over many lines: when the first line opens a value it does
// not close and ends with '{' or '[' (as pretty-printers write it), the input
// is read as a sequence of JSON values, each possibly spanning lines, instead
// of lines. (A truncated first NDJSON line that happens to end with '{' is
// then misread; the resulting *SyntaxError says where.)
//
// Next never parses a record: in NDJSON a malformed line is returned as a
// record like any other, so the Extractor rejects it and the stream goes on.
// Only where record boundaries cannot be found (a broken JSON array, a
// truncated pretty-printed object) does Next return a *SyntaxError; that error,
// like a read error, ends the input.
//
// A Reader is not safe for concurrent use.
type Reader struct {
	name string
	src  countReader // the input as stored (compressed when gzip)
	in   io.Reader   // the decoded input
	file *os.File    // closed by Close when Open opened it
	gz   *gzip.Reader

	buf  []byte
	r, w int   // buf[r:w] is read but not consumed
	off  int64 // offset of buf[r] in the decoded input
	line int   // 1-based line of buf[r]
	eof  bool
	err  error // sticky: returned by every Next after the first

	format    format
	state     arrayState
	arrayLine int
	stack     []byte // closers expected by the value being split
	maxRecord int

	envelope [][]byte   // keys whose array holds a document's records (Envelope)
	inEnv    bool       // between the '[' of an envelope array and the end of its document
	envState arrayState // where the envelope array's elements stand
	envLine  int        // line of the envelope array's '['
	envIndex int        // 1-based index of the last element returned
}

type countReader struct {
	r io.Reader
	n int64
}

func (c *countReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// Open opens the file at path, or stdin for "-". Close the Reader when done.
func Open(path string) (*Reader, error) {
	if path == "-" {
		return NewReader(stdinName, os.Stdin), nil
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err // *PathError already says "open <path>: ..."
	}
	r := NewReader(path, f)
	r.file = f
	return r, nil
}

// NewReader returns a Reader of in, named name in records and errors. The
// format is detected on the first call to Next. Close does not close in.
func NewReader(name string, in io.Reader) *Reader {
	r := &Reader{name: name, src: countReader{r: in}, line: 1, maxRecord: defaultMaxRecord}
	r.in = &r.src
	return r
}

// Envelope makes the Reader look inside each top-level JSON object for the
// first of keys (matched exactly, in the order the document has them) whose
// value is an array: the array's elements are the records, as CloudTrail's
// {"Records":[…]} and GuardDuty's {"findings":[…]} deliver them, and an empty
// array yields none. A document without any of the keys is itself one record,
// so single events (EventBridge) read the same way. The array is streamed:
// memory holds one element at a time, not the document. Top-level JSON arrays
// are not looked into: their elements are the records. Call Envelope before
// the first Next.
func (r *Reader) Envelope(keys ...string) {
	r.envelope = r.envelope[:0]
	for _, k := range keys {
		r.envelope = append(r.envelope, []byte(k))
	}
}

// Name returns the input name records carry.
func (r *Reader) Name() string { return r.name }

// Bytes returns how many bytes have been read from the input as stored
// (compressed bytes for gzip input), for progress against the file size.
func (r *Reader) Bytes() int64 { return r.src.n }

// Close releases the gzip decoder and closes the file Open opened.
func (r *Reader) Close() error {
	var err error
	if r.gz != nil {
		err = r.gz.Close()
	}
	if r.file != nil {
		if cerr := r.file.Close(); err == nil {
			err = cerr
		}
		r.file = nil
	}
	return err
}

// Next returns the next record, or io.EOF after the last one. Any other error
// ends the input: later calls return it again.
func (r *Reader) Next() (Record, error) {
	if r.err != nil {
		return Record{}, r.err
	}
	rec, err := r.next()
	if err != nil {
		r.err = err
	}
	return rec, err
}

func (r *Reader) next() (Record, error) {
	if r.format == formatUnknown {
		if err := r.detect(); err != nil {
			return Record{}, err
		}
	}
	if r.inEnv {
		if rec, err := r.nextEnvelopeElement(); err != io.EOF {
			return rec, err
		}
	}
	switch r.format {
	case formatArray:
		return r.nextElement()
	}
	if len(r.envelope) > 0 {
		return r.nextDocument()
	}
	switch r.format {
	case formatStream:
		if _, ok, err := r.skipWS(); err != nil || !ok {
			return Record{}, orEOF(err)
		}
		return r.value()
	}
	return r.nextLine()
}

func orEOF(err error) error {
	if err == nil {
		return io.EOF
	}
	return err
}

// fill reads more input into buf, keeping buf[r:w]; it reports whether any
// bytes were added (false at the end of the input).
func (r *Reader) fill() (bool, error) {
	if r.eof {
		return false, nil
	}
	if r.buf == nil {
		r.buf = make([]byte, bufSize)
	}
	if n := r.w - r.r; r.r > 0 {
		dst := r.buf
		if len(r.buf) > 4*bufSize && n < bufSize/2 {
			// Give back the memory a huge record needed (its Raw was used by now).
			dst = make([]byte, bufSize)
		}
		copy(dst, r.buf[r.r:r.w])
		r.buf, r.r, r.w = dst, 0, n
	}
	if r.w == len(r.buf) {
		if len(r.buf) >= r.maxRecord {
			return false, fmt.Errorf("%s:%d: %w (more than %d bytes)", r.name, r.line, ErrRecordTooLarge, r.maxRecord)
		}
		nb := make([]byte, min(2*len(r.buf), r.maxRecord))
		copy(nb, r.buf[:r.w])
		r.buf = nb
	}
	for {
		n, err := r.in.Read(r.buf[r.w:])
		r.w += n
		switch {
		case err == io.EOF:
			r.eof = true
			return n > 0, nil
		case err != nil:
			r.eof = true
			return false, fmt.Errorf("read %s: %w", r.name, err)
		case n > 0:
			return true, nil
		}
	}
}

// need fills until at least n bytes are buffered or the input ends.
func (r *Reader) need(n int) error {
	for r.w-r.r < n {
		if more, err := r.fill(); err != nil || !more {
			return err
		}
	}
	return nil
}

func (r *Reader) consume(n int) {
	r.line += bytes.Count(r.buf[r.r:r.r+n], nl)
	r.r += n
	r.off += int64(n)
}

var (
	nl       = []byte{'\n'}
	utf8BOM  = []byte{0xEF, 0xBB, 0xBF}
	gzipMagc = []byte{0x1f, 0x8b}
)

// detect undoes gzip, skips a UTF-8 byte order mark and picks the format.
func (r *Reader) detect() error {
	if err := r.need(len(gzipMagc)); err != nil {
		return err
	}
	if bytes.HasPrefix(r.buf[r.r:r.w], gzipMagc) {
		head := bytes.Clone(r.buf[r.r:r.w])
		zr, err := gzip.NewReader(io.MultiReader(bytes.NewReader(head), &r.src))
		if err != nil {
			return fmt.Errorf("read %s: gzip: %w", r.name, err)
		}
		r.gz, r.in = zr, zr
		r.r, r.w, r.eof = 0, 0, false
	}
	if err := r.need(len(utf8BOM)); err != nil {
		return err
	}
	if bytes.HasPrefix(r.buf[r.r:r.w], utf8BOM) {
		r.consume(len(utf8BOM))
	}
	c, ok, err := r.skipWS()
	switch {
	case err != nil:
		return err
	case ok && c == '[':
		r.format = formatArray
		return nil
	}
	r.format = formatNDJSON
	if !ok || len(r.envelope) > 0 {
		// With an envelope, documents are split as values (nextDocument),
		// so a one-line file of many megabytes is never held whole.
		return nil
	}
	n, _, err := r.lineEnd()
	if err != nil {
		return err
	}
	if opensValue(r.buf[r.r : r.r+n]) {
		r.format = formatStream
	}
	return nil
}

// opensValue reports whether line starts a JSON value it does not finish and
// ends the way a pretty-printer's first line does.
func opensValue(line []byte) bool {
	line = bytes.TrimRight(line, " \t\r")
	if len(line) == 0 {
		return false
	}
	if last := line[len(line)-1]; last != '{' && last != '[' {
		return false // pretty-printers (jq, json.dumps, MarshalIndent) end it with an opener
	}
	depth, inStr := 0, false
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case inStr && c == '\\':
			i++
		case c == '"':
			inStr = !inStr
		case inStr:
		case c == '{' || c == '[':
			depth++
		case c == '}' || c == ']':
			depth--
		}
	}
	return depth > 0 && !inStr
}

// skipWS consumes whitespace and returns the next byte; ok is false at the end.
func (r *Reader) skipWS() (c byte, ok bool, err error) {
	for {
		for r.r < r.w {
			switch c = r.buf[r.r]; c {
			case '\n':
				r.line++
				fallthrough
			case ' ', '\t', '\r':
				r.r++
				r.off++
			default:
				return c, true, nil
			}
		}
		if more, err := r.fill(); err != nil || !more {
			return 0, false, err
		}
	}
}

// lineEnd returns the length of the line at buf[r] (filling until it is whole)
// and whether it ends with a newline rather than the end of the input.
func (r *Reader) lineEnd() (n int, newline bool, err error) {
	searched := 0
	for {
		if i := bytes.IndexByte(r.buf[r.r+searched:r.w], '\n'); i >= 0 {
			return searched + i, true, nil
		}
		searched = r.w - r.r
		more, err := r.fill()
		if err != nil {
			return 0, false, err
		}
		if !more {
			return r.w - r.r, false, nil
		}
	}
}

func (r *Reader) nextLine() (Record, error) {
	for {
		n, newline, err := r.lineEnd()
		if err != nil {
			return Record{}, err
		}
		if n == 0 && !newline {
			return Record{}, io.EOF
		}
		line, lineNo := r.buf[r.r:r.r+n], r.line
		r.r += n
		r.off += int64(n)
		if newline {
			r.r++
			r.off++
			r.line++
		}
		if raw := trimWS(line); len(raw) > 0 {
			return Record{Input: r.name, Line: lineNo, Raw: raw}, nil
		}
	}
}

func trimWS(b []byte) []byte {
	for len(b) > 0 && isWS(b[0]) {
		b = b[1:]
	}
	for len(b) > 0 && isWS(b[len(b)-1]) {
		b = b[:len(b)-1]
	}
	return b
}

func isWS(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\n' }

func (r *Reader) syntaxErr(i int, msg string) error {
	return &SyntaxError{
		Input:  r.name,
		Line:   r.line + bytes.Count(r.buf[r.r:r.r+i], nl),
		Offset: r.off + int64(i),
		Msg:    msg,
	}
}

// nextElement returns the next element of a JSON array input.
func (r *Reader) nextElement() (Record, error) {
	for {
		c, ok, err := r.skipWS()
		if err != nil {
			return Record{}, err
		}
		if !ok {
			if r.state == outside {
				return Record{}, io.EOF
			}
			return Record{}, r.syntaxErr(0, fmt.Sprintf("unexpected end of input in the JSON array that starts at line %d", r.arrayLine))
		}
		switch r.state {
		case outside:
			if c != '[' {
				return Record{}, r.syntaxErr(0, "invalid character "+quoteChar(c)+" after top-level array")
			}
			r.arrayLine = r.line
			r.consume(1)
			r.state = first
			continue
		case first, afterElem:
			if c == ']' {
				r.consume(1)
				r.state = outside
				continue
			}
			if r.state == afterElem {
				if c != ',' {
					return Record{}, r.syntaxErr(0, "invalid character "+quoteChar(c)+" after array element")
				}
				r.consume(1)
				r.state = afterComma
				continue
			}
		}
		rec, err := r.value()
		if err == nil {
			r.state = afterElem
		}
		return rec, err
	}
}

// value splits off the JSON value at buf[r] (a non-blank byte) without
// parsing it: it tracks strings and brackets only, and the Extractor checks
// the rest.
func (r *Reader) value() (Record, error) {
	var n int
	var err error
	switch c := r.buf[r.r]; c {
	case '{', '[':
		n, err = r.nested()
	case '"':
		n, err = r.str(1)
	case ',', ':', '}', ']':
		return Record{}, r.syntaxErr(0, "invalid character "+quoteChar(c)+" looking for beginning of value")
	default:
		n, err = r.scalar()
	}
	if err != nil {
		return Record{}, err
	}
	rec := Record{Input: r.name, Line: r.line, Raw: r.buf[r.r : r.r+n]}
	r.consume(n)
	return rec, nil
}

// nested returns the length of the object or array at buf[r].
func (r *Reader) nested() (int, error) { return r.nestedAt(0) }

// nestedAt returns the offset just past the object or array at buf[r+start].
func (r *Reader) nestedAt(start int) (int, error) {
	stack := append(r.stack[:0], closer(r.buf[r.r+start]))
	defer func() { r.stack = stack[:0] }()
	i := start + 1
	for {
		for r.r+i < r.w {
			switch c := r.buf[r.r+i]; c {
			case '"':
				n, err := r.str(i + 1)
				if err != nil {
					return 0, err
				}
				i = n
				continue
			case '{', '[':
				stack = append(stack, closer(c))
			case '}', ']':
				if want := stack[len(stack)-1]; c != want {
					return 0, r.syntaxErr(i, "invalid character "+quoteChar(c)+" where "+quoteChar(want)+" should close the value")
				}
				if stack = stack[:len(stack)-1]; len(stack) == 0 {
					return i + 1, nil
				}
			}
			i++
		}
		if err := r.more(i); err != nil {
			return 0, err
		}
	}
}

func closer(c byte) byte {
	if c == '{' {
		return '}'
	}
	return ']'
}

// str returns the offset just past the closing quote of the string whose
// content starts at buf[r+start].
func (r *Reader) str(start int) (int, error) {
	i := start
	for {
		if j := bytes.IndexByte(r.buf[r.r+i:r.w], '"'); j >= 0 {
			q := r.r + i + j
			k := q
			for k > r.r+start && r.buf[k-1] == '\\' {
				k--
			}
			if (q-k)%2 == 0 { // not escaped
				return q - r.r + 1, nil
			}
			i += j + 1
			continue
		}
		i = r.w - r.r
		if err := r.more(i); err != nil {
			return 0, err
		}
	}
}

// scalar returns the length of the number or literal at buf[r].
func (r *Reader) scalar() (int, error) { return r.scalarAt(0) }

// scalarAt returns the offset just past the number or literal at buf[r+start].
func (r *Reader) scalarAt(start int) (int, error) {
	i := start
	for {
		for ; r.r+i < r.w; i++ {
			switch r.buf[r.r+i] {
			case ' ', '\t', '\r', '\n', ',', ':', '[', ']', '{', '}', '"':
				return i, nil
			}
		}
		more, err := r.fill()
		if err != nil {
			return 0, err
		}
		if !more {
			return i, nil
		}
	}
}

// more fills the buffer in the middle of a value of i bytes so far.
func (r *Reader) more(i int) error {
	more, err := r.fill()
	if err != nil {
		return err
	}
	if !more {
		return r.syntaxErr(i, fmt.Sprintf("unexpected end of input in the value that starts at line %d", r.line))
	}
	return nil
}
