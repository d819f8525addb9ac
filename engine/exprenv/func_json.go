package exprenv

func init() {
	register(Func{
		Name:  "json",
		Doc:   `json(v): compact JSON text of any value, object keys sorted, no HTML escaping; json(nil) = "null".`,
		Fn:    fnJSON,
		Types: []any{new(func(any) string)},
	})
}

func fnJSON(args ...any) (any, error) {
	if len(args) != 1 {
		return nil, arity("json", 1, len(args))
	}
	b, err := compactJSON(args[0])
	if err != nil {
		return nil, err
	}
	return string(b), nil
}
