package exprenv

import (
	"math"
	"strings"
	"time"
)

func init() {
	register(Func{
		Name: "epoch_ms",
		Doc: `epoch_ms(v): a time as int64 epoch milliseconds, from ISO-8601/RFC 3339 text (extended or basic: 20131102T010628Z) or epoch seconds/ms/µs/ns (number or numeric string, unit by magnitude); ` +
			`nil means "no usable time" (nil, blank, unparseable, <= 1970-01-01 or after 9999), so epoch_ms(a) ?? epoch_ms(b) falls back.`,
		Fn:    fnEpochMS,
		Types: []any{new(func(any) any)},
	})
}

// maxEpochMS is 9999-12-31T23:59:59.999Z, the last instant a four-digit
// year (and Parquet readers' timestamp ranges) can express.
const maxEpochMS = 253402300799999

func fnEpochMS(args ...any) (any, error) {
	if len(args) != 1 {
		return nil, arity("epoch_ms", 1, len(args))
	}
	if ms, ok := epochMS(args[0]); ok {
		return ms, nil
	}
	return nil, nil
}

// epochMS never fails loudly: a time that cannot be read is the ordinary
// case of an alert without that field, and the mapping decides (through
// ?? fallbacks and the dead-letter policy) what a record without time means.
// Zero and negative times are refused because 0 is the usual "unset"
// sentinel, and stamping an alert 1970-01-01 would hide that it had no time.
func epochMS(v any) (int64, bool) {
	var ms int64
	var ok bool
	switch x := v.(type) {
	case string:
		ms, ok = epochMSString(x)
	case time.Time:
		ms, ok = x.UnixMilli(), true
	default:
		n, isNum := toNumber(v)
		if !isNum {
			return 0, false
		}
		if n.isInt {
			ms, ok = epochFromInt(n.i, "")
		} else {
			ms, ok = epochFromFloat(n.f)
		}
	}
	if !ok || ms <= 0 || ms > maxEpochMS {
		return 0, false
	}
	return ms, true
}

func epochMSString(s string) (int64, bool) {
	s = strings.TrimSpace(s)
	if len(s) >= 10 && s[4] == '-' {
		return parseISO(s)
	}
	if len(s) >= 15 && s[8] == 'T' {
		// ISO-8601's basic format (20131102T010628Z, as AWS signs requests):
		// the extended form with the separators put back.
		return parseISO(s[0:4] + "-" + s[4:6] + "-" + s[6:8] + "T" + s[9:11] + ":" + s[11:13] + ":" + s[13:15] + s[15:])
	}
	// Digits with an optional fraction are read exactly: through float64,
	// "1700000000.123" would come out as ...122.
	if ip, frac, ok := splitDecimal(s); ok {
		return epochFromInt(ip, frac)
	}
	n, ok := parseNumber(s)
	if !ok {
		return 0, false
	}
	if n.isInt {
		return epochFromInt(n.i, "")
	}
	return epochFromFloat(n.f)
}

// splitDecimal splits "[+]digits[.digits]" into its integer value and the
// fraction digits. ok is false for anything else, including integer parts
// beyond 18 digits (which then take the float path).
func splitDecimal(s string) (ip int64, frac string, ok bool) {
	i := 0
	if i < len(s) && s[i] == '+' {
		i++
	}
	start := i
	for ; i < len(s) && s[i] >= '0' && s[i] <= '9'; i++ {
		if i-start >= 18 {
			return 0, "", false
		}
		ip = ip*10 + int64(s[i]-'0')
	}
	if i == start {
		return 0, "", false
	}
	if i == len(s) {
		return ip, "", true
	}
	if s[i] != '.' {
		return 0, "", false
	}
	i++
	fs := i
	for ; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, "", false
		}
	}
	return ip, s[fs:], true
}

// epochFromInt applies the magnitude rule to an integer part and, for
// seconds, the first three fraction digits. The thresholds leave every unit
// a wide band of plausible dates: seconds < 1e11 reach year 5138, ms below
// 1e11 are before 1973.
func epochFromInt(ip int64, frac string) (int64, bool) {
	if ip < 0 {
		return 0, false
	}
	switch {
	case ip < 1e11:
		ms := ip * 1000
		mult := int64(100)
		for i := 0; i < len(frac) && i < 3; i++ {
			ms += int64(frac[i]-'0') * mult
			mult /= 10
		}
		return ms, true
	case ip < 1e14:
		return ip, true
	case ip < 1e17:
		return ip / 1e3, true
	default:
		return ip / 1e6, true
	}
}

