package lake

import (
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
	a.inUse.Add(int64(len(b)))
	return b
}

func (a *countingAllocator) Reallocate(n int, b []byte) []byte {
	old := len(b)
	b = a.Allocator.Reallocate(n, b)
	a.inUse.Add(int64(len(b) - old))
	return b
}

func (a *countingAllocator) Free(b []byte) {
	a.inUse.Add(-int64(len(b)))
	a.Allocator.Free(b)
}
