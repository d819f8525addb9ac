package exprenv

import (
	"fmt"
	"strings"
	"testing"
)

// TestShapes: what the checker knows of a value at load time, through
// map(), list literals, ternaries, ?? and let; a key's offset points at it.
func TestShapes(t *testing.T) {
	for _, tc := range []struct {
		text, want string
	}{
		{`map(res, ({"uid": #.arn, "owner": {"name": #.o}}))`, `list[{uid@11: ?, owner@25: {name@35: ?}}]`},
		{`x == nil ? nil : {"a": 1}`, `{a@18: int}`},
		{`y ?? [{"k": "v"}, {"j": true}]`, `?|list[{k@7: string}|{j@19: bool}]`},
		{`let o = {"a": 1}; o`, `map[string]interface {}`},
		{`let n = 1; {"a": n}`, `{a@12: int}`},
		{`tags_kv(tags)`, `list[]`},
		{`"text"`, `string`},
	} {
		p, err := Compile(tc.text, Options{})
		if err != nil {
			t.Fatalf("%s: %v", tc.text, err)
		}
		if got := describeShapes(p.Shapes()); got != tc.want {
			t.Errorf("%s:\n got %s\nwant %s", tc.text, got, tc.want)
		}
	}
}

func describeShapes(shapes []*Shape) string {
	parts := make([]string, len(shapes))
	for i, s := range shapes {
		switch {
		case s.Keys != nil:
			keys := make([]string, len(s.Keys))
			for j, k := range s.Keys {
				keys[j] = fmt.Sprintf("%s@%d: %s", k.Name, k.Offset, describeShapes(k.Value))
			}
			parts[i] = "{" + strings.Join(keys, ", ") + "}"
		case s.List:
			parts[i] = "list[" + describeShapes(s.Elems) + "]"
		case s.Type == nil || s.Type.Kind().String() == "interface":
			parts[i] = "?"
		default:
			parts[i] = s.Type.String()
		}
	}
	return strings.Join(parts, "|")
}
