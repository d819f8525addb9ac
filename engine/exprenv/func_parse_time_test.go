package exprenv

import (
	"testing"

	"github.com/expr-lang/expr"
)

func TestParseTime(t *testing.T) {
	tests := []struct {
		in      any
		layouts []any
		want    any
	}{
		// The forms epoch_ms does not guess (issue 18's samples).
		{"20131102T010628Z", []any{"20060102T150405Z0700"}, int64(1383354388000)},
		{"20131102T010628Z", []any{"%Y%m%dT%H%M%SZ"}, int64(1383354388000)},
		{"Oct 8, 2024, 4:15:32 PM", []any{"%b %d, %Y, %I:%M:%S %p"}, int64(1728404132000)},
		{"Oct 8, 2024, 4:15:32 PM", []any{"Jan 2, 2006, 3:04:05 PM"}, int64(1728404132000)},
		{"Mon Jun 20 15:29:11 2022", []any{"%a %b %e %H:%M:%S %Y"}, int64(1655738951000)},
		{"Mon Jun 20 15:29:11 2022", []any{"%d/%m/%Y", "Mon Jan _2 15:04:05 2006"}, int64(1655738951000)},
		{"2024-10-08 16:15:32.250 +0200", []any{"%Y-%m-%d %H:%M:%S.%f %z"}, int64(1728396932250)},
		{" 08/10/2024 ", []any{"%d/%m/%Y"}, int64(1728345600000)},
		{"not a time", []any{"%Y"}, nil},
		{"2024", []any{"%Y-%m"}, nil},
		{nil, []any{"%Y"}, nil},
		{42, []any{"%Y"}, nil},
		{"1969-12-31", []any{"%F"}, nil},
	}
	for _, tt := range tests {
		got, err := fnParseTime(append([]any{tt.in}, tt.layouts...)...)
		if err != nil || got != tt.want {
			t.Errorf("parse_time(%#v, %v) = %#v, %v; want %#v", tt.in, tt.layouts, got, err, tt.want)
		}
	}
	if _, err := fnParseTime("x"); err == nil {
		t.Error("parse_time without a layout: no error")
	}
}

func TestBand(t *testing.T) {
	// GuardDuty's severity bands: Low 1.0-3.9, Medium 4.0-6.9, High 7.0-8.9, Critical 9.0-10.0.
	bounds, values := []any{1.0, 4.0, 7.0, 9.0}, []any{"low", "medium", "high", "critical"}
	for in, want := range map[any]any{
		0.5: nil, 1.0: "low", 3.9: "low", 4: "medium", "6.99": "medium", int64(7): "high", 8.9: "high", 9.0: "critical", 10: "critical",
		"n/a": nil, nil: nil,
	} {
		if got, err := fnBand(in, bounds, values); err != nil || got != want {
			t.Errorf("band(%#v) = %#v, %v; want %#v", in, got, err, want)
		}
	}
	for _, bad := range [][2][]any{{{1.0, 1.0}, {"a", "b"}}, {{2.0, 1.0}, {"a", "b"}}, {{1.0}, {"a", "b"}}, {{"x"}, {"a"}}, {{}, {}}} {
		if _, err := fnBand(5, bad[0], bad[1]); err == nil {
			t.Errorf("band(5, %v, %v): no error", bad[0], bad[1])
		}
	}
}

// TestTimeAndBandThroughExpr: the declared types let the checker take the
// calls as a mapping writes them.
func TestTimeAndBandThroughExpr(t *testing.T) {
	env := map[string]any{"t": "Mon Jun 20 15:29:11 2022", "severity": 8.0}
	for src, want := range map[string]any{
		`parse_time(t, '%a %b %e %H:%M:%S %Y') ?? 0`:            int64(1655738951000),
		`parse_time(t, '%Y-%m-%d', 'Mon Jan _2 15:04:05 2006')`: int64(1655738951000),
		`band(severity, [1, 4, 7, 9], [2, 3, 4, 5]) ?? 0`:       4,
		`band(0.5, [1, 4.0], ["low", "high"]) ?? "none"`:        "none",
	} {
		prog, err := expr.Compile(src, exprOptions(env)...)
		if err != nil {
			t.Fatalf("%s: %v", src, err)
		}
		got, err := expr.Run(prog, env)
		if err != nil || got != want {
			t.Errorf("%s = %#v, %v; want %#v", src, got, err, want)
		}
	}
}
