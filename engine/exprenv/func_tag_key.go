package exprenv

import "strings"

func init() {
	register(Func{
		Name:  "tag_key",
		Doc:   `tag_key(s): the key of a "k:v" tag, split at the first ':' (or '=' when there is no ':'), trimmed; the whole tag when it has neither; nil -> "".`,
		Fn:    fnTagKey,
		Types: []any{new(func(any) string)},
	})
}

func fnTagKey(args ...any) (any, error) {
	if len(args) != 1 {
		return nil, arity("tag_key", 1, len(args))
	}
	s, _, err := scalarString(args[0])
	if err != nil {
		return nil, err
	}
	k, _ := splitTag(s)
	return k, nil
}

// splitTag splits at the first ':' so that values may hold colons
// ("arn:aws:..." or URLs); '=' is the other common separator
// ("env=prod"), used only when there is no ':'.
func splitTag(s string) (key, value string) {
	i := strings.IndexByte(s, ':')
	if i < 0 {
		i = strings.IndexByte(s, '=')
	}
	if i < 0 {
		return strings.TrimSpace(s), ""
	}
	return strings.TrimSpace(s[:i]), strings.TrimSpace(s[i+1:])
}
