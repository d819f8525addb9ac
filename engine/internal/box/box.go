// Package box puts values into interfaces without one heap allocation per
// value. Storing a string, int64 or float64 in an interface allocates a copy;
// on the per-record path (extracted fields, evaluated expressions) that was a
// third of the time. A Slab stores the values in append-only chunks and
// makes interfaces that point into them, just as one made by the compiler
// points to its own copy. Slots handed out are never written again, so the
// values stay immutable; a retained value keeps its chunk alive.
//
// This relies on the layout of an empty interface (type word, data word),
// which every Go release has kept and which libraries such as sonic rely on
// too; the tests check the interfaces behave like compiler-made ones.
package box

import "unsafe"

// chunk is how many values share one allocation.
const chunk = 256

type eface struct {
	typ  unsafe.Pointer
	data unsafe.Pointer
}

// Slab boxes values of one type. Not safe for concurrent use.
type Slab[T any] struct {
	buf []T
	typ unsafe.Pointer
}

// Box returns v as an interface whose data lives in the slab.
func (s *Slab[T]) Box(v T) (out any) {
	if s.typ == nil {
		var zero T
		var probe any = zero
		s.typ = (*eface)(unsafe.Pointer(&probe)).typ
	}
	if len(s.buf) == cap(s.buf) {
		s.buf = make([]T, 0, chunk)
	}
	s.buf = append(s.buf, v)
	ef := (*eface)(unsafe.Pointer(&out))
	ef.typ, ef.data = s.typ, unsafe.Pointer(&s.buf[len(s.buf)-1])
	return out
}

// Strings boxes strings. "" takes no slot: the compiler's interface for ""
// does not allocate either.
type Strings struct{ Slab[string] }

// Box returns v as an interface.
func (s *Strings) Box(v string) any {
	if v == "" {
		return ""
	}
	return s.Slab.Box(v)
}
