package console

import (
	"testing"
	"time"
)

// Test Connection runs one at a time, five in a row, then one per period.
func TestThrottle(t *testing.T) {
	th := newThrottle(10*time.Second, 5)
	now := time.Unix(1e9, 0)
	done, _, ok := th.start(now)
	if !ok {
		t.Fatal("the first test was refused")
	}
	if _, wait, ok := th.start(now); ok || wait <= 0 {
		t.Errorf("a second test while the first runs: ok %v, wait %s", ok, wait)
	}
	done()
	for i := range 4 {
		d, _, ok := th.start(now)
		if !ok {
			t.Fatalf("test %d of the burst refused", i+2)
		}
		d()
	}
	_, wait, ok := th.start(now)
	if ok || wait != 10*time.Second {
		t.Errorf("the sixth test at once: ok %v, wait %s; want refused for 10s", ok, wait)
	}
	if d, _, ok := th.start(now.Add(10 * time.Second)); !ok {
		t.Errorf("a test a period later was refused")
	} else {
		d()
	}
}

func TestHostAllowed(t *testing.T) {
	allowed := []string{"console.example.com", "ocsfmap.internal."}
	for host, want := range map[string]bool{
		"127.0.0.1:8470": true, "[::1]:8470": true, "10.1.2.3": true, "localhost:8470": true, "LOCALHOST": true,
		"app.localhost": true, "console.example.com": true, "Console.Example.COM:443": true, "ocsfmap.internal": true,
		"evil.example": false, "console.example.com.evil.example": false, "": false, "127.0.0.1.nip.io": false,
	} {
		if got := hostAllowed(host, allowed); got != want {
			t.Errorf("%q: %v, want %v", host, got, want)
		}
	}
}
