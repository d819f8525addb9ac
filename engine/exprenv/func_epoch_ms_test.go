package exprenv

import (
	"encoding/json"
	"math"
	"strings"
	"testing"
	"time"
)

func utcMS(y int, mo time.Month, d, h, mi, s, msec int) int64 {
	return time.Date(y, mo, d, h, mi, s, msec*1e6, time.UTC).UnixMilli()
}

func TestEpochMS(t *testing.T) {
	base := utcMS(2026, 11, 1, 10, 0, 0, 0) // 1793527200000
	tests := []struct {
		name string
		in   any
		want any // int64 or nil
	}{
		// ISO-8601 / RFC 3339
		{"rfc3339 Z", "2026-11-01T10:00:00Z", base},
		{"basic format", "20261101T100000Z", base},
		{"basic format with offset", "20261101T120000+0200", base},
		{"basic format fraction", "20261101T100000.123Z", base + 123},
		{"lower t z", "2026-11-01t10:00:00z", base},
		{"fraction ms", "2026-11-01T10:00:00.123Z", base + 123},
		{"fraction 1 digit", "2026-11-01T10:00:00.5Z", base + 500},
		{"fraction ns truncated", "2026-11-01T10:00:00.123999999Z", base + 123},
		{"fraction comma", "2026-11-01T10:00:00,25Z", base + 250},
		{"offset colon", "2026-11-01T12:30:00+02:30", base},
		{"offset no colon", "2026-11-01T05:00:00-0500", base},
		{"offset hours only", "2026-11-01T11:00:00+01", base},
		{"no zone is UTC", "2026-11-01T10:00:00", base},
		{"space separator", "2026-11-01 10:00:00", base},
		{"space then UTC", "2026-11-01 10:00:00 UTC", base},
		{"gmt suffix", "2026-11-01T10:00:00GMT", base},
		{"space then offset", "2026-11-01 11:00:00.000 +0100", base},
		{"no seconds", "2026-11-01T10:00Z", base},
		{"date only", "2026-11-01", utcMS(2026, 11, 1, 0, 0, 0, 0)},
		{"surrounding blanks", "  2026-11-01T10:00:00Z\n", base},
		{"leap day", "2024-02-29T00:00:00Z", utcMS(2024, 2, 29, 0, 0, 0, 0)},
		{"year 9999", "9999-12-31T23:59:59.999Z", int64(maxEpochMS)},
		{"after 9999 by offset", "9999-12-31T23:59:59-01:00", nil},
		{"before 1970", "1969-12-31T23:59:59Z", nil},
		{"basic format bad month", "20261301T100000Z", nil},
		{"basic format bad digits", "2026110xT100000Z", nil},
		{"epoch zero", "1970-01-01T00:00:00Z", nil},
		{"just after epoch", "1970-01-01T00:00:00.001Z", int64(1)},
		{"not a leap year", "2026-02-29T00:00:00Z", nil},
		{"1900 not leap", "1900-02-29", nil},
		{"month 13", "2026-13-01T00:00:00Z", nil},
		{"day 0", "2026-11-00", nil},
		{"hour 24", "2026-11-01T24:00:00Z", nil},
		{"second 60", "2026-11-01T10:00:60Z", nil},
		{"minute 60", "2026-11-01T10:60:00Z", nil},
		{"one-digit hour", "2026-11-01T1:00:00Z", nil},
		{"dot without digits", "2026-11-01T10:00:00.Z", nil},
		{"trailing junk", "2026-11-01T10:00:00Zjunk", nil},
		{"bad zone", "2026-11-01T10:00:00+2", nil},
		{"offset with seconds", "2026-11-01T10:00:00+01:00:00", nil},
		{"two spaces before zone", "2026-11-01T10:00:00  Z", nil},
		{"slashes", "2026/11/01 10:00:00", nil},
		{"text date", "Nov 1, 2026", nil},
		{"date then space", "2026-11-01 ", utcMS(2026, 11, 1, 0, 0, 0, 0)},
		// numbers, unit by magnitude
		{"seconds float64", float64(1793527200), base},
		{"seconds fraction", 1793527200.123, base + 123},
		{"ms float64", float64(1793527200123), base + 123},
		{"us float64", float64(1793527200123456), base + 123},
		{"ns int64", int64(1793527200123456789), base + 123},
		{"seconds int", 1793527200, base},
		{"ms int64", int64(1793527200123), base + 123},
		{"json.Number s", json.Number("1793527200"), base},
		{"json.Number ms", json.Number("1793527200123"), base + 123},
		{"json.Number exp", json.Number("1.7935272e9"), base},
		{"uint64", uint64(1793527200), base},
		{"small seconds", float64(5), int64(5000)},
		{"zero", float64(0), nil},
		{"negative", float64(-1793527200), nil},
		{"NaN", math.NaN(), nil},
		{"Inf", math.Inf(1), nil},
		{"huge float", 1e30, nil},
		// numeric strings
		{"string seconds", "1793527200", base},
		{"string seconds fraction exact", "1793527200.123", base + 123},
		{"string seconds long fraction", "1793527200.1239", base + 123},
		{"string ms", "1793527200123", base + 123},
		{"string ms fraction dropped", "1793527200123.9", base + 123},
		{"string us", "1793527200123456", base + 123},
		{"string ns", "1793527200123456789", base + 123},
		{"string plus", "+1793527200", base},
		{"string blanks", " 1793527200 ", base},
		{"string exponent", "1.7935272e12", base},
		{"string 20 digits as ns", "17935272001234567890", int64(17935272001234)},
		{"string 25 digits", "9999999999999999999999999", nil},
		{"string overflow", "1e400", nil},
		{"string negative", "-1793527200", nil},
		{"string zero", "0", nil},
		{"string inf", "inf", nil},
		{"string hex", "0x6AE7C2A0", nil},
		{"string underscores", "1_793_527_200", nil},
		{"string two dots", "1793527200.1.2", nil},
		// no time at all
		{"nil", nil, nil},
		{"empty", "", nil},
		{"blank", "   ", nil},
		{"text", "n/a", nil},
		{"bool", true, nil},
		{"list", []any{"2026-11-01"}, nil},
		{"object", map[string]any{"t": 1}, nil},
		{"time.Time", time.Date(2026, 11, 1, 11, 0, 0, 0, time.FixedZone("", 3600)), base},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := fnEpochMS(tt.in)
			if err != nil {
				t.Fatalf("epoch_ms(%#v): %v", tt.in, err)
			}
			if got != tt.want {
				t.Errorf("epoch_ms(%#v) = %#v, want %#v", tt.in, got, tt.want)
			}
		})
	}
	if _, err := fnEpochMS(); err == nil {
		t.Error("epoch_ms() with no argument: want an arity error")
	}
}

