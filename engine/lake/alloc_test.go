package lake

import (
	"testing"

	"github.com/apache/arrow-go/v18/arrow/memory"
)

// Freed large buffers come back zeroed, from the right size class; the
// limit bounds what is kept; drain returns everything to the base.
func TestRecyclingAllocator(t *testing.T) {
	base := memory.NewCheckedAllocator(memory.NewGoAllocator())
	a := newRecyclingAllocator(base, 1<<20)

	small := a.Allocate(100)
	if len(small) != 100 || recycled(small) {
		t.Fatalf("small buffer: len %d cap %d", len(small), cap(small))
	}
	a.Free(small)

	b := a.Allocate(100_000)
	if len(b) != 100_000 || cap(b) != 1<<17 {
		t.Fatalf("large buffer: len %d cap %d, want 100000 and 131072", len(b), cap(b))
	}
	for i := range b {
		b[i] = 0xff
	}
	a.Free(b)
	c := a.Allocate(70_000) // same class
	if &c[:1][0] != &b[:1][0] {
		t.Error("a freed buffer of the class was not reused")
	}
	for i, v := range c {
		if v != 0 {
			t.Fatalf("reused buffer not zeroed at %d", i)
		}
	}

	// Growing within the capacity zeroes the new part.
	c[len(c)-1] = 7
	c = c[:60_000]
	c[59_999] = 9
	grown := a.Reallocate(70_000, c)
	if &grown[0] != &c[0] || grown[60_000] != 0 || grown[69_999] != 0 {
		t.Error("reallocation within capacity moved or left stale bytes")
	}
	// Growing past it moves the bytes.
	grown[0] = 42
	big := a.Reallocate(300_000, grown)
	if big[0] != 42 || cap(big) != 1<<19 {
		t.Errorf("reallocation past capacity: first byte %d, cap %d", big[0], cap(big))
	}

	// Over the limit, freed buffers go back to the base at once.
	var held [][]byte
	for range 5 {
		held = append(held, a.Allocate(1<<19))
	}
	for _, h := range held {
		a.Free(h)
	}
	a.Free(big)
	if base.CurrentAlloc() > 1<<20+1<<19 {
		t.Errorf("%d bytes still allocated from the base; the limit is 1 MiB", base.CurrentAlloc())
	}
	a.drain()
	base.AssertSize(t, 0)
}
