package ocsf

import (
	"regexp/syntax"
	"unicode/utf8"
)

// Most OCSF type patterns (email_t, mac_t, uuid_t) are an anchored run of
// character classes, each once, a fixed number of times, or one or more
// times, where a repeated class never holds the character that must follow
// it. Such a pattern has exactly one way to match, found by a greedy scan,
// several times faster than Go's regexp (which runs it as a one-pass NFA).
// The plan checks one value per typed attribute of each record, so this
// matters; any other pattern runs through regexp.

// linearPattern is a pattern compiled to its sequence of elements.
type linearPattern []linearElem

type linearElem struct {
	ascii    [128]bool // the class's ASCII members
	ranges   []rune    // the class as regexp/syntax gives it (pairs lo, hi), for the rest
	min, max int       // repetitions; max < 0: no bound
}

func (e *linearElem) has(r rune) bool {
	if r < utf8.RuneSelf {
		return e.ascii[r]
	}
	for i := 0; i+1 < len(e.ranges); i += 2 {
		if e.ranges[i] <= r && r <= e.ranges[i+1] {
			return true
		}
	}
	return false
}

// compileLinear returns the linear form of a pattern, or nil when it has
// none (then the caller uses regexp).
func compileLinear(pattern string) linearPattern {
	re, err := syntax.Parse(pattern, syntax.Perl)
	if err != nil {
		return nil
	}
	re = re.Simplify()
	var elems []*syntax.Regexp
	var flatten func(r *syntax.Regexp) bool
	flatten = func(r *syntax.Regexp) bool {
		switch r.Op {
		case syntax.OpConcat:
			for _, s := range r.Sub {
				if !flatten(s) {
					return false
				}
			}
			return true
		case syntax.OpCapture:
			return flatten(r.Sub[0])
		case syntax.OpLiteral:
			if r.Flags&syntax.FoldCase != 0 {
				return false
			}
			for _, c := range r.Rune {
				elems = append(elems, &syntax.Regexp{Op: syntax.OpCharClass, Rune: []rune{c, c}})
			}
			return true
		default:
			elems = append(elems, r)
			return true
		}
	}
	if !flatten(re) || len(elems) < 2 || elems[0].Op != syntax.OpBeginText || elems[len(elems)-1].Op != syntax.OpEndText {
		return nil
	}
	elems = elems[1 : len(elems)-1]
	out := make(linearPattern, 0, len(elems))
	for _, r := range elems {
		e := linearElem{min: 1, max: 1}
		switch r.Op {
		case syntax.OpPlus:
			e.max = -1
			r = r.Sub[0]
		case syntax.OpCharClass:
		default:
			return nil
		}
		switch {
		case r.Op == syntax.OpCharClass:
			e.ranges = r.Rune
		case r.Op == syntax.OpLiteral && len(r.Rune) == 1 && r.Flags&syntax.FoldCase == 0:
			e.ranges = []rune{r.Rune[0], r.Rune[0]}
		default:
			return nil
		}
		for c := rune(0); c < utf8.RuneSelf; c++ {
			for i := 0; i+1 < len(e.ranges); i += 2 {
				if e.ranges[i] <= c && c <= e.ranges[i+1] {
					e.ascii[c] = true
				}
			}
		}
		out = append(out, e)
	}
	// One way to match: a repeated class holds nothing of the next class.
	for i := range out {
		if out[i].max >= 0 || i+1 == len(out) {
			continue
		}
		next := &out[i+1]
		for c := range utf8.RuneSelf {
			if out[i].ascii[c] && next.ascii[c] {
				return nil
			}
		}
		if hasNonASCII(out[i].ranges) && hasNonASCII(next.ranges) {
			return nil // not worth proving disjoint: use regexp
		}
	}
	return out
}

func hasNonASCII(ranges []rune) bool {
	return len(ranges) > 0 && ranges[len(ranges)-1] >= utf8.RuneSelf
}

// match reports whether the whole of s matches.
func (p linearPattern) match(s string) bool {
	pos := 0
	for i := range p {
		e := &p[i]
		n := 0
		for (e.max < 0 || n < e.max) && pos < len(s) {
			r, size := rune(s[pos]), 1
			if r >= utf8.RuneSelf {
				r, size = utf8.DecodeRuneInString(s[pos:])
			}
			if !e.has(r) {
				break
			}
			pos += size
			n++
		}
		if n < e.min {
			return false
		}
	}
	return pos == len(s)
}
