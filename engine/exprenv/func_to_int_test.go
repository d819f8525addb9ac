package exprenv

import (
	"encoding/json"
	"math"
	"strconv"
	"testing"
)

func TestToInt(t *testing.T) {
	tests := []struct {
		in   any
		want any
	}{
		{nil, nil},
		{"", nil},
		{"  ", nil},
		{"n/a", nil},
		{true, nil},
		{[]any{1.0}, nil},
		{float64(12), int64(12)},
		{12.7, int64(12)},
		{-12.7, int64(-12)},
		{7, int64(7)},
		{int64(math.MaxInt64), int64(math.MaxInt64)},
		{uint64(math.MaxUint64), nil},
		{uint8(7), int64(7)},
		{math.NaN(), nil},
		{math.Inf(1), nil},
		{1e19, nil},
		{-9.223372036854775808e18, int64(math.MinInt64)},
		{"12", int64(12)},
		{" -12 ", int64(-12)},
		{"+12", int64(12)},
		{"12.9", int64(12)},
		{"1e3", int64(1000)},
		{"9223372036854775807", int64(math.MaxInt64)},
		{"9223372036854775808", nil},
		{"0x10", nil},
		{"1_000", nil},
		{"inf", nil},
		{"NaN", nil},
		{"1e400", nil},
		{"12abc", nil},
		{"--1", nil},
		{"1-2", nil},
		{".", nil},
		{json.Number("42"), int64(42)},
		{json.Number("4.2e1"), int64(42)},
	}
	for _, tt := range tests {
		got, err := fnToInt(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("to_int(%#v) = %#v, %v; want %#v", tt.in, got, err, tt.want)
		}
	}
}

// FuzzToInt: no panic, and every decimal integer strconv accepts comes back
// unchanged.
func FuzzToInt(f *testing.F) {
	for _, s := range []string{"12", " -3 ", "1.5e3", "9223372036854775808", "0x1p3", "+", "1e", "-.e-"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := fnToInt(s)
		if err != nil {
			t.Fatalf("to_int(%q): %v", s, err)
		}
		if got != nil {
			if _, ok := got.(int64); !ok {
				t.Fatalf("to_int(%q) = %T, want int64 or nil", s, got)
			}
		}
		if want, err := strconv.ParseInt(s, 10, 64); err == nil && got != want {
			t.Fatalf("to_int(%q) = %#v, want %d", s, got, want)
		}
	})
}
