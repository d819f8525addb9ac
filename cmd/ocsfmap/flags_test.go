package main

import "testing"

func TestByteSize(t *testing.T) {
	for in, want := range map[string]int64{
		"268435456": 256 << 20,
		"256MiB":    256 << 20,
		"256MB":     256 << 20,
		"1GiB":      1 << 30,
		"2G":        2 << 30,
		"512 KiB":   512 << 10,
	} {
		var b byteSize
		if err := b.Set(in); err != nil || int64(b) != want {
			t.Errorf("%q: got %d, %v; want %d", in, b, err, want)
		}
	}
	for _, in := range []string{"", "12x", "-1MiB", "0", "MiB", "99999999999GiB"} {
		var b byteSize
		if err := b.Set(in); err == nil {
			t.Errorf("%q: accepted as %d", in, b)
		}
	}
	for v, want := range map[byteSize]string{256 << 20: "256MiB", 1 << 30: "1GiB", 1000: "1000", 3 << 10: "3KiB"} {
		if got := v.String(); got != want {
			t.Errorf("%d prints %q, want %q", v, got, want)
		}
	}
}
