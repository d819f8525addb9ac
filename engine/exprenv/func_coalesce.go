package exprenv

import "strings"

func init() {
	register(Func{
		Name:  "coalesce",
		Doc:   `coalesce(a, b, ...): the first argument that is neither nil nor a blank string; nil when there is none.`,
		Fn:    fnCoalesce,
		Types: []any{new(func(...any) any)},
	})
}

// fnCoalesce differs from expr's ?? in also skipping "" and "   ": vendors
// send blank strings for absent values as often as they omit the key.
func fnCoalesce(args ...any) (any, error) {
	for _, a := range args {
		switch x := a.(type) {
		case nil:
			continue
		case string:
			if strings.TrimSpace(x) == "" {
				continue
			}
		}
		return a, nil
	}
	return nil, nil
}
