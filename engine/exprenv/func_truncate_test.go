package exprenv

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestTruncate(t *testing.T) {
	tests := []struct {
		s    any
		n    any
		want string
	}{
		{"hello", 3, "hel"},
		{"hello", 5, "hello"},
		{"hello", 10, "hello"},
		{"hello", 0, ""},
		{"", 3, ""},
		{nil, 3, ""},
		{"データベース", 3, "データ"},
		{"a🚀b", 2, "a🚀"},
		{"e\u0301x", 1, "e"}, // e + combining acute: runes, not graphemes
		{"ab\xffcd", 3, "ab\xff"},
		{float64(123456), int64(3), "123"},
		{"hello", float64(2), "he"},
	}
	for _, tt := range tests {
		got, err := fnTruncate(tt.s, tt.n)
		if err != nil || got != tt.want {
			t.Errorf("truncate(%#v, %v) = %#v, %v; want %q", tt.s, tt.n, got, err, tt.want)
		}
	}
	for _, n := range []any{-1, 1.5, "3", nil} {
		if _, err := fnTruncate("hello", n); err == nil {
			t.Errorf("truncate(s, %#v): want an error", n)
		}
	}
}

func FuzzTruncate(f *testing.F) {
	f.Add("データベース🚀", 3)
	f.Add("ab\xffcd\xe3\x83", 4)
	f.Add("", 0)
	f.Fuzz(func(t *testing.T, s string, n int) {
		if n < 0 {
			n = -n
		}
		got := truncateRunes(s, int64(n))
		if !strings.HasPrefix(s, got) {
			t.Fatalf("%q is not a prefix of %q", got, s)
		}
		runes := 0
		for range got {
			runes++
		}
		total := 0
		for range s {
			total++
		}
		if want := min(n, total); runes != want {
			t.Fatalf("truncate(%q, %d) has %d runes, want %d", s, n, runes, want)
		}
		if utf8.ValidString(s) && !utf8.ValidString(got) {
			t.Fatalf("truncate(%q, %d) = %q split a UTF-8 sequence", s, n, got)
		}
	})
}
