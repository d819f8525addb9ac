package service

import (
	"cmp"
	"context"
	"errors"
	"slices"
	"sync"
	"time"
)

// Request bodies in flight share one memory budget across the service
// (Config.IngestMemory, a quarter of --memory by default): a request
// reserves bytes before its buffers grow, as its body is read, and gives
// them back when it ends. However many requests come at once and whatever
// their bodies look like, ingest holds no more than the budget; a request
// that cannot get its next part within MemoryWait is answered 503 with
// Retry-After and gives back what it held.
//
// Requests holding part of the budget never wait on each other for good:
// the older ones get bytes first, and when every request holding some is
// waiting for more, the youngest is refused and gives its bytes back.
// A request holding none waits while any holding some waits.

// errMemory is a request refused because the ingest memory budget is taken.
var errMemory = errors.New("too many request bodies in memory at once; retry later")

// memBudget is the service's ingest memory budget, in bytes.
type memBudget struct {
	mu      sync.Mutex
	size    int64
	used    int64
	seq     uint64        // requests admitted so far: their age
	holders int           // requests holding some bytes
	waiting []*memWaiter  // of those, the ones waiting for more, oldest first
	freed   chan struct{} // closed and replaced whenever bytes come back
}

// memWaiter is a request holding bytes and waiting for n more; done says
// whether it got them.
type memWaiter struct {
	seq  uint64
	n    int64
	done chan bool
}

func newMemBudget(size int64) *memBudget {
	return &memBudget{size: size, freed: make(chan struct{})}
}

// admit reserves the first n bytes of a request, waiting up to wait; the
// request's age is returned with true.
func (m *memBudget) admit(ctx context.Context, n int64, wait time.Duration) (uint64, bool) {
	if n > m.size {
		return 0, false // never: the whole budget is too small
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	m.mu.Lock()
	defer m.mu.Unlock()
	for {
		if len(m.waiting) == 0 && m.used+n <= m.size {
			m.used += n
			m.holders++
			m.seq++
			return m.seq, true
		}
		freed := m.freed
		m.mu.Unlock()
		over := false
		select {
		case <-freed:
		case <-t.C:
			over = true
		case <-ctx.Done():
			over = true
		}
		m.mu.Lock()
		if over {
			return 0, false
		}
	}
}

// grow reserves n more bytes for the request of age seq, which holds some;
// false when it was refused or wait passed (or ctx ended).
func (m *memBudget) grow(ctx context.Context, seq uint64, n int64, wait time.Duration) bool {
	if n > m.size {
		return false
	}
	m.mu.Lock()
	if len(m.waiting) == 0 && m.used+n <= m.size {
		m.used += n
		m.mu.Unlock()
		return true
	}
	w := &memWaiter{seq: seq, n: n, done: make(chan bool, 1)}
	i, _ := slices.BinarySearchFunc(m.waiting, seq, func(w *memWaiter, seq uint64) int { return cmp.Compare(w.seq, seq) })
	m.waiting = slices.Insert(m.waiting, i, w)
	m.settle()
	m.mu.Unlock()
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case ok := <-w.done:
		return ok
	case <-t.C:
	case <-ctx.Done():
	}
	m.mu.Lock()
	if i := slices.Index(m.waiting, w); i >= 0 {
		m.waiting = slices.Delete(m.waiting, i, i+1)
		m.settle()
		m.mu.Unlock()
		return false
	}
	m.mu.Unlock()
	return <-w.done // settled meanwhile
}

// settle hands bytes to the waiting requests, oldest first; when all the
// requests holding bytes wait, the youngest is refused (it gives its bytes
// back, and settle runs again). Called with m.mu held.
func (m *memBudget) settle() {
	for len(m.waiting) > 0 {
		if w := m.waiting[0]; m.used+w.n <= m.size {
			m.used += w.n
			m.waiting = m.waiting[1:]
			w.done <- true
			continue
		}
		if m.holders > len(m.waiting) {
			return // a request still running gives bytes back
		}
		y := m.waiting[len(m.waiting)-1]
		m.waiting = m.waiting[:len(m.waiting)-1]
		y.done <- false
		return
	}
}

// give takes back n bytes; done: the request holds none any more.
func (m *memBudget) give(n int64, done bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.used -= n
	if done {
		m.holders--
	}
	m.settle()
	close(m.freed)
	m.freed = make(chan struct{})
}

// inUse is what requests hold now.
func (m *memBudget) inUse() int64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.used
}

// reservation is one request's part of the budget: it covers the buffers
// the request holds, and grows before they do.
type reservation struct {
	m    *memBudget
	ctx  context.Context
	wait time.Duration
	seq  uint64 // the request's age, once admitted
	n    int64
}

// ensure makes the reservation at least n bytes; errMemory when the rest
// cannot be had.
func (r *reservation) ensure(n int64) error {
	if n <= r.n {
		return nil
	}
	ok := false
	if r.n == 0 {
		r.seq, ok = r.m.admit(r.ctx, n, r.wait)
	} else {
		ok = r.m.grow(r.ctx, r.seq, n-r.n, r.wait)
	}
	if !ok {
		return errMemory
	}
	r.n = n
	return nil
}

// release gives everything back; the request's buffers are no longer used.
func (r *reservation) release() {
	if r.n > 0 {
		r.m.give(r.n, true)
		r.n = 0
	}
}
