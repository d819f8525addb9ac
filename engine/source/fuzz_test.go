package source

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"io"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// FuzzExtract checks Extract against encoding/json: both accept and reject
// the same inputs, and every field holds the value encoding/json decodes.
//
// The one deliberate difference: a top-level null decodes into a nil
// map[string]any without error, but Extract rejects it (an alert must be an
// object). Number modes are checked against the same reference: Float64
// against json.Unmarshal, Number against Decoder.UseNumber, Lossless against
// UseNumber's literals converted by the Lossless rule.
func FuzzExtract(f *testing.F) {
	for _, s := range []string{
		`{"a":"x","b":1,"c":true,"d":null}`,
		`{"a":{"b":{"c":"deep"},"n":5},"z":1}`,
		`{"s":"\ud83d\ude00\ud83d\u0041\ude00","\u0061":"k"}`,
		"{\"s\":\"a\xffb\xc3\",\"\xff\":1}",
		`{"n":[-0,0.5e-3,1E+2,12345678901234567890,9007199254740993,1e400]}`,
		`{"a":{"b":1},"a":{"c":3},"a.b":2}`,
		`{"a":1}x`, `{"a":1,}`, `[1]`, `null`, `{"x":[1,2,]}`, ` {"a" : [ {} , [ ] ] } `,
		string(sampleAlert()),
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var ref map[string]any
		refErr := json.Unmarshal(data, &ref)
		if refErr == nil && ref == nil {
			return // top-level null: the documented difference
		}
		fields := fuzzFields(ref)
		dst := make([]any, len(fields))

		e := NewExtractor(fields)
		err := e.Extract(data, dst)
		if (err == nil) != (refErr == nil) {
			t.Fatalf("Float64: Extract error %v, encoding/json error %v, input %q", err, refErr, data)
		}
		if err != nil {
			var se *SyntaxError
			if !errors.As(err, &se) || se.Offset < 0 || se.Offset > int64(len(data)) {
				t.Fatalf("error %v is not a *SyntaxError with an offset within the input", err)
			}
		} else {
			compareFields(t, "Float64", fields, dst, ref, data)
		}

		// Deferring any leading fields changes nothing but when they are decoded.
		for n := 1; n <= len(fields); n++ {
			d := NewExtractor(fields)
			d.Defer(n)
			if err := d.Extract(data, dst); (err == nil) != (refErr == nil) {
				t.Fatalf("Defer(%d): Extract error %v, encoding/json error %v, input %q", n, err, refErr, data)
			}
			if err := d.ExtractDeferred(dst); err != nil {
				t.Fatalf("Defer(%d): ExtractDeferred: %v", n, err)
			}
			if refErr == nil {
				compareFields(t, "Float64 deferred", fields, dst, ref, data)
			}
		}

		// With UseNumber, encoding/json accepts numbers beyond float64.
		var refN map[string]any
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.UseNumber()
		refErr = dec.Decode(&refN)
		if refErr == nil {
			if dec.Decode(new(any)) != io.EOF {
				refErr = errors.New("trailing data")
			}
		}
		if refErr == nil && refN == nil {
			return
		}
		for _, mode := range []NumberMode{Number, Lossless} {
			e.SetNumberMode(mode)
			err := e.Extract(data, dst)
			if (err == nil) != (refErr == nil) {
				t.Fatalf("mode %d: Extract error %v, UseNumber error %v, input %q", mode, err, refErr, data)
			}
			if err != nil {
				continue
			}
			want := any(refN)
			if mode == Lossless {
				want = lossless(refN)
			}
			compareFields(t, "mode "+strconv.Itoa(int(mode)), fields, dst, want.(map[string]any), data)
		}
	})
}

