package console

import (
	"net"
	"strings"
	"sync"
	"time"
)

// throttle lets through at most burst actions at once after a quiet spell,
// then one per every; running counts those under way, at most one at a
// time. Test Connection assumes a role and may write a probe object: it is
// not something to run in a loop.
type throttle struct {
	every time.Duration
	burst int

	mu      sync.Mutex
	tokens  float64
	last    time.Time
	running bool
}

func newThrottle(every time.Duration, burst int) *throttle {
	return &throttle{every: every, burst: burst, tokens: float64(burst)}
}

// start takes a turn: ok, and done to call when the action ends; or the
// wait before the next turn.
func (t *throttle) start(now time.Time) (done func(), wait time.Duration, ok bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.last.IsZero() {
		t.tokens = min(float64(t.burst), t.tokens+float64(now.Sub(t.last))/float64(t.every))
	}
	t.last = now
	if t.running {
		return nil, time.Second, false
	}
	if t.tokens < 1 {
		return nil, time.Duration((1 - t.tokens) * float64(t.every)), false
	}
	t.tokens--
	t.running = true
	return func() {
		t.mu.Lock()
		t.running = false
		t.mu.Unlock()
	}, 0, true
}

// signInGuard makes guessing the admin token slow whatever the number of
// connections: every sign-in is checked one at a time, a wrong one holds
// the line for failDelay, and an address with lockAfter wrong ones within
// lockFor is refused, without its token being compared, until lockFor has
// passed since its last.
type signInGuard struct {
	failDelay time.Duration
	lockAfter int
	lockFor   time.Duration

	mu       sync.Mutex // held through a check and its delay: attempts queue
	failures map[string][]time.Time
}

func newSignInGuard() *signInGuard {
	return &signInGuard{failDelay: 300 * time.Millisecond, lockAfter: 10, lockFor: 15 * time.Minute, failures: map[string][]time.Time{}}
}

// check runs one sign-in attempt from remote: locked says it was refused
// unchecked; otherwise ok is try's verdict.
func (g *signInGuard) check(remote string, try func() bool) (ok, locked bool) {
	host, _, err := net.SplitHostPort(remote)
	if err != nil {
		host = remote
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	now := time.Now()
	recent := g.failures[host][:0]
	for _, at := range g.failures[host] {
		if now.Sub(at) < g.lockFor {
			recent = append(recent, at)
		}
	}
	g.failures[host] = recent
	if len(recent) == 0 {
		delete(g.failures, host)
	}
	if len(recent) >= g.lockAfter {
		return false, true
	}
	if try() {
		delete(g.failures, host)
		return true, false
	}
	g.failures[host] = append(recent, now)
	if len(g.failures) > maxTracked { // many addresses: forget those quiet for lockFor
		for h, at := range g.failures {
			if now.Sub(at[len(at)-1]) >= g.lockFor {
				delete(g.failures, h)
			}
		}
	}
	time.Sleep(g.failDelay)
	return false, false
}

// maxTracked is how many addresses with recent failures are kept before the
// quiet ones are dropped (a wrong token costs failDelay, one at a time, so
// the map grows by a few a second at most).
const maxTracked = 10000

// hostAllowed tells whether a request's Host header names this server: an
// IP address (no DNS name, so no DNS rebinding), localhost, or one of the
// allowed names. A page of another site whose name was made to resolve
// here carries its own name, and is refused.
func hostAllowed(host string, allowed []string) bool {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.ToLower(strings.Trim(host, "[]")), ".")
	if host == "" {
		return false
	}
	if net.ParseIP(host) != nil || host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return true
	}
	for _, a := range allowed {
		if strings.EqualFold(strings.TrimSuffix(a, "."), host) {
			return true
		}
	}
	return false
}
