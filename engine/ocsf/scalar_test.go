package ocsf

import (
	"strings"
	"testing"
)

// TestScalarChecks checks typed values against each version's own type
// definitions: the repro values of issue 19 fail in every version, the
// documented examples pass.
func TestScalarChecks(t *testing.T) {
	type tc struct {
		typ  string
		good []string
		bad  []string
	}
	common := []tc{
		{"ip_t", []string{"192.168.200.24", "2001:0db8:85a3:0000:0000:8a2e:0370:7334", "::1", "fe80::1%eth0", "::ffff:10.0.0.1"},
			[]string{"ec2.amazonaws.com", "1x2x3x4", "256.1.1.1", "10.0.0.0/8", ""}},
		{"subnet_t", []string{"192.168.1.0/24", "2001:0db8:85a3:0000::/64"}, []string{"192.168.1.0", "10.0.0.0/33", "a/b"}},
		{"mac_t", []string{"00:1A:2b:3c:4D:5e", "00-1a-2b-3c-4d-5e"}, []string{"not-a-mac", "001a.2b3c.4d5e", "00:1a:2b:3c:4d"}},
		{"email_t", []string{"john_doe@example.com", "a.b+c@mail.example.org"}, []string{"nobody", "@example.com", "a@b"}},
		{"url_t", []string{"http://www.example.com/download/trouble.exe", "www.example.com/search?q=1", "mailto:a@b.c"}, []string{"not a url", "http://a b", "", "http://x/\x01"}},
		{"uuid_t", []string{"123e4567-e89b-12d3-a456-426614174000"}, []string{"not-a-uuid", "x123e4567-e89b-12d3-a456-426614174000"}},
		{"datetime_t", []string{"2024-10-08T16:15:32Z", "2024-10-08T16:15:32.123+02:00"}, []string{"Oct 8, 2024", "2024-10-08 16:15:32"}},
	}
	for _, v := range Versions() {
		c := mustLoad(t, v)
		for _, tt := range common {
			s := c.Scalar(tt.typ)
			if s == nil {
				t.Errorf("%s %s: not checked", v, tt.typ)
				continue
			}
			for _, g := range tt.good {
				if msg := s.CheckString(g); msg != "" {
					t.Errorf("%s %s %q: %s", v, tt.typ, g, msg)
				}
			}
			for _, b := range tt.bad {
				if msg := s.CheckString(b); msg == "" || !strings.Contains(msg, tt.typ) {
					t.Errorf("%s %s %q: passes (%q)", v, tt.typ, b, msg)
				}
			}
		}
		port := c.Scalar("port_t")
		if port == nil || port.CheckInt(70000) == "" || port.CheckInt(-1) == "" || port.CheckInt(0) != "" || port.CheckInt(65535) != "" {
			t.Errorf("%s port_t: 70000, -1 not refused or 0, 65535 refused", v)
		}
		for _, unchecked := range []string{"string_t", "file_hash_t", "resource_uid_t", "file_name_t", "path_t", "integer_t", "timestamp_t"} {
			if c.Scalar(unchecked) != nil {
				t.Errorf("%s %s: checked, want not", v, unchecked)
			}
		}
	}
	// The version's own definitions: hostname_t has a pattern up to 1.3.0
	// and none in 1.8.0; file_name_t has one in 1.0.0-rc.2 only.
	if s := mustLoad(t, "1.1.0").Scalar("hostname_t"); s == nil || s.CheckString("r2-d2.example.com") != "" || s.CheckString("no spaces allowed") == "" {
		t.Error("1.1.0 hostname_t: not the version's pattern")
	}
	if mustLoad(t, "1.8.0").Scalar("hostname_t") != nil {
		t.Error("1.8.0 hostname_t: checked, but 1.8.0 defines no pattern")
	}
	if s := mustLoad(t, "1.1.0").Scalar("mac_t"); !strings.Contains(s.CheckString(strings.Repeat("a", 33)), "longer than 32") {
		t.Error("1.1.0 mac_t: max_len 32 not applied")
	}
	if s := mustLoad(t, "1.1.0").Scalar("ip_t"); !strings.Contains(s.CheckString(strings.Repeat("1", 100)), "…") {
		t.Error("a long value is not cut in the message")
	}
}

// BenchmarkScalar is the per-value cost of a typed check (the plan runs one
// per typed attribute of each record).
func BenchmarkScalar(b *testing.B) {
	c := mustLoad(b, "1.1.0")
	for _, tc := range []struct{ typ, v string }{
		{"email_t", "john.doe@example.com"}, {"ip_t", "192.168.200.24"}, {"ip_t", "2001:db8::8a2e:370:7334"},
		{"mac_t", "00:1a:2b:3c:4d:5e"}, {"url_t", "https://www.example.com/download/trouble.exe?x=1"},
	} {
		s := c.Scalar(tc.typ)
		b.Run(tc.typ, func(b *testing.B) {
			for b.Loop() {
				if s.CheckString(tc.v) != "" {
					b.Fatal(tc.v)
				}
			}
		})
	}
}
