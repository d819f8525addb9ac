package exprenv

import (
	"fmt"
	"slices"
	"testing"
)

// Each case lists the calls found as "func(field)@offset"; offsets count
// runes, so text before a call may hold any character.
func TestStringCallsOnFields(t *testing.T) {
	for _, c := range []struct {
		text string
		want []string
	}{
		{`lower(risk) == "high"`, []string{"lower(risk)@0"}},
		{`upper( risk ) == "HIGH" || trim(owner.name) != ""`, []string{"upper(risk)@0", "trim(owner.name)@27"}},
		{`lower(risk ?? "") in ["critical", "high"]`, nil},
		// The name in a string literal, escaped quotes and all.
		{`csp == "lower(x)" && note == 'it\'s trim(y)' && a == ` + "`upper(z)`", nil},
		// A method of some value, a field that is called lower.
		{`meta.lower(x) == "a" && lower == "b" && obj.lower == "c"`, nil},
		// Paths: optional and bracketed members, the pipe form.
		{`lower(a?.b) == "x" && trim(tags["key name"]) != "" && (risk | upper()) == "H"`,
			[]string{`lower(a?.b)@0`, `trim(tags["key name"])@22`, `upper(risk)@62`}},
		// Not a bare field: a call, a constant, a let-variable, a predicate's element.
		{`lower(string(x)) == "a" && trim("  a ") == "a"`, nil},
		{`let r = risk ?? ""; lower(r) == "high"`, nil},
		{`any(owners, lower(.name) == "bob") || all(tags, trim(#) != "")`, nil},
		// Guarded by the field, or not by the same field.
		{`risk != nil && lower(risk) == "high"`, nil},
		{`nil != a?.b and trim(a.b) != ""`, nil},
		{`risk != nil ? lower(risk) : "none"`, nil},
		{`risk != nil ? "x" : lower(risk)`, []string{"lower(risk)@20"}},
		{`owner != nil && lower(risk) == "high"`, []string{"lower(risk)@16"}},
		{`risk != nil || lower(risk) == "high"`, []string{"lower(risk)@15"}},
		// Runes, not bytes: "é" is two bytes, one rune.
		{`note == "é" && lower(risk) == "x"`, []string{"lower(risk)@15"}},
		// Two lines.
		{"age > 30 &&\n  lower(csp) == \"aws\"", []string{"lower(csp)@14"}},
		// Does not parse: compiling reports it.
		{`lower(risk`, nil},
	} {
		var got []string
		for _, fc := range StringCallsOnFields(c.text) {
			got = append(got, fmt.Sprintf("%s(%s)@%d", fc.Func, fc.Field, fc.Offset))
		}
		if !slices.Equal(got, c.want) {
			t.Errorf("%s:\n got %q\nwant %q", c.text, got, c.want)
		}
	}
}
