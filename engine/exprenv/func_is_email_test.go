package exprenv

import (
	"regexp"
	"testing"
)

var emailPattern = regexp.MustCompile(`^[a-zA-Z0-9_.+-]+@[a-zA-Z0-9-]+\.[a-zA-Z0-9-.]+$`)

func TestIsEmail(t *testing.T) {
	for _, tc := range []struct {
		in   any
		want bool
	}{
		{"jane@example.com", true},
		{" jane.doe+x@mail.example.co.uk ", true},
		{"svc-1@project.iam.gserviceaccount.com", true},
		{"AdminRole", false},
		{"@example.com", false},
		{"jane@", false},
		{"jane@localhost", false},
		{"jane@exa_mple.com", false},
		{"jane doe@example.com", false},
		{"a@b.", false},
		{nil, false},
		{42.0, false},
	} {
		got, err := fnIsEmail(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("is_email(%#v) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
}

// FuzzIsEmail holds the hand-written check to OCSF's email_t pattern.
func FuzzIsEmail(f *testing.F) {
	for _, s := range []string{"a@b.c", "x.y@z-1.io", "a@b", "@", "a@.b", "a@b..c", "a@b.c-"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := isEmail(s), emailPattern.MatchString(s); got != want {
			t.Fatalf("isEmail(%q) = %v, email_t pattern says %v", s, got, want)
		}
	})
}
