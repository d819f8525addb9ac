package source

import (
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"testing/iotest"
)

// rec is a record as the tests expect it: line and raw text.
type rec struct {
	Line int
	Raw  string
}

func TestReader(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []rec
		err  string // substring of the error that ends the input; "" for io.EOF
	}{
		{"ndjson", "{\"a\":1}\n{\"b\":2}\n", []rec{{1, `{"a":1}`}, {2, `{"b":2}`}}, ""},
		{"ndjson crlf and blank lines", "\r\n{\"a\":1}\r\n\r\n  \t\r\n{\"b\":2}\r\n", []rec{{2, `{"a":1}`}, {5, `{"b":2}`}}, ""},
		{"ndjson no final newline", "{\"a\":1}\n{\"b\":2}", []rec{{1, `{"a":1}`}, {2, `{"b":2}`}}, ""},
		{"ndjson bad lines are records", "{\"a\":1}\n{bad\nnot json at all\n{\"b\":2}\n{\"c\":", []rec{{1, `{"a":1}`}, {2, `{bad`}, {3, `not json at all`}, {4, `{"b":2}`}, {5, `{"c":`}}, ""},
		{"ndjson line with braces in strings", "{\"a\":\"{[\"}\n{\"b\":\"x\"}\n", []rec{{1, `{"a":"{["}`}, {2, `{"b":"x"}`}}, ""},
		{"ndjson indented lines", "  {\"a\":1}  \n\t{\"b\":2}\n", []rec{{1, `{"a":1}`}, {2, `{"b":2}`}}, ""},
		{"empty input", "", nil, ""},
		{"blank input", " \n\r\n\t", nil, ""},
		{"bom", "\xef\xbb\xbf{\"a\":1}\n", []rec{{1, `{"a":1}`}}, ""},
		{"single object one line", `{"a":1}`, []rec{{1, `{"a":1}`}}, ""},
		{"single object pretty", "{\n  \"a\": 1,\n  \"b\": [\n    2\n  ]\n}\n", []rec{{1, "{\n  \"a\": 1,\n  \"b\": [\n    2\n  ]\n}"}}, ""},
		{"pretty objects one after another", "\n{\n \"a\": \"}\"\n}\n{\n \"b\": 2\n}{\"c\":3}\n", []rec{{2, "{\n \"a\": \"}\"\n}"}, {5, "{\n \"b\": 2\n}"}, {7, `{"c":3}`}}, ""},
		{"pretty object truncated", "{\n \"a\": 1,\n \"b\": 2\n", nil, "fuzz:4: invalid JSON at byte 19: unexpected end of input in the value that starts at line 1"},
		{"array", `[{"a":1},{"b":2}]`, []rec{{1, `{"a":1}`}, {1, `{"b":2}`}}, ""},
		{"array pretty", "[\n  {\"a\": 1},\n  {\n    \"b\": \"]\\\"[\"\n  }\n]\n", []rec{{2, `{"a": 1}`}, {3, "{\n    \"b\": \"]\\\"[\"\n  }"}}, ""},
		{"array of any values", `[1, "s\\", null, [2,{"x":[]}], -1.5e3,true]`, []rec{{1, `1`}, {1, `"s\\"`}, {1, `null`}, {1, `[2,{"x":[]}]`}, {1, `-1.5e3`}, {1, `true`}}, ""},
		{"empty array", " [ ] ", nil, ""},
		{"arrays one after another", "[{\"a\":1}]\n[{\"b\":2}]\n", []rec{{1, `{"a":1}`}, {2, `{"b":2}`}}, ""},
		{"array bad element is a record", `[{"a":tru},{"b":2}]`, []rec{{1, `{"a":tru}`}, {1, `{"b":2}`}}, ""},
		{"array missing comma", "[{\"a\":1}\n{\"b\":2}]", []rec{{1, `{"a":1}`}}, "fuzz:2: invalid JSON at byte 9: invalid character '{' after array element"},
		{"array trailing comma", `[{"a":1},]`, []rec{{1, `{"a":1}`}}, "invalid character ']' looking for beginning of value"},
		{"array leading comma", `[,{"a":1}]`, nil, "invalid character ',' looking for beginning of value"},
		{"array truncated", "[{\"a\":1},\n{\"b\":", []rec{{1, `{"a":1}`}}, "fuzz:2: invalid JSON at byte 15: unexpected end of input in the value that starts at line 2"},
		{"array unclosed", "[{\"a\":1}\n", []rec{{1, `{"a":1}`}}, "unexpected end of input in the JSON array that starts at line 1"},
		{"array mismatched brackets", `[{"a":[1}]`, nil, "invalid JSON at byte 8: invalid character '}' where ']' should close the value"},
		{"array trailing garbage", `[{"a":1}] x`, []rec{{1, `{"a":1}`}}, "invalid character 'x' after top-level array"},
		{"array string with escaped backslash before quote", `[{"a":"x\\\\"},{"b":"\\\""}]`, []rec{{1, `{"a":"x\\\\"}`}, {1, `{"b":"\\\""}`}}, ""},
	}
	readers := map[string]func(io.Reader) io.Reader{
		"whole":   func(r io.Reader) io.Reader { return r },
		"onebyte": iotest.OneByteReader, // every refill boundary inside a value
		"half":    iotest.HalfReader,
		"gzip":    gzipped,
	}
	for _, tc := range tests {
		for rname, wrap := range readers {
			t.Run(tc.name+"/"+rname, func(t *testing.T) {
				r := NewReader("fuzz", wrap(strings.NewReader(tc.in)))
				var got []rec
				var err error
				for {
					var rc Record
					if rc, err = r.Next(); err != nil {
						break
					}
					if rc.Input != "fuzz" {
						t.Errorf("Input = %q", rc.Input)
					}
					got = append(got, rec{rc.Line, string(rc.Raw)})
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
				if _, again := r.Next(); again != err { // errors are sticky
					t.Errorf("second Next after the end: %v, want %v", again, err)
				}
			})
		}
	}
}

