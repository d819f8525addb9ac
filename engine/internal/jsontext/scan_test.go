package jsontext

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"
)

var stringSeeds = []string{
	"", "plain ascii text that is longer than eight bytes", `quote " and back\slash`, "tab\tnew\nline\r",
	"ctl \x00\x01\x1f\x7f", "\b\f", "<html> & more", "ünïcödé text, 日本語", "bad \xff\xfe utf-8", "sep \u2028 \u2029",
	strings.Repeat("a", 7) + `"`, strings.Repeat("b", 8) + "\n" + strings.Repeat("c", 9),
}

// FuzzAppendString checks the word-at-a-time scan against the plain byte
// loop, and that encoding/json reads back the string written.
func FuzzAppendString(f *testing.F) {
	for _, s := range stringSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := string(AppendString(nil, s))
		if want := string(appendStringRef(nil, s)); got != want {
			t.Fatalf("AppendString(%q) = %s, want %s", s, got, want)
		}
		var back string
		if err := json.Unmarshal([]byte(got), &back); err != nil || utf8.ValidString(s) && back != s {
			t.Fatalf("AppendString(%q) = %s: decodes to %q, %v", s, got, back, err)
		}
	})
}

// appendStringRef is appendString before its word-at-a-time scan.
func appendStringRef(dst []byte, s string) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hex[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}
