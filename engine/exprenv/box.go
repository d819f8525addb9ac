package exprenv

import "unsafe"

// Results a native evaluation computes (a concatenation, an epoch time) must
// be returned as interfaces, and storing a string or int64 in an interface
// allocates a copy per value. Instead they are stored in slabs (append-only
// chunks) and the interface points into them, as one made by the compiler
// points to its own copy: the same technique as engine/source's box.go.
// Slots handed out are never written again, so the values stay immutable; a
// retained value keeps its chunk alive. TestBox checks the interfaces behave
// like compiler-made ones.

const boxChunk = 256

type eface struct {
	typ  unsafe.Pointer
	data unsafe.Pointer
}

var (
	stringType = typeOf("x")
	int64Type  = typeOf(int64(1))
)

func typeOf(v any) unsafe.Pointer { return (*eface)(unsafe.Pointer(&v)).typ }

func makeIface(typ, data unsafe.Pointer) (v any) {
	ef := (*eface)(unsafe.Pointer(&v))
	ef.typ, ef.data = typ, data
	return v
}

type boxes struct {
	strs []string
	ints []int64
}

func (b *boxes) str(s string) any {
	if s == "" {
		return "" // the compiler's interface for "" does not allocate
	}
	if len(b.strs) == cap(b.strs) {
		b.strs = make([]string, 0, boxChunk)
	}
	b.strs = append(b.strs, s)
	return makeIface(stringType, unsafe.Pointer(&b.strs[len(b.strs)-1]))
}

func (b *boxes) int64(i int64) any {
	if len(b.ints) == cap(b.ints) {
		b.ints = make([]int64, 0, boxChunk)
	}
	b.ints = append(b.ints, i)
	return makeIface(int64Type, unsafe.Pointer(&b.ints[len(b.ints)-1]))
}
