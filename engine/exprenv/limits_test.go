package exprenv

import (
	"errors"
	"strings"
	"testing"
)

// A million nested parentheses overflowed the parser's stack: a fatal
// error no recover catches (issue 20, L1). They are refused before parsing.
func TestDeepNestingRefusedBeforeParsing(t *testing.T) {
	const n = 1 << 20
	deep := strings.Repeat("(", n) + "1" + strings.Repeat(")", n)
	for name, text := range map[string]string{
		"parentheses": deep[:MaxExprBytes/2] + deep[len(deep)-MaxExprBytes/2:],
		"brackets":    strings.Repeat("[", 1000) + strings.Repeat("]", 1000),
		"a million":   deep,
	} {
		_, err := Compile(text, Options{Bool: true})
		var ee *Error
		if !errors.As(err, &ee) {
			t.Fatalf("%s: want an *Error, got %v", name, err)
		}
		if !strings.Contains(ee.Message, "nested deeper") && !strings.Contains(ee.Message, "the limit is") {
			t.Errorf("%s: %q", name, ee.Message)
		}
	}
	_, err := Vars(deep, nil)
	if err == nil || !strings.Contains(err.Error(), "the limit is") {
		t.Errorf("Vars of a million parentheses: %v", err)
	}
}

func TestNestingLimitCountsOnlyCode(t *testing.T) {
	ok := strings.Repeat("(", MaxExprDepth) + "a" + strings.Repeat(")", MaxExprDepth)
	if _, err := Compile(ok, Options{}); err != nil {
		t.Errorf("nesting of %d: %v", MaxExprDepth, err)
	}
	tooDeep := "x + " + strings.Repeat("(", MaxExprDepth+1) + "a" + strings.Repeat(")", MaxExprDepth+1)
	_, err := Compile(tooDeep, Options{})
	var ee *Error
	if !errors.As(err, &ee) || ee.Offset != 4+MaxExprDepth {
		t.Errorf("nesting of %d: %v (offset %d), want an error at the bracket over the limit", MaxExprDepth+1, err, ee.Offset)
	}
	// Brackets in strings and comments are text.
	many := strings.Repeat("(", 200)
	for _, text := range []string{
		`a == "` + many + `"`,
		`a == '` + many + `\'` + many + `'`,
		"a == `" + many + "`",
		"a // " + many,
		"a /* " + many + " */ == 1",
	} {
		if _, err := Compile(text, Options{}); err != nil {
			t.Errorf("%.30q…: %v", text, err)
		}
	}
	if _, err := Compile(strings.Repeat(" ", MaxExprBytes)+"a", Options{}); err == nil {
		t.Errorf("an expression over %d bytes compiled", MaxExprBytes)
	}
}
