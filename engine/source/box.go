package source

import "unsafe"

// Storing a string or float64 in an interface allocates a copy of it on the
// heap, one small allocation per extracted value, which was a third of
// Extract's time. Instead the values are stored in slabs (append-only chunks
// of []string / []float64) and the interface points into them, just as one
// made by the compiler points to its own copy. Slots handed out are never
// written again, so the values stay immutable; a retained value keeps its
// slab (boxChunk values) alive.
//
// This relies on the layout of an empty interface (type word, data word),
// which every Go release has kept and which libraries such as sonic rely on
// too; TestBox checks the interfaces behave like compiler-made ones.

const boxChunk = 256

type eface struct {
	typ  unsafe.Pointer
	data unsafe.Pointer
}

var (
	stringType  = typeOf("x")
	float64Type = typeOf(1.5)
)

func typeOf(v any) unsafe.Pointer { return (*eface)(unsafe.Pointer(&v)).typ }

func makeIface(typ, data unsafe.Pointer) (v any) {
	ef := (*eface)(unsafe.Pointer(&v))
	ef.typ, ef.data = typ, data
	return v
}

type boxes struct {
	strs   []string
	floats []float64
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

func (b *boxes) float(f float64) any {
	if len(b.floats) == cap(b.floats) {
		b.floats = make([]float64, 0, boxChunk)
	}
	b.floats = append(b.floats, f)
	return makeIface(float64Type, unsafe.Pointer(&b.floats[len(b.floats)-1]))
}
