package exprenv

import (
	"encoding/json"
	"math"
	"testing"
	"time"
)

func TestStr(t *testing.T) {
	tests := []struct {
		in   any
		want any
	}{
		{nil, nil},
		{"", ""},
		{"  keep blanks ", "  keep blanks "},
		{"データ🚀", "データ🚀"},
		{true, "true"},
		{false, "false"},
		{float64(42), "42"},
		{1.5, "1.5"},
		{float64(1793527200123), "1793527200123"},
		{1e21, "1000000000000000000000"},
		{1e-7, "0.0000001"},
		{math.Copysign(0, -1), "0"},
		{math.NaN(), "NaN"},
		{math.Inf(-1), "-Inf"},
		{float32(0.1), "0.1"},
		{7, "7"},
		{int64(-9007199254740993), "-9007199254740993"},
		{uint64(math.MaxUint64), "18446744073709551615"},
		{json.Number("123456789012345678"), "123456789012345678"},
		{json.Number("1.50"), "1.5"},
		{json.Number("2e3"), "2000"},
		{[]any{"a", 1.0, nil}, `["a",1,null]`},
		{map[string]any{"b": "<&>", "a": 1.0}, `{"a":1,"b":"<&>"}`},
		{time.Date(2026, 11, 1, 10, 0, 0, 5e8, time.UTC), "2026-11-01T10:00:00.5Z"},
		{90 * time.Second, "1m30s"},
	}
	for _, tt := range tests {
		got, err := fnStr(tt.in)
		if err != nil {
			t.Errorf("str(%#v): %v", tt.in, err)
			continue
		}
		if got != tt.want {
			t.Errorf("str(%#v) = %#v, want %#v", tt.in, got, tt.want)
		}
	}
	if _, err := fnStr(map[string]any{"x": math.NaN()}); err == nil {
		t.Error("str of an object holding NaN: want an encoding error")
	}
}

func TestNorm(t *testing.T) {
	tests := []struct {
		in   any
		want string
	}{
		{nil, ""},
		{"", ""},
		{"open", "open"},
		{"  open", "open"},
		{"IN PROGRESS", "in progress"},
		{"resolved \n", "resolved"},
		{"\tCritical\t", "critical"},
		{"ÉLEVÉ", "élevé"},
		{float64(3), "3"},
		{2.50, "2.5"},
		{true, "true"},
		{[]any{"A"}, `["a"]`},
	}
	for _, tt := range tests {
		got, err := fnNorm(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("norm(%#v) = %#v, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}

func BenchmarkNorm(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		sinkAny, _ = fnNorm("  In Progress ")
	}
}

func TestCoalesce(t *testing.T) {
	m := map[string]any{"k": "v"}
	tests := []struct {
		in   []any
		want any
	}{
		{nil, nil},
		{[]any{nil}, nil},
		{[]any{nil, "", "  ", "\t"}, nil},
		{[]any{nil, "", "x", "y"}, "x"},
		{[]any{" x ", "y"}, " x "}, // the value itself, not trimmed
		{[]any{nil, float64(0)}, float64(0)},
		{[]any{"", false}, false},
		{[]any{nil, []any{}}, []any{}},
		{[]any{m}, m},
	}
	for _, tt := range tests {
		got, err := fnCoalesce(tt.in...)
		if err != nil {
			t.Fatal(err)
		}
		if gs, ok := got.([]any); ok {
			if ws, ok := tt.want.([]any); !ok || len(gs) != len(ws) {
				t.Errorf("coalesce(%#v) = %#v, want %#v", tt.in, got, tt.want)
			}
			continue
		}
		if gm, ok := got.(map[string]any); ok {
			if gm["k"] != "v" {
				t.Errorf("coalesce(%#v) = %#v", tt.in, got)
			}
			continue
		}
		if got != tt.want {
			t.Errorf("coalesce(%#v) = %#v, want %#v", tt.in, got, tt.want)
		}
	}
}

func TestJSON(t *testing.T) {
	tests := []struct {
		in   any
		want string
	}{
		{nil, "null"},
		{"a<b>&c", `"a<b>&c"`},
		{float64(1793527200123), "1793527200123"},
		{map[string]any{"z": 1.0, "a": map[string]any{"y": nil, "b": []any{"x", true}}}, `{"a":{"b":["x",true],"y":null},"z":1}`},
		{[]string{"k:v"}, `["k:v"]`},
		{"データ", `"データ"`},
	}
	for _, tt := range tests {
		got, err := fnJSON(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("json(%#v) = %#v, %v; want %s", tt.in, got, err, tt.want)
		}
	}
	if _, err := fnJSON(math.Inf(1)); err == nil {
		t.Error("json(+Inf): want an error")
	}
	if _, err := fnJSON(make(chan int)); err == nil {
		t.Error("json(chan): want an error")
	}
}
