package source

import (
	"bytes"
	"errors"
	"fmt"
	"io"
)

// nextDocument returns the next record of an input read with an envelope:
// the first element of the next document's envelope array, or the document
// itself when it has none of the envelope's keys. The document's keys are
// scanned in place, without consuming them, so a document that turns out to
// be a record is returned whole; only once an envelope array is found are
// the bytes before its first element consumed.
func (r *Reader) nextDocument() (Record, error) {
	for {
		c, ok, err := r.skipWS()
		if err != nil || !ok {
			return Record{}, orEOF(err)
		}
		if c != '{' {
			if r.format == formatNDJSON {
				return r.nextLine()
			}
			return r.value()
		}
		open, err := r.envelopeArray()
		var se *SyntaxError
		switch {
		case errors.As(err, &se) && r.format == formatNDJSON:
			// A malformed line is a bad record, as without an envelope;
			// the Extractor says what is wrong with it.
			return r.nextLine()
		case err != nil:
			return Record{}, err
		case open < 0:
			return r.value() // a document without an envelope: one record
		}
		r.consume(open + 1)
		r.inEnv, r.envState, r.envLine, r.envIndex = true, first, r.line, 0
		rec, err := r.nextEnvelopeElement()
		if err == io.EOF {
			continue // the document was only an empty envelope
		}
		return rec, err
	}
}

// envelopeArray scans the keys of the object at buf[r] and returns the offset
// of the '[' that opens the first envelope array, or -1 when the object has
// none (it is then whole in the buffer).
func (r *Reader) envelopeArray() (int, error) {
	i := 1
	for n := 0; ; n++ {
		c, j, err := r.wsAt(i)
		if err != nil {
			return 0, err
		}
		if c == '}' && n == 0 {
			return -1, nil
		}
		if c != '"' {
			return 0, r.syntaxErr(j, "invalid character "+quoteChar(c)+" looking for beginning of object key string")
		}
		end, err := r.str(j + 1)
		if err != nil {
			return 0, err
		}
		key := r.buf[r.r+j+1 : r.r+end-1]
		if c, j, err = r.wsAt(end); err != nil {
			return 0, err
		} else if c != ':' {
			return 0, r.syntaxErr(j, "invalid character "+quoteChar(c)+" after object key")
		}
		c, j, err = r.wsAt(j + 1)
		if err != nil {
			return 0, err
		}
		if c == '[' && r.isEnvelopeKey(key) {
			return j, nil
		}
		if j, err = r.valueEndAt(j); err != nil {
			return 0, err
		}
		if c, j, err = r.wsAt(j); err != nil {
			return 0, err
		}
		switch c {
		case ',':
			i = j + 1
		case '}':
			return -1, nil
		default:
			return 0, r.syntaxErr(j, "invalid character "+quoteChar(c)+" after object key:value pair")
		}
	}
}

func (r *Reader) isEnvelopeKey(key []byte) bool {
	for _, k := range r.envelope {
		if bytes.Equal(k, key) {
			return true
		}
	}
	return false
}

// nextEnvelopeElement returns the next element of the envelope array being
// read; after its ']' it skips the document's remaining keys and returns
// io.EOF: the caller goes on with the next document.
func (r *Reader) nextEnvelopeElement() (Record, error) {
	for {
		c, ok, err := r.skipWS()
		if err != nil {
			return Record{}, err
		}
		if !ok {
			return Record{}, r.syntaxErr(0, fmt.Sprintf("unexpected end of input in the envelope array that starts at line %d", r.envLine))
		}
		switch r.envState {
		case first, afterElem:
			if c == ']' {
				r.consume(1)
				if err := r.skipRestOfObject(); err != nil {
					return Record{}, err
				}
				r.inEnv = false
				return Record{}, io.EOF
			}
			if r.envState == afterElem {
				if c != ',' {
					return Record{}, r.syntaxErr(0, "invalid character "+quoteChar(c)+" after array element")
				}
				r.consume(1)
				r.envState = afterComma
				continue
			}
		}
		rec, err := r.value()
		if err != nil {
			return Record{}, err
		}
		r.envState = afterElem
		r.envIndex++
		rec.Index = r.envIndex
		return rec, nil
	}
}

// skipRestOfObject consumes the keys that follow an envelope array, up to and
// including the object's '}', one value at a time.
func (r *Reader) skipRestOfObject() error {
	for {
		c, ok, err := r.skipWS()
		if err != nil {
			return err
		}
		if !ok {
			return r.syntaxErr(0, "unexpected end of input after the envelope array")
		}
		switch c {
		case '}':
			r.consume(1)
			return nil
		case ',':
			r.consume(1)
		default:
			return r.syntaxErr(0, "invalid character "+quoteChar(c)+" after the envelope array")
		}
		c, j, err := r.wsAt(0)
		if err != nil {
			return err
		}
		if c != '"' {
			return r.syntaxErr(j, "invalid character "+quoteChar(c)+" looking for beginning of object key string")
		}
		end, err := r.str(j + 1)
		if err != nil {
			return err
		}
		if c, j, err = r.wsAt(end); err != nil {
			return err
		} else if c != ':' {
			return r.syntaxErr(j, "invalid character "+quoteChar(c)+" after object key")
		}
		if _, j, err = r.wsAt(j + 1); err != nil {
			return err
		}
		if j, err = r.valueEndAt(j); err != nil {
			return err
		}
		r.consume(j)
	}
}

// wsAt skips whitespace from buf[r+i] without consuming it and returns the
// next byte and its offset; the end of the input there is a syntax error.
func (r *Reader) wsAt(i int) (byte, int, error) {
	for {
		for ; r.r+i < r.w; i++ {
			if c := r.buf[r.r+i]; !isWS(c) {
				return c, i, nil
			}
		}
		if err := r.more(i); err != nil {
			return 0, 0, err
		}
	}
}

// valueEndAt returns the offset just past the JSON value at buf[r+i].
func (r *Reader) valueEndAt(i int) (int, error) {
	switch c := r.buf[r.r+i]; c {
	case '{', '[':
		return r.nestedAt(i)
	case '"':
		return r.str(i + 1)
	case ',', ':', '}', ']':
		return 0, r.syntaxErr(i, "invalid character "+quoteChar(c)+" looking for beginning of value")
	}
	return r.scalarAt(i)
}
