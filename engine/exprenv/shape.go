package exprenv

import (
	"reflect"

	"github.com/expr-lang/expr/ast"
)

// Shape is what the checker knows at load time of a value an expression
// may yield: an object literal's keys, a list's elements, else a type. The
// plan checks it against the OCSF object the expression fills.
type Shape struct {
	Type   reflect.Type // nil or interface when only the data decides
	Offset int          // rune offset of the value in the expression text
	// Keys are an object literal's keys ({"uid": #.arn}); nil when the value
	// is not an object literal.
	Keys []ShapeKey
	// List is true for a list; Elems are the shapes its elements may take
	// (the items of a list literal, the body of map(…)), where known.
	List  bool
	Elems []*Shape
	// Literal is the value of a string literal ("api_activity"); nil for
	// any other value.
	Literal *string
}

// ShapeKey is one key of an object literal and the shapes its value may take.
type ShapeKey struct {
	Name   string
	Offset int
	Value  []*Shape
}

// Describe names the shape for a diagnostic.
func (s *Shape) Describe() string {
	switch {
	case s.Keys != nil:
		return "an object"
	case s.List:
		return "a list"
	case s.Type != nil:
		return s.Type.String()
	}
	return "a value"
}

// Shapes are the shapes the program's value may take: one per branch of a
// ternary or ?? whose value is known in part at load time. A nil branch
// yields no shape: nil fills anything.
func (p *Program) Shapes() []*Shape {
	return shapesOf(p.program.Node())
}

func shapesOf(n ast.Node) []*Shape {
	switch x := n.(type) {
	case *ast.NilNode:
		return nil
	case *ast.MapNode:
		s := &Shape{Type: x.Type(), Offset: x.Location().From, Keys: []ShapeKey{}}
		for _, p := range x.Pairs {
			pair, ok := p.(*ast.PairNode)
			if !ok {
				continue
			}
			key, ok := pair.Key.(*ast.StringNode)
			if !ok {
				continue // a key computed per record: checked then
			}
			s.Keys = append(s.Keys, ShapeKey{Name: key.Value, Offset: key.Location().From, Value: shapesOf(pair.Value)})
		}
		return []*Shape{s}
	case *ast.ArrayNode:
		s := &Shape{Type: x.Type(), Offset: x.Location().From, List: true}
		for _, e := range x.Nodes {
			s.Elems = append(s.Elems, shapesOf(e)...)
		}
		return []*Shape{s}
	case *ast.BuiltinNode:
		s := &Shape{Type: x.Type(), Offset: x.Location().From, List: true}
		switch {
		case x.Name == "map" && len(x.Arguments) == 2:
			if body, ok := x.Arguments[1].(*ast.PredicateNode); ok {
				s.Elems = shapesOf(body.Node)
			}
			return []*Shape{s}
		case x.Map != nil: // map(filter(…), …) folded by the optimizer
			s.Elems = shapesOf(x.Map)
			return []*Shape{s}
		}
	case *ast.ConditionalNode:
		return append(shapesOf(x.Exp1), shapesOf(x.Exp2)...)
	case *ast.BinaryNode:
		if x.Operator == "??" {
			return append(shapesOf(x.Left), shapesOf(x.Right)...)
		}
	case *ast.VariableDeclaratorNode:
		return shapesOf(x.Expr)
	case *ast.SequenceNode:
		if len(x.Nodes) > 0 {
			return shapesOf(x.Nodes[len(x.Nodes)-1])
		}
	}
	t := n.Type()
	s := &Shape{Type: t, Offset: n.Location().From}
	if lit, ok := n.(*ast.StringNode); ok {
		s.Literal = &lit.Value
	}
	if t != nil && (t.Kind() == reflect.Slice || t.Kind() == reflect.Array) {
		s.List = true
	}
	return []*Shape{s}
}
