package ocsf

import (
	"fmt"
	"net/netip"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Type is a scalar type as a version's dictionary.json defines it (its
// "types"): the type it derives from and what the version constrains.
type Type struct {
	Base   string  `json:"type,omitempty"` // the type it derives from; "" for a primitive
	Regex  string  `json:"regex,omitempty"`
	MaxLen int     `json:"max_len,omitempty"`
	Range  []int64 `json:"range,omitempty"` // [low, high], inclusive
}

// Scalar checks the values of one scalar type of one version, compiled
// once. The checks are the version's own (dictionary.json's regex, range
// and max_len), with these departures, each because the version's
// definition cannot be applied as written or contradicts the version
// itself:
//
//   - ip_t: parsed as an IPv4 or IPv6 address (net/netip; surrounding spaces
//     and an IPv6 zone allowed, as 1.1.0's pattern allows them). The
//     1.0.0-rc.2 and 1.0.0 pattern is PCRE (atomic groups, recursion,
//     lookaheads) that Go's RE2 cannot run; the 1.1.0+ pattern leaves the
//     dots between IPv4 octets unescaped, so "1x2x3x4" would match.
//   - subnet_t: no version defines a pattern; every version defines it as
//     CIDR notation, parsed as such (net/netip).
//   - url_t: no version defines a pattern; the value must parse as a URL
//     (net/url) and hold no space or control character. A scheme is not
//     required: proxies log URLs without one.
//   - uuid_t: the versions' pattern is unanchored (any text holding a UUID
//     would match); it is anchored.
//   - datetime_t in 1.0.0-rc.2 and 1.0.0: the pattern spells the second
//     colon "%3A" and matches no RFC 3339 time; 1.1.0's pattern is used.
//   - file_name_t and path_t in 1.0.0-rc.2: the patterns (dropped in
//     1.0.0) refuse OCSF's own rc.2 examples: an absolute path such as
//     /usr/sbin/syslogd, any file name outside ASCII letters and digits.
//   - max_len is the type's own, not inherited: string_t's 65535 of the
//     older versions would cap every string (raw_data included), and the 64
//     of file_hash_t and resource_uid_t is shorter than a SHA-512 digest (an
//     algorithm those versions list) and than many ARNs.
//
// Types the version gives no pattern, range or length (hostname_t in
// 1.8.0, file_hash_t, username_t …) are not checked.
type Scalar struct {
	Type     string // "ip_t"
	what     string // what a valid value is, for messages
	match    func(string) bool
	maxLen   int
	min, max int64
	ranged   bool
}

// oldDatetime is the datetime_t pattern of 1.1.0, used where the version's
// own is broken (see Scalar).
const oldDatetime = `^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(Z|[\+-]\d{2}:\d{2})?$`

// newScalar compiles the check of one type, or returns nil when the version
// constrains nothing about it (or only through a base type's max_len).
func newScalar(version, name string, t *Type) (*Scalar, error) {
	s := &Scalar{Type: name, maxLen: t.MaxLen}
	if len(t.Range) == 2 {
		s.min, s.max, s.ranged = t.Range[0], t.Range[1], true
		s.what = fmt.Sprintf("an integer from %d to %d", s.min, s.max)
	}
	switch name {
	case "ip_t":
		s.what, s.match = "an IPv4 or IPv6 address", isIP
	case "subnet_t":
		s.what, s.match = "a subnet in CIDR notation (192.168.1.0/24, 2001:db8::/64)", isCIDR
	case "url_t":
		s.what, s.match = "a URL", isURL
	case "file_hash_t", "resource_uid_t", "string_t", "file_name_t", "path_t":
		return nil, nil // see Scalar
	default:
		pattern := t.Regex
		if name == "datetime_t" && strings.Contains(pattern, "%3A") {
			pattern = oldDatetime
		}
		if pattern == "" {
			break
		}
		if name == "uuid_t" && !strings.HasPrefix(pattern, "^") {
			pattern = "^(?:" + pattern + ")$"
		}
		re, err := regexp.Compile(pattern)
		if err != nil {
			return nil, fmt.Errorf("ocsf %s: type %s: pattern %q: %w", version, name, pattern, err)
		}
		s.what, s.match = "a value matching "+pattern, re.MatchString
		if lin := compileLinear(pattern); lin != nil {
			s.match = lin.match
		}
	}
	if s.match == nil && !s.ranged && s.maxLen == 0 {
		return nil, nil
	}
	if s.what == "" {
		s.what = fmt.Sprintf("at most %d characters", s.maxLen)
	}
	return s, nil
}

// CheckString returns why s is not a valid value of the type, or "".
func (s *Scalar) CheckString(v string) string {
	if s.maxLen > 0 && len(v) > s.maxLen && utf8.RuneCountInString(v) > s.maxLen {
		return fmt.Sprintf("%s is not a valid %s: longer than %d characters", quote(v), s.Type, s.maxLen)
	}
	if s.match != nil && !s.match(v) {
		return fmt.Sprintf("%s is not a valid %s (%s)", quote(v), s.Type, s.what)
	}
	return ""
}

// CheckInt returns why n is not a valid value of the type, or "".
func (s *Scalar) CheckInt(n int64) string {
	if s.ranged && (n < s.min || n > s.max) {
		return fmt.Sprintf("%d is not a valid %s (%s)", n, s.Type, s.what)
	}
	return ""
}

// quote quotes a value for a message, cut to a readable length.
func quote(v string) string {
	const max = 80
	if len(v) > max {
		cut := max
		for cut > 0 && !utf8.RuneStart(v[cut]) {
			cut--
		}
		return strconv.Quote(v[:cut]) + "…"
	}
	return strconv.Quote(v)
}

func isIP(v string) bool {
	_, err := netip.ParseAddr(strings.TrimSpace(v))
	return err == nil
}

func isCIDR(v string) bool {
	_, err := netip.ParsePrefix(v)
	return err == nil
}

func isURL(v string) bool {
	if v == "" || strings.ContainsFunc(v, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
		return false
	}
	_, err := url.Parse(v)
	return err == nil
}

// Scalar returns the check of a scalar type of the catalog's version
// ("ip_t"), or nil when the type is unknown or the version constrains
// nothing about it.
func (c *Catalog) Scalar(typ string) *Scalar { return c.scalars[typ] }

// Types returns the version's scalar types by name, as dictionary.json
// defines them. Callers must not modify it.
func (c *Catalog) Types() map[string]*Type { return c.types }
