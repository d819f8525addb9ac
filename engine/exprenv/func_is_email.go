package exprenv

import "strings"

func init() {
	register(Func{
		Name:  "is_email",
		Doc:   `is_email(v): whether v is a string shaped like an email address (OCSF email_t: local@domain.tld), so a mapping can route names and addresses apart.`,
		Fn:    fnIsEmail,
		Types: []any{new(func(any) bool)},
	})
}

func fnIsEmail(args ...any) (any, error) {
	if len(args) != 1 {
		return nil, arity("is_email", 1, len(args))
	}
	s, ok := args[0].(string)
	if !ok {
		return false, nil
	}
	return isEmail(strings.TrimSpace(s)), nil
}

// isEmail follows OCSF's email_t pattern ^[a-zA-Z0-9_.+-]+@[a-zA-Z0-9-]+\.[a-zA-Z0-9-.]+$
// without a regexp engine on the hot path.
func isEmail(s string) bool {
	at := strings.IndexByte(s, '@')
	if at <= 0 || at == len(s)-1 {
		return false
	}
	for i := 0; i < at; i++ {
		c := s[i]
		if !(isAlnum(c) || c == '_' || c == '.' || c == '+' || c == '-') {
			return false
		}
	}
	domain := s[at+1:]
	dot := strings.IndexByte(domain, '.')
	if dot <= 0 || dot == len(domain)-1 {
		return false
	}
	for i := 0; i < len(domain); i++ {
		c := domain[i]
		if !(isAlnum(c) || c == '-' || (c == '.' && i >= dot)) {
			return false
		}
	}
	return true
}

func isAlnum(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}
