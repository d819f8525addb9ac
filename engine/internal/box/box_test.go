package box

import (
	"fmt"
	"reflect"
	"runtime"
	"testing"
	"unsafe"
)

// TestSlab checks boxed values behave like compiler-made interfaces: type
// switches, equality, reflection, formatting, map keys, and surviving GC
// after their slab fills up and is dropped.
func TestSlab(t *testing.T) {
	var strs Slab[string]
	var floats Slab[float64]
	var ints Slab[int64]
	var kept []any
	for i := range 3 * chunk {
		kept = append(kept, strs.Box(fmt.Sprint("s", i)), floats.Box(float64(i)+0.5), ints.Box(int64(i)))
	}
	runtime.GC()
	for i := range 3 * chunk {
		s, f, n := kept[3*i], kept[3*i+1], kept[3*i+2]
		if s != any(fmt.Sprint("s", i)) || f != any(float64(i)+0.5) || n != any(int64(i)) {
			t.Fatalf("%d: %v %v %v", i, s, f, n)
		}
		if v, ok := s.(string); !ok || v != fmt.Sprint("s", i) {
			t.Fatalf("type switch on %v", s)
		}
		if reflect.TypeOf(f).Kind() != reflect.Float64 || fmt.Sprint(n) != fmt.Sprint(i) {
			t.Fatalf("reflect/format %v %v", f, n)
		}
	}
	if unsafe.Sizeof(eface{}) != unsafe.Sizeof(any(nil)) {
		t.Fatal("interface layout changed")
	}
	m := map[any]int{strs.Box("key"): 1}
	if m["key"] != 1 {
		t.Fatal("boxed string as a map key")
	}
}

func BenchmarkBox(b *testing.B) {
	var s Slab[string]
	b.ReportAllocs()
	var sink any
	for b.Loop() {
		sink = s.Box("value")
	}
	_ = sink
}

func TestStringsEmptyTakesNoSlot(t *testing.T) {
	var s Strings
	if v := s.Box(""); v != "" || len(s.buf) != 0 {
		t.Errorf("Box(\"\") = %q using %d slots", v, len(s.buf))
	}
	if v := s.Box("x"); v != "x" || len(s.buf) != 1 {
		t.Errorf("Box(\"x\") = %q using %d slots", v, len(s.buf))
	}
}
