package exprenv

import "strings"

func init() {
	register(Func{
		Name:  "norm",
		Doc:   `norm(v): lower-case, trimmed string form of v for lookups and comparisons ("  IN Progress " -> "in progress"); nil -> "".`,
		Fn:    fnNorm,
		Types: []any{new(func(any) string)},
	})
}

func fnNorm(args ...any) (any, error) {
	if len(args) != 1 {
		return nil, arity("norm", 1, len(args))
	}
	s, _, err := scalarString(args[0])
	if err != nil {
		return nil, err
	}
	// Both calls return s itself when there is nothing to change, so the
	// common already-clean value costs no copy.
	return strings.ToLower(strings.TrimSpace(s)), nil
}
