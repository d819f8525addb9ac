package exprenv

import (
	"encoding/json"
	"math"
	"strconv"
	"strings"
)

func init() {
	register(Func{
		Name:  "to_int",
		Doc:   `to_int(v): v as an int64 from a number or numeric string (fractions truncated toward zero); nil when v is nil, blank, not numeric or out of range.`,
		Fn:    fnToInt,
		Types: []any{new(func(any) any)},
	})
}

// fnToInt returns nil rather than an error for unusable input, unlike expr's
// int(): "age": "n/a" in one alert must not fail the whole record.
func fnToInt(args ...any) (any, error) {
	if len(args) != 1 {
		return nil, arity("to_int", 1, len(args))
	}
	n, ok := toNumber(args[0])
	if !ok {
		return nil, nil
	}
	if n.isInt {
		return n.i, nil
	}
	if math.IsNaN(n.f) || n.f < -(1<<63) || n.f >= 1<<63 {
		return nil, nil
	}
	return int64(n.f), nil
}

// number is a decoded numeric value: an exact integer when isInt, else f.
type number struct {
	i     int64
	f     float64
	isInt bool
}

// toNumber reads the numeric kinds Go and JSON decoders produce and numeric
// strings. Strings are parsed as integers first so that 19-digit values
// (nanosecond epochs, ids) keep every digit.
func toNumber(v any) (number, bool) {
	switch x := v.(type) {
	case float64:
		return number{f: x}, true
	case int:
		return number{i: int64(x), isInt: true}, true
	case int64:
		return number{i: x, isInt: true}, true
	case string:
		return parseNumber(x)
	case json.Number:
		return parseNumber(string(x))
	case float32:
		return number{f: float64(x)}, true
	case int32:
		return number{i: int64(x), isInt: true}, true
	case int16:
		return number{i: int64(x), isInt: true}, true
	case int8:
		return number{i: int64(x), isInt: true}, true
	case uint:
		return uintNumber(uint64(x))
	case uint64:
		return uintNumber(x)
	case uint32:
		return number{i: int64(x), isInt: true}, true
	case uint16:
		return number{i: int64(x), isInt: true}, true
	case uint8:
		return number{i: int64(x), isInt: true}, true
	}
	return number{}, false
}

func uintNumber(u uint64) (number, bool) {
	if u > math.MaxInt64 {
		return number{f: float64(u)}, true
	}
	return number{i: int64(u), isInt: true}, true
}

// parseNumber accepts decimal integers and decimal floats with an optional
// exponent, surrounded by blanks. It refuses what strconv would also take but
// no alert means as a number: "inf", "NaN", hex, underscores.
func parseNumber(s string) (number, bool) {
	s = strings.TrimSpace(s)
	if s == "" {
		return number{}, false
	}
	digits, plain := 0, true
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= '0' && c <= '9':
			digits++
		case c == '+' || c == '-':
			if i != 0 {
				plain = false
			}
		case c == '.' || c == 'e' || c == 'E':
			plain = false
		default:
			return number{}, false
		}
	}
	if digits == 0 {
		return number{}, false
	}
	if plain {
		if i, err := strconv.ParseInt(s, 10, 64); err == nil {
			return number{i: i, isInt: true}, true
		}
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsInf(f, 0) {
		return number{}, false
	}
	return number{f: f}, true
}
