package exprenv

import (
	"fmt"
	"math"
	"unicode/utf8"
)

func init() {
	register(Func{
		Name:  "truncate",
		Doc:   `truncate(s, n): the first n characters (runes) of s's string form, never cutting a UTF-8 sequence; nil -> "".`,
		Fn:    fnTruncate,
		Types: []any{new(func(any, int) string)},
	})
}

func fnTruncate(args ...any) (any, error) {
	if len(args) != 2 {
		return nil, arity("truncate", 2, len(args))
	}
	s, _, err := scalarString(args[0])
	if err != nil {
		return nil, err
	}
	n, ok := exactInt(args[1])
	if !ok {
		return nil, fmt.Errorf("truncate: length must be an integer, got %T %v", args[1], args[1])
	}
	if n < 0 {
		return nil, fmt.Errorf("truncate: negative length %d", n)
	}
	return truncateRunes(s, n), nil
}

// truncateRunes returns the longest prefix of s holding at most n runes. An
// invalid byte counts as one rune, as range over a string does.
func truncateRunes(s string, n int64) string {
	if int64(len(s)) <= n {
		return s // n runes take at least n bytes
	}
	i := 0
	for c := int64(0); c < n && i < len(s); c++ {
		if s[i] < utf8.RuneSelf {
			i++
			continue
		}
		_, w := utf8.DecodeRuneInString(s[i:])
		i += w
	}
	return s[:i]
}

// exactInt accepts the integer kinds expr and JSON produce, and floats that
// hold an integral value (expr arithmetic and JSON numbers are float64).
func exactInt(v any) (int64, bool) {
	switch x := v.(type) {
	case int:
		return int64(x), true
	case int64:
		return x, true
	case int32:
		return int64(x), true
	case uint8:
		return int64(x), true
	case float64:
		if x != math.Trunc(x) || math.Abs(x) > 1<<53 {
			return 0, false
		}
		return int64(x), true
	}
	return 0, false
}
