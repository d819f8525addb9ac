package service

import (
	"sync"
	"time"
)

// recentAlerts is how many received alerts each integration keeps in
// memory for the console (rule previews, the playground).
const recentAlerts = 50

// maxRecentAlert is the largest alert the ring keeps (64 KiB): 50 of them
// are at most 3.2 MiB per integration, and a console page stays small.
const maxRecentAlert = 64 << 10

// Recent is one received alert.
type Recent struct {
	At    time.Time
	Alert []byte
}

// ring keeps the last n alerts received.
type ring struct {
	mu   sync.Mutex
	buf  []Recent
	next int
	full bool
}

func newRing(n int) *ring { return &ring{buf: make([]Recent, n)} }

func (r *ring) add(at time.Time, alert []byte) {
	r.mu.Lock()
	r.buf[r.next] = Recent{At: at, Alert: append([]byte(nil), alert...)}
	r.next = (r.next + 1) % len(r.buf)
	if r.next == 0 {
		r.full = true
	}
	r.mu.Unlock()
}

// list returns the alerts, newest first.
func (r *ring) list() []Recent {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := r.next
	if r.full {
		n = len(r.buf)
	}
	out := make([]Recent, 0, n)
	for i := 1; i <= n; i++ {
		out = append(out, r.buf[(r.next-i+len(r.buf))%len(r.buf)])
	}
	return out
}