func gzipped(r io.Reader) io.Reader {
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	if _, err := io.Copy(zw, r); err != nil {
		panic(err)
	}
	zw.Close()
	return &b
}

func TestReaderGzipMultiMember(t *testing.T) {
	// cat a.gz b.gz is a valid gzip stream; both members must be read.
	var b bytes.Buffer
	for _, part := range []string{"{\"a\":1}\n", "{\"b\":2}\n"} {
		zw := gzip.NewWriter(&b)
		zw.Write([]byte(part))
		zw.Close()
	}
	size := int64(b.Len())
	r := NewReader("x.gz", &b)
	recs, err := readAll(r)
	if err != nil || len(recs) != 2 || recs[1].Line != 2 || string(recs[1].Raw) != `{"b":2}` {
		t.Fatalf("got %v %v", recs, err)
	}
	if r.Bytes() != size {
		t.Errorf("Bytes() = %d, want the compressed size %d", r.Bytes(), size)
	}
}

func TestReaderCorruptGzip(t *testing.T) {
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	zw.Write(bytes.Repeat([]byte("{\"a\":1}\n"), 1000))
	zw.Close()
	data := b.Bytes()
	data[len(data)-6] ^= 0xff // break the CRC
	_, err := readAll(NewReader("bad.gz", bytes.NewReader(data)))
	if err == nil || !strings.Contains(err.Error(), "read bad.gz: gzip: invalid checksum") {
		t.Errorf("got %v, want a gzip checksum error naming the input", err)
	}
	_, err = readAll(NewReader("head.gz", bytes.NewReader([]byte{0x1f, 0x8b, 0})))
	if err == nil || !strings.Contains(err.Error(), "head.gz") {
		t.Errorf("truncated gzip header: got %v", err)
	}
}

