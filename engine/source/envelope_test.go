package source

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
	"testing"
	"testing/iotest"
)

// erec is a record as the envelope tests expect it: line, index and raw text.
type erec struct {
	Line, Index int
	Raw         string
}

func TestReaderEnvelope(t *testing.T) {
	keys := []string{"Records", "findings", "Findings"}
	tests := []struct {
		name string
		in   string
		want []erec
		err  string // substring of the *SyntaxError that ends the input; "" for io.EOF
	}{
		{"cloudtrail file, one line", `{"Records":[{"a":1},{"b":[2]}]}`, []erec{{1, 1, `{"a":1}`}, {1, 2, `{"b":[2]}`}}, ""},
		{"keys before and after the array", "{\"x\":{\"Records\":\"no\"},\"n\":-1.5,\n \"Records\": [\n  {\"a\":\"]\"},\n  {\"b\":2}\n ],\n \"z\":[1,{}], \"t\":true}\n",
			[]erec{{3, 1, `{"a":"]"}`}, {4, 2, `{"b":2}`}}, ""},
		{"empty envelope is no record", "{\"findings\":[]}\n{\"Findings\" : [ ] }", nil, ""},
		{"second key of the list", `{"Findings":[{"id":"f1"}]}`, []erec{{1, 1, `{"id":"f1"}`}}, ""},
		{"the first envelope key wins", `{"findings":[{"id":1}],"Findings":[{"id":2}]}`, []erec{{1, 1, `{"id":1}`}}, ""},
		{"single events are records", "{\"eventName\":\"ConsoleLogin\"}\n{\"detail\":{\"id\":\"x\"}}\n", []erec{{1, 0, `{"eventName":"ConsoleLogin"}`}, {2, 0, `{"detail":{"id":"x"}}`}}, ""},
		{"an envelope key that holds no array", `{"Records":{"a":1}}`, []erec{{1, 0, `{"Records":{"a":1}}`}}, ""},
		{"keys are matched exactly", `{"records":[{"a":1}]}`, []erec{{1, 0, `{"records":[{"a":1}]}`}}, ""},
		{"envelopes and events mixed", "{\"Records\":[{\"a\":1}]}\n{\"e\":2}\n{\"Records\":[{\"c\":3},{\"d\":4}]}",
			[]erec{{1, 1, `{"a":1}`}, {2, 0, `{"e":2}`}, {3, 1, `{"c":3}`}, {3, 2, `{"d":4}`}}, ""},
		{"pretty single event", "{\n  \"a\": 1\n}\n", []erec{{1, 0, "{\n  \"a\": 1\n}"}}, ""},
		{"malformed line is a bad record", "{\"Records\":[{\"a\":1}]}\n{bad\n{\"e\":2}\n", []erec{{1, 1, `{"a":1}`}, {2, 0, `{bad`}, {3, 0, `{"e":2}`}}, ""},
		{"a bad element is a record", `{"Records":[{"a":tru},{"b":2}]}`, []erec{{1, 1, `{"a":tru}`}, {1, 2, `{"b":2}`}}, ""},
		{"truncated envelope", "{\"Records\":[{\"a\":1},\n{\"b\":", []erec{{1, 1, `{"a":1}`}}, "unexpected end of input in the value that starts at line 2"},
		{"unclosed envelope array", "{\"Records\":[{\"a\":1}", []erec{{1, 1, `{"a":1}`}}, "unexpected end of input in the envelope array that starts at line 1"},
		{"missing comma in the envelope", `{"Records":[{"a":1} {"b":2}]}`, []erec{{1, 1, `{"a":1}`}}, "invalid character '{' after array element"},
		{"garbage after the envelope array", `{"Records":[{"a":1}] x}`, []erec{{1, 1, `{"a":1}`}}, "invalid character 'x' after the envelope array"},
		{"top-level arrays are not looked into", `[{"Records":[{"a":1}]}]`, []erec{{1, 0, `{"Records":[{"a":1}]}`}}, ""},
	}
	readers := map[string]func(io.Reader) io.Reader{
		"whole":   func(r io.Reader) io.Reader { return r },
		"onebyte": iotest.OneByteReader,
		"half":    iotest.HalfReader,
		"gzip":    gzipped,
	}
	for _, tc := range tests {
		for rname, wrap := range readers {
			t.Run(tc.name+"/"+rname, func(t *testing.T) {
				r := NewReader("env", wrap(strings.NewReader(tc.in)))
				r.Envelope(keys...)
				var got []erec
				var err error
				for {
					var rc Record
					if rc, err = r.Next(); err != nil {
						break
					}
					got = append(got, erec{rc.Line, rc.Index, string(rc.Raw)})
				}
				if !reflect.DeepEqual(got, tc.want) {
					t.Errorf("records\n got  %+v\n want %+v", got, tc.want)
				}
				if tc.err == "" {
					if err != io.EOF {
						t.Errorf("got error %v, want io.EOF", err)
					}
				} else {
					var se *SyntaxError
					if !errors.As(err, &se) || !strings.Contains(err.Error(), tc.err) {
						t.Errorf("got error %v, want a *SyntaxError containing %q", err, tc.err)
					}
				}
			})
		}
	}
}

