package exprenv

import "github.com/expr-lang/expr/ast"

// nilSafe makes a missing path nil instead of an error, in every expression:
// a.b.c is nil when a or a.b is missing or null, and list[5] is nil past the
// end of the list. Alerts leave out what they do not have, and a `when:` or
// a `??` fallback is how a mapping says what that means; expr's own member
// access would fail the record instead ("cannot fetch b from <nil>", "index
// out of range"). A value of the wrong kind (a field of a string) is still an
// error. a.b becomes a?.b; a[i] becomes expr's get(a, i), nil past the end.
type nilSafe struct{}

func (nilSafe) Visit(node *ast.Node) {
	m, ok := (*node).(*ast.MemberNode)
	if !ok || m.Method {
		return
	}
	if _, named := m.Property.(*ast.StringNode); !named {
		ast.Patch(node, &ast.BuiltinNode{Name: "get", Arguments: []ast.Node{m.Node, m.Property}})
		return
	}
	// Optional access jumps to the end of its chain: each access gets a
	// chain of its own (a.b.c is (a?.b)?.c), so the visit order (inner
	// first) does not matter.
	m.Optional = true
	ast.Patch(node, &ast.ChainNode{Node: m})
}
