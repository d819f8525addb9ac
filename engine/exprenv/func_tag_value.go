package exprenv

func init() {
	register(Func{
		Name:  "tag_value",
		Doc:   `tag_value(s): the value of a "k:v" tag, after the first ':' (or '=' when there is no ':'), trimmed; "" when it has neither; nil -> "".`,
		Fn:    fnTagValue,
		Types: []any{new(func(any) string)},
	})
}

func fnTagValue(args ...any) (any, error) {
	if len(args) != 1 {
		return nil, arity("tag_value", 1, len(args))
	}
	s, _, err := scalarString(args[0])
	if err != nil {
		return nil, err
	}
	_, v := splitTag(s)
	return v, nil
}
