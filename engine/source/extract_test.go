package source

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"math/bits"
	"math/rand/v2"
	"reflect"
	"runtime"
	"strings"
	"testing"

	"github.com/ocsfmap/ocsfmap/engine/internal/jsontext"
)

func TestExtract(t *testing.T) {
	type m = map[string]any
	type a = []any
	tests := []struct {
		name   string
		in     string
		fields []string
		want   []any
	}{
		{"flat", `{"a":"x","b":1,"c":true,"d":null}`, []string{"a", "b", "c", "d"}, a{"x", 1.0, true, nil}},
		{"missing", `{"a":"x"}`, []string{"zz", "a", "a.b"}, a{nil, "x", nil}},
		{"order independent", `{"b":2,"a":1}`, []string{"a", "b"}, a{1.0, 2.0}},
		{"empty object", `{}`, []string{"a"}, a{nil}},
		{"whitespace", " \t\r\n{ \"a\" :\n\"x\" ,\r\n\"b\"\t: [ 1 , 2 ] } \n", []string{"a", "b"}, a{"x", a{1.0, 2.0}}},
		{"escapes", `{"s":"q\"b\\s\/n\nr\rt\tb\bf\f"}`, []string{"s"}, a{"q\"b\\s/n\nr\rt\tb\bf\f"}},
		{"unicode escape", `{"s":"\u00e9\u4e2d\u0000x"}`, []string{"s"}, a{"é中\x00x"}},
		{"surrogate pair", `{"s":"\ud83d\ude00!"}`, []string{"s"}, a{"😀!"}},
		{"lone high surrogate", `{"s":"\ud83dx"}`, []string{"s"}, a{"\ufffdx"}},
		{"high then non-low escape", `{"s":"\ud83d\u0041"}`, []string{"s"}, a{"\ufffdA"}},
		{"lone low surrogate", `{"s":"\ude00"}`, []string{"s"}, a{"\ufffd"}},
		{"raw utf8", `{"s":"naïve 日本 😀"}`, []string{"s"}, a{"naïve 日本 😀"}},
		{"invalid utf8 replaced", "{\"s\":\"a\xffb\xc3\"}", []string{"s"}, a{"a\ufffdb\ufffd"}},
		{"escaped key", `{"\u0061lert":"x"}`, []string{"alert"}, a{"x"}},
		{"long string", `{"s":"` + strings.Repeat("abcdefghij", 300) + `"}`, []string{"s"}, a{strings.Repeat("abcdefghij", 300)}},
		{"numbers", `{"i":-12,"z":0,"f":3.25,"e":1e3,"E":-2.5E-2,"p":1e+2,"big":12345678901234567890}`,
			[]string{"i", "z", "f", "e", "E", "p", "big"}, a{-12.0, 0.0, 3.25, 1000.0, -0.025, 100.0, 12345678901234567890.0}},
		{"epoch ms", `{"t":1718000000123}`, []string{"t"}, a{1718000000123.0}},
		{"nested object", `{"o":{"x":[1,{"y":null}],"s":"v"}}`, []string{"o"}, a{m{"x": a{1.0, m{"y": nil}}, "s": "v"}}},
		{"empty containers", `{"o":{},"l":[]}`, []string{"o", "l"}, a{m{}, a{}}},
		{"dotted", `{"a":{"b":{"c":"deep"},"n":5},"z":1}`, []string{"a.b.c", "a.n", "a.q", "z"}, a{"deep", 5.0, nil, 1.0}},
		{"dotted on non-object", `{"a":[1],"b":"s"}`, []string{"a.x", "b.x"}, a{nil, nil}},
		{"dotted and whole", `{"a":{"b":2}}`, []string{"a", "a.b", "a.c"}, a{m{"b": 2.0}, 2.0, nil}},
		{"same field twice", `{"a":"x"}`, []string{"a", "a"}, a{"x", "x"}},
		{"duplicate key last wins", `{"a":1,"a":"two"}`, []string{"a"}, a{"two"}},
		{"duplicate parent resets children", `{"a":{"b":1,"c":2},"a":{"c":3}}`, []string{"a.b", "a.c"}, a{nil, 3.0}},
		{"duplicate parent whole", `{"a":{"b":1},"a":{"c":3}}`, []string{"a", "a.b"}, a{m{"c": 3.0}, nil}},
		{"duplicate to null", `{"a":"x","a":null}`, []string{"a"}, a{nil}},
		{"skipped values of every kind", `{"s":"x\"y","n":-1.5e-7,"t":true,"f":false,"z":null,"o":{"k":[{}]},"l":[[],"\u1234"],"want":7}`,
			[]string{"want"}, a{7.0}},
		{"key with dot is not addressable as path", `{"a.b":1}`, []string{"a.b"}, a{nil}},
		{"empty key", `{"":"e"}`, []string{""}, a{"e"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := NewExtractor(tc.fields)
			got := make([]any, len(tc.fields))
			if err := e.Extract([]byte(tc.in), got); err != nil {
				t.Fatalf("Extract(%q): %v", tc.in, err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("Extract(%q)\n got  %#v\n want %#v", tc.in, got, tc.want)
			}
			// Deferred or not, every field ends with the same value; the
			// fields not deferred have theirs after Extract already.
			for n := 0; n <= len(tc.fields); n++ {
				e.Defer(n)
				got := make([]any, len(tc.fields))
				if err := e.Extract([]byte(tc.in), got); err != nil {
					t.Fatalf("Defer(%d): Extract(%q): %v", n, tc.in, err)
				}
				if !reflect.DeepEqual(got[n:], tc.want[n:]) {
					t.Errorf("Defer(%d): Extract(%q)\n got  %#v\n want %#v", n, tc.in, got[n:], tc.want[n:])
				}
				if err := e.ExtractDeferred(got); err != nil {
					t.Fatalf("Defer(%d): ExtractDeferred: %v", n, err)
				}
				if !reflect.DeepEqual(got, tc.want) {
					t.Errorf("Defer(%d): Extract(%q) then ExtractDeferred\n got  %#v\n want %#v", n, tc.in, got, tc.want)
				}
			}
		})
	}
}

// TestExtractDeferredIsTheLastRecords: the deferred fields are always those
// of the record Extract accepted last, never an earlier one's.
func TestExtractDeferredIsTheLastRecords(t *testing.T) {
	e := NewExtractor([]string{"name", "tags.env", "risk"})
	e.Defer(2)
	dst := make([]any, 3)
	extract := func(rec string) error {
		t.Helper()
		return e.Extract([]byte(rec), dst)
	}
	// The first record's deferred fields are never decoded (its rule said no).
	if err := extract(`{"name":"first","tags":{"env":"prod"},"risk":"low"}`); err != nil {
		t.Fatal(err)
	}
	if dst[0] != nil || dst[1] != nil || dst[2] != "low" {
		t.Fatalf("after Extract: %#v, want only risk", dst)
	}
	// The second has none of them: its own absence is what ExtractDeferred finds.
	if err := extract(`{"risk":"high"}`); err != nil {
		t.Fatal(err)
	}
	if err := e.ExtractDeferred(dst); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(dst, []any{nil, nil, "high"}) {
		t.Errorf("second record: %#v, want nil, nil, high", dst)
	}
	// A record that fails to parse leaves nothing to decode, not the last good one's.
	if err := extract(`{"name":"third","tags":{"env":"dev"},"risk":"x"}`); err != nil {
		t.Fatal(err)
	}
	if err := extract(`{"name":"fourth",`); err == nil {
		t.Fatal("a broken record was accepted")
	}
	if err := e.ExtractDeferred(dst); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(dst, []any{nil, nil, nil}) {
		t.Errorf("after a broken record: %#v, want nothing", dst)
	}
	// A second ExtractDeferred decodes nothing more.
	if err := extract(`{"name":"fifth","tags":{"env":"qa"},"risk":"y"}`); err != nil {
		t.Fatal(err)
	}
	if err := e.ExtractDeferred(dst); err != nil || !reflect.DeepEqual(dst, []any{"fifth", "qa", "y"}) {
		t.Fatalf("fifth record: %#v, %v", dst, err)
	}
	clear(dst)
	if err := e.ExtractDeferred(dst); err != nil || !reflect.DeepEqual(dst, []any{nil, nil, nil}) {
		t.Errorf("ExtractDeferred twice: %#v, %v", dst, err)
	}
}

// TestExtractDeferredDoesNotDecode: a deferred value is skipped, not
// decoded, until it is asked for: that is the point of deferring it.
func TestExtractDeferredDoesNotDecode(t *testing.T) {
	rec := []byte(`{"risk":"high","tags":{"a":"1","b":"2","c":[1,2,3]},"name":"x"}`)
	e := NewExtractor([]string{"tags", "name", "risk"})
	dst := make([]any, 3)
	e.Defer(2)
	if n := testing.AllocsPerRun(100, func() {
		if err := e.Extract(rec, dst); err != nil {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Errorf("Extract with tags deferred allocates %v times per record, want 0", n)
	}
}

func TestExtractErrors(t *testing.T) {
	tests := []struct {
		in     string
		offset int64
		msg    string
	}{
		{``, 0, "unexpected end of JSON input"},
		{`   `, 3, "unexpected end of JSON input"},
		{`{"a":"x"`, 8, "unexpected end of JSON input"},
		{`{"a":"x`, 7, "unexpected end of JSON input"},
		{`{"a":`, 5, "unexpected end of JSON input"},
		{`{"a"`, 4, "unexpected end of JSON input"},
		{`{"a":1}x`, 7, "invalid character 'x' after top-level value"},
		{`{"a":1}{}`, 7, "invalid character '{' after top-level value"},
		{`{"a":1,}`, 7, "invalid character '}' looking for beginning of object key string"},
		{`{"a" 1}`, 5, "invalid character '1' after object key"},
		{`{"a":1 "b":2}`, 7, "invalid character '\"' after object key:value pair"},
		{`{a:1}`, 1, "invalid character 'a' looking for beginning of object key string"},
		{`{"skip":[1,2,]}`, 13, "invalid character ']' looking for beginning of value"},
		{`{"skip":[1 2]}`, 11, "invalid character '2' after array element"},
		{`{"skip":tru}`, 11, "invalid character '}' in literal true (expecting 'e')"},
		{`{"skip":nul`, 11, "unexpected end of JSON input"},
		{`{"skip":01}`, 9, "invalid character '1' after object key:value pair"},
		{`{"skip":-}`, 9, "invalid character '}' in numeric literal"},
		{`{"skip":1.}`, 10, "invalid character '}' after decimal point in numeric literal"},
		{`{"skip":1e}`, 10, "invalid character '}' in exponent of numeric literal"},
		{`{"skip":+1}`, 8, "invalid character '+' looking for beginning of value"},
		{`{"skip":"a` + "\x01" + `"}`, 10, `invalid character '\x01' in string literal`},
		{`{"skip":"\x"}`, 10, "invalid character 'x' in string escape code"},
		{`{"skip":"\u12g4"}`, 13, `invalid character 'g' in \u hexadecimal character escape`},
		{`{"skip":1e400}`, 8, "number 1e400 is out of the float64 range"},
		{`{"skip":{"x":[}]}}`, 14, "invalid character '}' looking for beginning of value"},
		{`[1,2]`, 0, "top-level value is an array, not an object"},
		{`"str"`, 0, "top-level value is a string, not an object"},
		{` 12 `, 1, "top-level value is a number, not an object"},
		{`null`, 0, "top-level value is null, not an object"},
		{`true`, 0, "top-level value is a boolean, not an object"},
		{`[1,}`, 3, "invalid character '}' looking for beginning of value"},
		{"\xef\xbb\xbf{}", 0, `invalid character '\xef' looking for beginning of value`},
		{strings.Repeat(`{"a":`, maxDepth) + "1" + strings.Repeat("}", maxDepth), 0, ""},
		{strings.Repeat(`{"a":`, maxDepth+1) + "1" + strings.Repeat("}", maxDepth+1), int64(maxDepth * 5), "exceeded max depth"},
	}
	for _, tc := range tests {
		for _, fields := range [][]string{{"skip", "a"}, {"zz"}} {
			e := NewExtractor(fields)
			dst := make([]any, len(fields))
			dst[0] = "stale"
			err := e.Extract([]byte(tc.in), dst)
			if tc.msg == "" {
				if err != nil {
					t.Errorf("Extract(%.40q) fields %v: unexpected error %v", tc.in, fields, err)
				}
				continue
			}
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Errorf("Extract(%.40q) fields %v: got %v, want a *SyntaxError", tc.in, fields, err)
				continue
			}
			if se.Offset != tc.offset || se.Msg != tc.msg {
				t.Errorf("Extract(%.40q) fields %v:\n got  offset %d %q\n want offset %d %q", tc.in, fields, se.Offset, se.Msg, tc.offset, tc.msg)
			}
			if dst[0] != nil {
				t.Errorf("Extract(%.40q): dst not cleared on error: %#v", tc.in, dst)
			}
			// encoding/json must reject it too (except null, see the fuzz target).
			var v map[string]any
			if tc.in != "null" && json.Unmarshal([]byte(tc.in), &v) == nil {
				t.Errorf("encoding/json accepts %.40q that Extract rejects", tc.in)
			}
		}
	}
}

func TestNumberModes(t *testing.T) {
	in := []byte(`{"small":42,"exact":9007199254740992,"over":9007199254740993,"neg":-12345678901234567890,"frac":0.5,"huge":1e400,"id":"7"}`)
	fields := []string{"small", "exact", "over", "neg", "frac", "huge", "id"}
	tests := []struct {
		mode NumberMode
		want []any
	}{
		{Lossless, []any{42.0, 9007199254740992.0, json.Number("9007199254740993"), json.Number("-12345678901234567890"), 0.5, json.Number("1e400"), "7"}},
		{Number, []any{json.Number("42"), json.Number("9007199254740992"), json.Number("9007199254740993"), json.Number("-12345678901234567890"), json.Number("0.5"), json.Number("1e400"), "7"}},
	}
	for _, tc := range tests {
		e := NewExtractor(fields)
		e.SetNumberMode(tc.mode)
		got := make([]any, len(fields))
		if err := e.Extract(in, got); err != nil {
			t.Fatalf("mode %d: %v", tc.mode, err)
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("mode %d:\n got  %#v\n want %#v", tc.mode, got, tc.want)
		}
	}
	// Float64 rejects 1e400 even when it is not extracted, like encoding/json.
	e := NewExtractor([]string{"small"})
	if err := e.Extract(in, make([]any, 1)); err == nil || !strings.Contains(err.Error(), "out of the float64 range") {
		t.Errorf("Float64 mode: got %v, want a range error", err)
	}
}

func TestExtractDstTooShort(t *testing.T) {
	e := NewExtractor([]string{"a", "b"})
	if err := e.Extract([]byte(`{}`), make([]any, 1)); err == nil {
		t.Fatal("want an error for a short dst")
	}
}

// Strings handed out must survive the record buffer being overwritten and
// later records filling the arena.
func TestExtractStringsOutliveRecord(t *testing.T) {
	e := NewExtractor([]string{"s", "o"})
	buf := []byte(`{"s":"first value","o":{"k":"nested"}}`)
	first := make([]any, 2)
	if err := e.Extract(buf, first); err != nil {
		t.Fatal(err)
	}
	for i := range buf {
		buf[i] = 'X'
	}
	dst := make([]any, 2)
	for i := 0; i < 2000; i++ { // enough to roll over several arena chunks
		rec := []byte(`{"s":"` + strings.Repeat("z", i%200) + `","o":{"k":"v"}}`)
		if err := e.Extract(rec, dst); err != nil {
			t.Fatal(err)
		}
		if i%500 == 0 {
			runtime.GC() // abandoned arena chunks and box slabs must stay alive while referenced
		}
	}
	want := []any{"first value", map[string]any{"k": "nested"}}
	if !reflect.DeepEqual(first, want) {
		t.Errorf("values changed after later records: %#v", first)
	}
}

func TestLocate(t *testing.T) {
	e := NewExtractor(nil)
	err := e.Extract([]byte(`{"a":}`), nil)
	rec := Record{Input: "alerts.json", Line: 7}
	got := rec.Locate(err).Error()
	if want := "alerts.json:7: invalid JSON at byte 5: invalid character '}' looking for beginning of value"; got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	other := errors.New("other")
	if rec.Locate(other) != other {
		t.Error("Locate changed a non-syntax error")
	}
}

// The lowest flagged byte of jsontext.Special must be the first byte that needs a
// look, whatever the bytes around it: str jumps straight to it.
func TestSpecialLowestExact(t *testing.T) {
	pick := []byte{'a', 'Z', ' ', '"', '\\', 0, 0x1f, 0x20, 0x21, 0x5b, 0x5d, 0x7f, 0x80, 0xff, 0x01, 0x22 ^ 0x80}
	rng := rand.New(rand.NewPCG(1, 2))
	for n := 0; n < 200000; n++ {
		var w [8]byte
		for i := range w {
			w[i] = pick[rng.IntN(len(pick))]
		}
		first := 8
		for i, c := range w {
			if c == '"' || c == '\\' || c < 0x20 || c >= 0x80 {
				first = i
				break
			}
		}
		m := jsontext.Special(binary.LittleEndian.Uint64(w[:]))
		got := 8
		if m != 0 {
			got = bits.TrailingZeros64(m) / 8
		}
		if got != first {
			t.Fatalf("word %q: lowest flagged byte %d, want %d", w, got, first)
		}
	}
}

func TestSpecial(t *testing.T) {
	// jsontext.Special must flag a word exactly when one of its bytes needs the slow path.
	for pos := 0; pos < 8; pos++ {
		for c := 0; c < 256; c++ {
			var w [8]byte
			for i := range w {
				w[i] = 'a'
			}
			w[pos] = byte(c)
			x := uint64(0)
			for i := 7; i >= 0; i-- {
				x = x<<8 | uint64(w[i])
			}
			want := c == '"' || c == '\\' || c < 0x20 || c >= 0x80
			if got := jsontext.Special(x) != 0; got != want {
				t.Fatalf("byte %#x at %d: Special = %v, want %v", c, pos, got, want)
			}
		}
	}
}

// Values nobody maps are validated without allocating.
func TestExtractSkipDoesNotAllocate(t *testing.T) {
	a := sampleAlert()
	e := NewExtractor([]string{"not_there", "nor.this"})
	dst := make([]any, 2)
	if n := testing.AllocsPerRun(100, func() {
		if err := e.Extract(a, dst); err != nil {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Errorf("Extract of absent fields: %v allocs per record, want 0", n)
	}
	// Scalars come from the arena and box slabs: far less than one allocation each.
	e = NewExtractor([]string{"alert_id", "risk", "age", "account_id", "alert_created_dt", "exposed"})
	dst = make([]any, 6)
	if n := testing.AllocsPerRun(1000, func() {
		if err := e.Extract(a, dst); err != nil {
			t.Fatal(err)
		}
	}); n >= 1 {
		t.Errorf("Extract of 6 scalars: %v allocs per record, want < 1", n)
	}
}