// referenceISO is the obvious implementation with time.Parse and a list of
// layouts: the oracle for FuzzEpochMS and the baseline of BenchmarkEpochMS.
var referenceLayouts = func() []string {
	var ls []string
	for _, clock := range []string{"T15:04", "T15:04:05"} {
		for _, zone := range []string{"", "Z07:00", "Z0700", "Z07", " Z07:00", " Z0700", " Z07"} {
			ls = append(ls, "2006-01-02"+clock+zone)
		}
	}
	return append(ls, "2006-01-02")
}()

func referenceISO(s string) (int64, bool) {
	s = strings.ToUpper(strings.TrimSpace(s))
	if len(s) > 10 && s[10] == ' ' {
		s = s[:10] + "T" + s[11:]
	}
	// time.Parse takes a one-digit hour for layout "15"; ISO 8601 does not.
	if len(s) > 10 && (len(s) < 13 || !isDigit(s[11]) || !isDigit(s[12])) {
		return 0, false
	}
	if rest, ok := strings.CutSuffix(s, "UTC"); ok {
		s = rest + "Z"
	} else if rest, ok := strings.CutSuffix(s, "GMT"); ok {
		s = rest + "Z"
	}
	for _, layout := range referenceLayouts {
		if tm, err := time.Parse(layout, s); err == nil {
			ms := tm.UnixMilli()
			return ms, ms > 0 && ms <= maxEpochMS
		}
	}
	return 0, false
}