// fuzzFields picks the fields to extract: fixed names (usually missing), every
// top-level key, and dotted paths to keys one and two levels down.
func fuzzFields(ref map[string]any) []string {
	fields := []string{"a", "a.b", "zz", "", "a.b.c"}
	keys := make([]string, 0, len(ref))
	for k := range ref {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for i, k := range keys {
		if strings.Contains(k, ".") {
			continue
		}
		if i%2 == 0 { // leave some keys out so the skip path runs too
			fields = append(fields, k)
		}
		if sub, ok := ref[k].(map[string]any); ok {
			for sk, sv := range sub {
				if !strings.Contains(sk, ".") {
					fields = append(fields, k+"."+sk)
					if sub2, ok := sv.(map[string]any); ok {
						for sk2 := range sub2 {
							fields = append(fields, k+"."+sk+"."+sk2)
						}
					}
				}
			}
		}
	}
	return fields
}

func compareFields(t *testing.T, mode string, fields []string, got []any, ref map[string]any, data []byte) {
	t.Helper()
	for i, f := range fields {
		var want any = ref
		for _, k := range strings.Split(f, ".") {
			m, _ := want.(map[string]any)
			want = m[k]
		}
		if !reflect.DeepEqual(got[i], want) {
			t.Fatalf("%s: field %q: got %#v, want %#v; input %q", mode, f, got[i], want, data)
		}
	}
}

// lossless converts UseNumber's json.Numbers by the Lossless rule.
func lossless(v any) any {
	switch v := v.(type) {
	case map[string]any:
		for k, x := range v {
			v[k] = lossless(x)
		}
	case []any:
		for i, x := range v {
			v[i] = lossless(x)
		}
	case json.Number:
		s := string(v)
		if !strings.ContainsAny(s, ".eE") {
			if n, err := strconv.ParseInt(s, 10, 64); err != nil || n > 1<<53 || n < -(1<<53) {
				return v
			}
		}
		if f, err := strconv.ParseFloat(s, 64); err == nil {
			return f
		}
		return v
	}
	return v
}

// FuzzReader checks the array splitter: on any input it ends without panic;
// on a valid JSON array it returns exactly the elements with their start
// lines; and gzip-compressing the input changes nothing.
func FuzzReader(f *testing.F) {
	for _, s := range []string{
		`[{"a":1},{"b":"]"},[1,[2]],"s\"]",12,null]`,
		"[\n {\"a\":1},\n\n {\"b\":2}\r\n]\n[3]",
		`[{"a":1} {"b":2}]`, `[{"a":[1}]`, `[1,]`, `[`, `[]`, `[{"a":"\\"}]`, ` [ -1.5e3 , true ] `,
		"{\"a\":1}\n{\"b\":\n", "{\n \"a\": 1\n}\n{\n}\n", "{\"a\":1}\r\n\r\n{bad\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		recs, err := readAll(NewReader("fuzz", bytes.NewReader(data)))
		var zbuf bytes.Buffer
		zw := gzip.NewWriter(&zbuf)
		zw.Write(data)
		zw.Close()
		zrecs, zerr := readAll(NewReader("fuzz", &zbuf))
		if !reflect.DeepEqual(recs, zrecs) || (err == nil) != (zerr == nil) {
			t.Fatalf("gzip changes the result: %v %v vs %v %v", recs, err, zrecs, zerr)
		}
		if err != nil {
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("unexpected error type %T: %v", err, err)
			}
		}
		var elems []json.RawMessage
		if json.Unmarshal(data, &elems) != nil || !bytes.HasPrefix(bytes.TrimLeft(data, " \t\r\n"), []byte("[")) {
			return // not an array ("null" unmarshals into a nil slice)
		}
		if err != nil {
			t.Fatalf("valid array %q: %v", data, err)
		}
		if len(recs) != len(elems) {
			t.Fatalf("valid array %q: %d records, want %d", data, len(recs), len(elems))
		}
		cursor := 0
		for i, rec := range recs {
			if !bytes.Equal(rec.Raw, elems[i]) {
				t.Fatalf("element %d: got %q, want %q", i, rec.Raw, elems[i])
			}
			at := cursor + bytes.Index(data[cursor:], rec.Raw)
			if want := 1 + bytes.Count(data[:at], nl); rec.Line != want {
				t.Fatalf("element %d of %q: line %d, want %d", i, data, rec.Line, want)
			}
			cursor = at + len(rec.Raw)
		}
	})
}

// readAll returns every record (with Raw copied) and the error that ended the
// input, nil for io.EOF.
func readAll(r *Reader) ([]Record, error) {
	var recs []Record
	for {
		rec, err := r.Next()
		if err == io.EOF {
			return recs, nil
		}
		if err != nil {
			return recs, err
		}
		rec.Raw = bytes.Clone(rec.Raw)
		recs = append(recs, rec)
	}
}
