package diag

import (
	"sort"
	"strings"
)

// Suggest returns the candidates closest to name, for a "did you mean" hint:
// those within an edit distance under 3 (case differences count as 0 when
// they are the only difference), nearest first, at most three.
func Suggest(name string, candidates []string) []string {
	type scored struct {
		s string
		d int
	}
	var found []scored
	for _, c := range candidates {
		if c == name {
			continue
		}
		d := distance(fold(name), fold(c))
		if strings.HasPrefix(c, name+"_") {
			d = 1 // activity -> activity_id, activity_name
		}
		if d < 3 && d < len(name) {
			found = append(found, scored{c, d})
		}
	}
	sort.SliceStable(found, func(i, j int) bool {
		if found[i].d != found[j].d {
			return found[i].d < found[j].d
		}
		return found[i].s < found[j].s
	})
	out := []string{}
	for i := 0; i < len(found) && i < 3; i++ {
		out = append(out, found[i].s)
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// fold compares names written in other conventions as equal:
// TypeId, typeId and type_id all fold to "typeid".
func fold(s string) string {
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '_' || c == '-':
			continue
		case c >= 'A' && c <= 'Z':
			c += 'a' - 'A'
		}
		b = append(b, c)
	}
	return string(b)
}

// distance is the Levenshtein distance between a and b (bytes).
func distance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