// TestReaderEnvelopeStreams: a one-line envelope of 40 MB is read with a
// buffer the size of one element, not of the document.
func TestReaderEnvelopeStreams(t *testing.T) {
	const n = 20000
	elem := `{"eventName":"GetObject","pad":"` + strings.Repeat("x", 2000) + `"}`
	var doc bytes.Buffer
	doc.WriteString(`{"Records":[`)
	for i := range n {
		if i > 0 {
			doc.WriteByte(',')
		}
		doc.WriteString(elem)
	}
	doc.WriteString(`]}`)
	r := NewReader("big", bytes.NewReader(doc.Bytes()))
	r.Envelope("Records")
	count := 0
	for {
		rec, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if count++; rec.Index != count || string(rec.Raw) != elem {
			t.Fatalf("record %d: index %d, %d bytes", count, rec.Index, len(rec.Raw))
		}
	}
	if count != n {
		t.Fatalf("%d records, want %d", count, n)
	}
	if c := cap(r.buf); c > 4*bufSize {
		t.Errorf("buffer grew to %d bytes for a %d-byte document of %d-byte elements", c, doc.Len(), len(elem))
	}
}

// FuzzReaderEnvelope: on any input the envelope reader ends without panic and
// gzip changes nothing; on a valid JSON object with a "Records" array it
// returns exactly that array's elements, numbered from 1.
func FuzzReaderEnvelope(f *testing.F) {
	for _, s := range []string{
		`{"Records":[{"a":1},{"b":"]"}]}`, `{"x":1,"Records":[],"y":[2]}`, "{\"Records\":[\n{\"a\":1}\n]}\n{\"e\":1}",
		`{"Records":{"a":1}}`, `{"Records":[1,`, `{"a":"\"Records\":[1]"}`, `{"Records":[{"a":1}] x}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		read := func(in io.Reader) ([]Record, error) {
			r := NewReader("fuzz", in)
			r.Envelope("Records")
			return readAll(r)
		}
		recs, err := read(bytes.NewReader(data))
		zrecs, zerr := read(gzipped(bytes.NewReader(data)))
		if !reflect.DeepEqual(recs, zrecs) || (err == nil) != (zerr == nil) {
			t.Fatalf("gzip changes the result: %v %v vs %v %v", recs, err, zrecs, zerr)
		}
		var doc struct{ Records []json.RawMessage }
		var probe map[string]json.RawMessage
		if json.Unmarshal(data, &probe) != nil || json.Unmarshal(data, &doc) != nil || probe["Records"] == nil ||
			!bytes.HasPrefix(bytes.TrimLeft(probe["Records"], " \t\r\n"), []byte("[")) || hasDuplicateKey(data) {
			return
		}
		if err != nil {
			t.Fatalf("valid envelope %q: %v", data, err)
		}
		if len(recs) != len(doc.Records) {
			t.Fatalf("valid envelope %q: %d records, want %d", data, len(recs), len(doc.Records))
		}
		for i, rec := range recs {
			if !bytes.Equal(rec.Raw, doc.Records[i]) || rec.Index != i+1 {
				t.Fatalf("element %d: got %q (index %d), want %q", i, rec.Raw, rec.Index, doc.Records[i])
			}
		}
	})
}

// hasDuplicateKey reports whether data's top-level object repeats a key
// (encoding/json keeps the last, the reader the first).
func hasDuplicateKey(data []byte) bool {
	dec := json.NewDecoder(bytes.NewReader(data))
	if _, err := dec.Token(); err != nil {
		return false
	}
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return false
		}
		k := fmt.Sprint(tok)
		if seen[k] {
			return true
		}
		seen[k] = true
		var skip json.RawMessage
		if dec.Decode(&skip) != nil {
			return false
		}
	}
	return false
}