func TestParseISOAgreesWithTimeParse(t *testing.T) {
	for _, s := range isoSeeds {
		got, gotOK := epochMS(s)
		want, wantOK := referenceISO(s)
		if gotOK != wantOK || (gotOK && got != want) {
			t.Errorf("%q: parseISO = %d,%v; time.Parse = %d,%v", s, got, gotOK, want, wantOK)
		}
	}
}

var isoSeeds = []string{
	"2026-11-01T10:00:00Z", "2026-11-01T10:00:00.123456Z", "2026-11-01 10:00:00",
	"2026-11-01T10:00:00+05:30", "2026-11-01T10:00:00-0800", "2026-11-01T10:00+01",
	"2026-11-01", "2026-11-01T10:00:00 UTC", "2024-02-29T23:59:59,999z", "0001-01-01T00:00:00Z",
	"2026-11-01T10:00:00+24:60", "2026-11-01T10:00:00+25:00", "9999-12-31T23:59:59.999+00:00",
	"2026-11-01t10:00:00 +0100", "2026-11-01T10:00:00.", "2026-11-01T1:00:00Z",
}

// FuzzEpochMS: never a panic; every ISO-looking text is read exactly as
// time.Parse reads it; whatever is accepted lies in the documented range and
// survives a round trip through its RFC 3339 form.
func FuzzEpochMS(f *testing.F) {
	for _, s := range isoSeeds {
		f.Add(s)
	}
	for _, s := range []string{"1793527200", "1793527200.123", "1793527200123456789", "1e12", "-5", " 0 ", "+.5", "99999999999999999999"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, ok := epochMS(s)
		if ok && (got <= 0 || got > maxEpochMS) {
			t.Fatalf("%q -> %d: outside (0, 9999-12-31]", s, got)
		}
		if tr := strings.TrimSpace(s); len(tr) >= 10 && tr[4] == '-' {
			want, wantOK := referenceISO(s)
			if ok != wantOK || (ok && got != want) {
				t.Fatalf("%q: parseISO = %d,%v; time.Parse = %d,%v", s, got, ok, want, wantOK)
			}
		}
		if ok {
			rt := time.UnixMilli(got).UTC().Format("2006-01-02T15:04:05.000Z07:00")
			if back, ok2 := epochMS(rt); !ok2 || back != got {
				t.Fatalf("%q -> %d -> %q -> %d,%v", s, got, rt, back, ok2)
			}
		}
	})
}

var sinkAny any

func BenchmarkEpochMS(b *testing.B) {
	iso := "2026-11-01T10:15:30.123+02:00"
	cases := []struct {
		name string
		fn   func() any
	}{
		{"iso/hand", func() any { v, _ := fnEpochMS(iso); return v }},
		{"iso/time.Parse-layouts", func() any { v, _ := referenceISO(iso); return v }},
		{"iso/time.Parse-RFC3339-only", func() any {
			tm, err := time.Parse(time.RFC3339, iso)
			if err != nil {
				return nil
			}
			return tm.UnixMilli()
		}},
		{"iso-no-zone/hand", func() any { v, _ := fnEpochMS("2026-11-01 10:15:30"); return v }},
		{"iso-no-zone/time.Parse-layouts", func() any { v, _ := referenceISO("2026-11-01 10:15:30"); return v }},
		{"float64-seconds", func() any { v, _ := fnEpochMS(1793527200.5); return v }},
		{"float64-ms", func() any { v, _ := fnEpochMS(float64(1793527200123)); return v }},
		{"string-ms", func() any { v, _ := fnEpochMS("1793527200123"); return v }},
		{"nil", func() any { v, _ := fnEpochMS(nil); return v }},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				sinkAny = c.fn()
			}
		})
	}
}