func TestOpen(t *testing.T) {
	dir := t.TempDir()
	plain := filepath.Join(dir, "alerts.json")
	content := "[\n{\"a\":1},\n{\"b\":2}\n]\n"
	if err := os.WriteFile(plain, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	gz := filepath.Join(dir, "alerts.ndjson.gz")
	zdata, _ := io.ReadAll(gzipped(strings.NewReader("{\"a\":1}\n{\"b\":2}\n")))
	if err := os.WriteFile(gz, zdata, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{plain, gz} {
		r, err := Open(path)
		if err != nil {
			t.Fatal(err)
		}
		recs, err := readAll(r)
		if err != nil || len(recs) != 2 || recs[0].Input != path || recs[1].Line == 0 {
			t.Errorf("%s: got %v %v", path, recs, err)
		}
		st, _ := os.Stat(path)
		if r.Bytes() != st.Size() {
			t.Errorf("%s: Bytes() = %d, want file size %d", path, r.Bytes(), st.Size())
		}
		if err := r.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	}
	if _, err := Open(filepath.Join(dir, "missing.json")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: got %v", err)
	}
}

func TestOpenStdin(t *testing.T) {
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	old := os.Stdin
	os.Stdin = pr
	defer func() { os.Stdin = old; pr.Close() }()
	go func() {
		zw := gzip.NewWriter(pw) // gzip is detected on stdin too
		zw.Write([]byte("{\"a\":1}\n\n{\"b\":2}\n"))
		zw.Close()
		pw.Close()
	}()
	r, err := Open("-")
	if err != nil {
		t.Fatal(err)
	}
	recs, err := readAll(r)
	want := []Record{{Input: "<stdin>", Line: 1, Raw: []byte(`{"a":1}`)}, {Input: "<stdin>", Line: 3, Raw: []byte(`{"b":2}`)}}
	if err != nil || !reflect.DeepEqual(recs, want) {
		t.Errorf("got %+v %v", recs, err)
	}
	r.Close()
}

// A line of 12 MB (a huge alert) is read and extracted whole, and the buffer
// it needed is given back afterwards.
func TestReaderLongLine(t *testing.T) {
	long := `{"alert_id":"big","alert_description":"` + strings.Repeat("0123456789abcdef", 12<<20/16) + `"}`
	in := "{\"a\":1}\n" + long + "\n{\"b\":2}\n"
	for _, format := range []string{"ndjson", "array"} {
		data := in
		if format == "array" {
			data = "[" + strings.ReplaceAll(strings.TrimSpace(in), "\n", ",\n") + "]"
		}
		r := NewReader("long", strings.NewReader(data))
		var lines []int
		e := NewExtractor([]string{"alert_id", "alert_description"})
		dst := make([]any, 2)
		for {
			rc, err := r.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("%s: %v", format, err)
			}
			lines = append(lines, rc.Line)
			if len(rc.Raw) == len(long) {
				if err := e.Extract(rc.Raw, dst); err != nil {
					t.Fatal(err)
				}
				if d, _ := dst[1].(string); dst[0] != "big" || len(d) != 12<<20 {
					t.Errorf("%s: long record extracted wrong: %v, %d bytes", format, dst[0], len(d))
				}
			}
		}
		if !reflect.DeepEqual(lines, []int{1, 2, 3}) {
			t.Errorf("%s: lines %v", format, lines)
		}
		if len(r.buf) > 4*bufSize {
			t.Errorf("%s: buffer kept %d bytes after the long record", format, len(r.buf))
		}
	}
}

func TestReaderMaxRecord(t *testing.T) {
	r := NewReader("big", strings.NewReader("{\"a\":1}\n{\"b\":\""+strings.Repeat("x", 2*bufSize)+"\"}\n"))
	r.maxRecord = bufSize
	if _, err := r.Next(); err != nil {
		t.Fatal(err)
	}
	_, err := r.Next()
	if !errors.Is(err, ErrRecordTooLarge) || !strings.Contains(err.Error(), "big:2:") {
		t.Errorf("got %v, want ErrRecordTooLarge at big:2", err)
	}
}

// The Reader and the Extractor together: every record of a mixed NDJSON file
// is either extracted or rejected with its line, and the counts add up.
func TestReadAndExtract(t *testing.T) {
	in := "{\"alert_id\":\"1\",\"risk\":\"High\"}\n{\"alert_id\":\"2\",\n[1]\n\n{\"alert_id\":\"3\"}\n"
	r := NewReader("mixed.ndjson", strings.NewReader(in))
	e := NewExtractor([]string{"alert_id", "risk"})
	dst := make([]any, 2)
	var ok []any
	var bad []string
	for {
		rc, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if err := e.Extract(rc.Raw, dst); err != nil {
			bad = append(bad, rc.Locate(err).Error())
			continue
		}
		ok = append(ok, dst[0])
	}
	wantBad := []string{
		"mixed.ndjson:2: invalid JSON at byte 16: unexpected end of JSON input",
		"mixed.ndjson:3: invalid JSON at byte 0: top-level value is an array, not an object",
	}
	if !reflect.DeepEqual(ok, []any{"1", "3"}) || !reflect.DeepEqual(bad, wantBad) {
		t.Errorf("ok %v\nbad %q", ok, bad)
	}
}
