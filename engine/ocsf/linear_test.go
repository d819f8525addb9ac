package ocsf

import (
	"math/rand/v2"
	"regexp"
	"strings"
	"testing"
)

// TestLinearMatchesRegexp: the greedy matcher gives regexp's answer on
// every OCSF type pattern it takes, over values built from the patterns'
// own characters; and it takes the patterns the plan checks most.
func TestLinearMatchesRegexp(t *testing.T) {
	const alphabet = "aZz09-._@+:/%!=?^`{|}~ \té"
	rng := rand.New(rand.NewPCG(1, 2))
	taken := map[string]bool{}
	for _, v := range Versions() {
		for name, typ := range mustLoad(t, v).Types() {
			pattern := typ.Regex
			if pattern == "" {
				continue
			}
			if name == "uuid_t" {
				pattern = "^(?:" + pattern + ")$"
			}
			lin := compileLinear(pattern)
			if lin == nil {
				continue
			}
			taken[name] = true
			re := regexp.MustCompile(pattern)
			samples := []string{"", "john_doe@example.com", "a.b+c@mail.example.org", "00:1a:2b:3c:4d:5e", "00-1A-2B-3C-4D-5E",
				"123e4567-e89b-12d3-a456-426614174000", "nobody", "a@b", "@b.c", "a@b.", "a@.b", "a@b.c."}
			alpha := []rune(alphabet)
			for range 20000 {
				var b strings.Builder
				for range rng.IntN(40) {
					b.WriteRune(alpha[rng.IntN(len(alpha))])
				}
				samples = append(samples, b.String())
			}
			// Mutations of valid values find the edges random text misses.
			for _, s := range samples[1:6] {
				for i := range len(s) {
					for _, c := range alpha {
						samples = append(samples, s[:i]+string(c)+s[i+1:], s[:i]+s[i+1:], s[:i]+string(c)+s[i:])
					}
				}
			}
			for _, s := range samples {
				if got, want := lin.match(s), re.MatchString(s); got != want {
					t.Errorf("%s %s %q: linear %v, regexp %v", v, name, s, got, want)
				}
			}
		}
	}
	for _, name := range []string{"email_t", "mac_t", "uuid_t"} {
		if !taken[name] {
			t.Errorf("%s: its pattern does not take the linear path", name)
		}
	}
}
