package lake

import (
	"math/bits"
	"sync"
	"sync/atomic"

	"github.com/apache/arrow-go/v18/arrow/memory"
)

// countingAllocator tracks the bytes Arrow holds, so the buffer cap is
// enforced on real allocations (builder slack, padding and minimum
// capacities included), not on an estimate.
type countingAllocator struct {
	memory.Allocator
	inUse atomic.Int64
}

func (a *countingAllocator) Allocate(n int) []byte {
	b := a.Allocator.Allocate(n)
	a.inUse.Add(int64(cap(b)))
	return b
}

func (a *countingAllocator) Reallocate(n int, b []byte) []byte {
	old := cap(b)
	b = a.Allocator.Reallocate(n, b)
	a.inUse.Add(int64(cap(b) - old))
	return b
}

func (a *countingAllocator) Free(b []byte) {
	a.inUse.Add(-int64(cap(b)))
	a.Allocator.Free(b)
}

// recyclingAllocator keeps freed large buffers for reuse. The writer's
// buffers follow one cycle over and over (builders grow by doubling, are
// sorted into a run, spilled, read back, merged, written, freed): without
// reuse every cycle takes fresh memory, which is zeroed, page-faulted in
// and, on the Go heap, garbage-collected; that cost more than appending
// the rows did. Buffers from minRecycled up are powers of two; smaller ones
// pass straight to the base allocator.
// (Off-heap buffers from anonymous maps were tried: the collector then
// ran far more often on the small heap left, and map churn cost page
// faults; both made the run slower.)
//
// A reused buffer is zeroed before it is handed out: Arrow expects fresh
// memory to be zero (bitmaps are set bit by bit).
type recyclingAllocator struct {
	base  memory.Allocator
	mu    sync.Mutex
	free  [maxClass + 1][][]byte
	held  int64 // bytes of large buffers, in use or kept in free
	limit int64 // above it freed buffers are returned, not kept
}

const (
	minClass    = 15 // 32 KiB
	maxClass    = 30 // 1 GiB; larger buffers are not recycled
	minRecycled = 1 << minClass
)

// newRecyclingAllocator keeps freed buffers while all large buffers
// together hold at most limit bytes; base (nil: memory.DefaultAllocator)
// provides the memory.
func newRecyclingAllocator(base memory.Allocator, limit int64) *recyclingAllocator {
	if base == nil {
		base = memory.DefaultAllocator
	}
	return &recyclingAllocator{base: base, limit: limit}
}

// class is the size class of a buffer of n bytes: the power of two that
// holds it.
func class(n int) int { return bits.Len(uint(n - 1)) }

// recycled tells the buffers this allocator sized from the base's own.
func recycled(b []byte) bool {
	c := cap(b)
	return c >= minRecycled && c&(c-1) == 0 && class(c) <= maxClass
}

func (a *recyclingAllocator) Allocate(n int) []byte { return a.allocate(n, 0) }

// allocate returns n bytes of which all but the first keep are zero (the
// caller overwrites those).
func (a *recyclingAllocator) allocate(n, keep int) []byte {
	c := class(n)
	if n < minRecycled || c > maxClass {
		return a.base.Allocate(n)
	}
	a.mu.Lock()
	if k := len(a.free[c]); k > 0 {
		b := a.free[c][k-1]
		a.free[c][k-1] = nil
		a.free[c] = a.free[c][:k-1]
		a.mu.Unlock()
		clear(b[keep:n])
		return b[:n]
	}
	a.held += 1 << c
	a.mu.Unlock()
	return a.base.Allocate(1 << c)[:n]
}

func (a *recyclingAllocator) Reallocate(n int, b []byte) []byte {
	if n <= cap(b) && recycled(b) {
		if n > len(b) {
			clear(b[len(b):n])
		}
		return b[:n]
	}
	nb := a.allocate(n, len(b))
	copy(nb, b)
	a.Free(b)
	return nb
}

func (a *recyclingAllocator) Free(b []byte) {
	if !recycled(b) {
		a.base.Free(b)
		return
	}
	b = b[:cap(b)]
	a.mu.Lock()
	keep := a.held <= a.limit
	if keep {
		a.free[class(len(b))] = append(a.free[class(len(b))], b)
	} else {
		a.held -= int64(len(b))
	}
	a.mu.Unlock()
	if !keep {
		a.base.Free(b)
	}
}

// drain returns every kept buffer.
func (a *recyclingAllocator) drain() {
	a.mu.Lock()
	defer a.mu.Unlock()
	for c := range a.free {
		for _, b := range a.free[c] {
			a.held -= int64(len(b))
			a.base.Free(b)
		}
		a.free[c] = nil
	}
}
