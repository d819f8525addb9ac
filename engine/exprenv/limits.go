package exprenv

import "fmt"

// Limits checked before an expression is parsed. expr's parser recurses
// once per nesting level: a million nested parentheses overflow the
// goroutine stack, which kills the process (recover cannot catch it). Every
// expression (a mapping's, an alert rule's, the console's scope check)
// reaches the parser through Vars, so the check there covers them all.
const (
	// MaxExprBytes is the longest expression accepted. Real ones are a few
	// hundred bytes; a template's holes joined stay well under it.
	MaxExprBytes = 64 << 10
	// MaxExprDepth is the deepest nesting of (), [] and {} accepted.
	MaxExprDepth = 64
)

// checkLimits refuses text over MaxExprBytes or nested deeper than
// MaxExprDepth, counting brackets outside string literals and comments,
// in one pass without allocating.
func checkLimits(text string) error {
	if len(text) > MaxExprBytes {
		return &Error{Message: fmt.Sprintf("expression of %d bytes: the limit is %d", len(text), MaxExprBytes)}
	}
	depth := 0
	for i := 0; i < len(text); i++ {
		switch c := text[i]; c {
		case '(', '[', '{':
			depth++
			if depth > MaxExprDepth {
				return &Error{Offset: runeOffset(text, i), Message: fmt.Sprintf("expression nested deeper than %d levels", MaxExprDepth)}
			}
		case ')', ']', '}':
			if depth > 0 {
				depth-- // an unbalanced one is the parser's to report
			}
		case '"', '\'':
			for i++; i < len(text) && text[i] != c; i++ {
				if text[i] == '\\' {
					i++
				}
			}
		case '`':
			for i++; i < len(text) && text[i] != '`'; i++ {
			}
		case '/':
			switch {
			case i+1 < len(text) && text[i+1] == '/':
				for i += 2; i < len(text) && text[i] != '\n'; i++ {
				}
			case i+1 < len(text) && text[i+1] == '*':
				i += 2
				for i+1 < len(text) && (text[i] != '*' || text[i+1] != '/') {
					i++
				}
				i++
			}
		}
	}
	return nil
}

// runeOffset is byte offset i as a rune offset, which Error.Offset is.
func runeOffset(text string, i int) int {
	n := 0
	for range text[:i] {
		n++
	}
	return n
}
