package source

import (
	"fmt"
	"reflect"
	"testing"
)

// Interfaces made by boxes must be indistinguishable from compiler-made ones.
func TestBox(t *testing.T) {
	var b boxes
	var vals []any
	for i := 0; i < 3*256; i++ { // several slabs
		vals = append(vals, b.str(fmt.Sprint("s", i)), b.float(float64(i)+0.5))
	}
	for i := 0; i < 3*256; i++ {
		s, f := vals[2*i], vals[2*i+1]
		if want := fmt.Sprint("s", i); s != any(want) || s.(string) != want || reflect.TypeOf(s).Kind() != reflect.String {
			t.Fatalf("string box %d = %#v", i, s)
		}
		if want := float64(i) + 0.5; f != any(want) || f.(float64) != want || fmt.Sprint(f) != fmt.Sprint(want) {
			t.Fatalf("float box %d = %#v", i, f)
		}
		if _, ok := s.(float64); ok {
			t.Fatal("string box asserts as float64")
		}
	}
	if v := b.str(""); v != any("") {
		t.Errorf("empty string box = %#v", v)
	}
	m := map[any]int{b.str("k"): 1}
	if m["k"] != 1 {
		t.Error("boxed string does not hash like a string")
	}
}