func epochFromFloat(f float64) (int64, bool) {
	if !(f > 0) || math.IsInf(f, 0) { // also refuses NaN
		return 0, false
	}
	var ms float64
	switch {
	case f < 1e11:
		// Round at the microsecond first: 1700000000.123 is stored as
		// 1700000000.12299990654, and the caller meant .123.
		ms = math.Floor(math.Round(f*1e6) / 1e3)
	case f < 1e14:
		ms = math.Floor(f)
	case f < 1e17:
		ms = math.Floor(f / 1e3)
	default:
		ms = math.Floor(f / 1e6)
	}
	if ms > maxEpochMS {
		return 0, false
	}
	return int64(ms), true
}

// parseISO reads the ISO-8601 / RFC 3339 forms alerts carry, without
// time.Parse: trying several layouts per value costs microseconds and
// allocations on the hottest field of the mapping (see BenchmarkEpochMS).
//
//	YYYY-MM-DD
//	YYYY-MM-DD(T|t| )hh:mm[:ss[(.|,)fraction]][ ][zone]
//	zone: Z | z | ±hh:mm | ±hhmm | ±hh | UTC | GMT (any case); none means UTC
//
// Fields are range-checked as time.Parse does (hour 0-23, second 0-59, the
// day within its month, zone offsets up to 24:60); the fraction is
// truncated to milliseconds.
func parseISO(s string) (int64, bool) {
	if len(s) < 10 || s[4] != '-' || s[7] != '-' {
		return 0, false
	}
	y, ok1 := digits(s[0:4])
	mo, ok2 := digits(s[5:7])
	d, ok3 := digits(s[8:10])
	if !ok1 || !ok2 || !ok3 || mo < 1 || mo > 12 || d < 1 || d > daysIn(mo, y) {
		return 0, false
	}
	ms := daysFromCivil(y, mo, d) * 86400000
	if len(s) == 10 {
		return ms, true
	}
	if c := s[10]; c != 'T' && c != 't' && c != ' ' {
		return 0, false
	}
	s = s[11:]
	if len(s) < 5 || s[2] != ':' {
		return 0, false
	}
	hh, ok1 := digits(s[0:2])
	mi, ok2 := digits(s[3:5])
	if !ok1 || !ok2 || hh > 23 || mi > 59 {
		return 0, false
	}
	ms += (hh*3600 + mi*60) * 1000
	s = s[5:]
	if len(s) >= 3 && s[0] == ':' {
		ss, ok := digits(s[1:3])
		if !ok || ss > 59 {
			return 0, false
		}
		ms += ss * 1000
		s = s[3:]
		if len(s) >= 2 && (s[0] == '.' || s[0] == ',') && isDigit(s[1]) {
			i, mult := 1, int64(100)
			for ; i < len(s) && isDigit(s[i]); i++ {
				ms += int64(s[i]-'0') * mult
				mult /= 10 // 0 after the third digit: the rest is truncated
			}
			s = s[i:]
		}
	}
	if s == "" {
		return ms, true
	}
	if s[0] == ' ' {
		s = s[1:]
	}
	off, ok := parseZone(s)
	if !ok {
		return 0, false
	}
	return ms - off, true
}

// parseZone returns the zone's offset from UTC in milliseconds.
func parseZone(s string) (int64, bool) {
	switch {
	case s == "Z" || s == "z" || strings.EqualFold(s, "UTC") || strings.EqualFold(s, "GMT"):
		return 0, true
	case len(s) < 3 || (s[0] != '+' && s[0] != '-'):
		return 0, false
	}
	hh, ok := digits(s[1:3])
	if !ok {
		return 0, false
	}
	var mi int64
	switch rest := s[3:]; {
	case rest == "":
	case len(rest) == 3 && rest[0] == ':':
		mi, ok = digits(rest[1:])
	case len(rest) == 2:
		mi, ok = digits(rest)
	default:
		return 0, false
	}
	if !ok || hh > 24 || mi > 60 {
		return 0, false
	}
	off := (hh*3600 + mi*60) * 1000
	if s[0] == '-' {
		off = -off
	}
	return off, true
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// digits parses a short run of ASCII digits; no sign, no blanks.
func digits(s string) (int64, bool) {
	var n int64
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return 0, false
		}
		n = n*10 + int64(s[i]-'0')
	}
	return n, true
}

func daysIn(month, year int64) int64 {
	switch month {
	case 2:
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// daysFromCivil is days since 1970-01-01 of a proleptic Gregorian date
// (Howard Hinnant's algorithm, valid for any year).
func daysFromCivil(y, m, d int64) int64 {
	if m <= 2 {
		y--
	}
	era := y
	if era < 0 {
		era -= 399
	}
	era /= 400
	yoe := y - era*400
	mp := (m + 9) % 12
	doy := (153*mp+2)/5 + d - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return era*146097 + doe - 719468
}
