package exprenv

import (
	"sort"
	"strconv"
	"strings"

	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/parser"
)

// FieldCall is a call of a string builtin on a source field.
type FieldCall struct {
	Func   string // lower, upper or trim
	Field  string // the field as written: risk, owner.name, a?.b, tags["x y"]
	Offset int    // rune offset of the function's name in the text
}

// stringFuncs fail on nil: lower(risk) on an alert without risk is an
// evaluation error, not an empty string.
var stringFuncs = map[string]bool{"lower": true, "upper": true, "trim": true}

// StringCallsOnFields returns the calls of lower, upper and trim in text
// whose argument is a source field alone (a name or a path of names), in
// text order: such a call fails on an alert that lacks the field. Reading
// the syntax tree, it skips what only looks like such a call: text in a
// string literal, a method of some value (x.lower(y)), a let-variable or a
// predicate's element (#, .name), an argument with a default (risk ?? ""),
// and a call guarded by its field (risk != nil && lower(risk) == "high",
// risk != nil ? lower(risk) : ""). A text that does not parse has none:
// compiling it reports why.
func StringCallsOnFields(text string) []FieldCall {
	if checkLimits(text) != nil {
		return nil
	}
	tree, err := parser.Parse(text)
	if err != nil {
		return nil
	}
	locals := localNames{}
	ast.Walk(&tree.Node, locals)
	found := &stringCalls{locals: locals, calls: map[ast.Node]FieldCall{}}
	ast.Walk(&tree.Node, found)
	ast.Walk(&tree.Node, &nilGuards{calls: found.calls})
	out := make([]FieldCall, 0, len(found.calls))
	for _, c := range found.calls {
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Offset < out[j].Offset })
	return out
}

// localNames are the let-variables of an expression.
type localNames map[string]bool

func (l localNames) Visit(node *ast.Node) {
	if n, ok := (*node).(*ast.VariableDeclaratorNode); ok {
		l[n.Name] = true
	}
}

type stringCalls struct {
	locals localNames
	calls  map[ast.Node]FieldCall
}

func (s *stringCalls) Visit(node *ast.Node) {
	var name string
	var args []ast.Node
	switch n := (*node).(type) {
	case *ast.BuiltinNode:
		name, args = n.Name, n.Arguments
	case *ast.CallNode:
		// The same builtin when a parser configuration makes it a call;
		// a method (x.lower(y)) has a member as its callee.
		id, ok := n.Callee.(*ast.IdentifierNode)
		if !ok {
			return
		}
		name, args = id.Value, n.Arguments
	default:
		return
	}
	if !stringFuncs[name] || len(args) != 1 {
		return
	}
	if field, ok := fieldPath(args[0], s.locals); ok {
		s.calls[*node] = FieldCall{Func: name, Field: field, Offset: (*node).Location().From}
	}
}

// fieldPath renders n when it reads a source field: an identifier that is
// not a let-variable, or a member of one by a constant name.
func fieldPath(n ast.Node, locals localNames) (string, bool) {
	switch n := n.(type) {
	case *ast.IdentifierNode:
		if locals[n.Value] || n.Value == "$env" {
			return "", false
		}
		return n.Value, true
	case *ast.ChainNode:
		return fieldPath(n.Node, locals)
	case *ast.MemberNode:
		prop, ok := n.Property.(*ast.StringNode)
		if !ok || n.Method {
			return "", false
		}
		base, ok := fieldPath(n.Node, locals)
		if !ok {
			return "", false
		}
		switch {
		case !isName(prop.Value):
			if n.Optional {
				base += "?."
			}
			return base + "[" + strconv.Quote(prop.Value) + "]", true
		case n.Optional:
			return base + "?." + prop.Value, true
		default:
			return base + "." + prop.Value, true
		}
	}
	return "", false
}

func isName(s string) bool {
	for i, c := range s {
		if !(c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || i > 0 && c >= '0' && c <= '9') {
			return false
		}
	}
	return s != ""
}

// nilGuards drops the calls on a field that the expression checks first:
// the right side of `F != nil && …` and the first branch of
// `F != nil ? … : …` only run when F is there.
type nilGuards struct {
	calls map[ast.Node]FieldCall
}

func (g *nilGuards) Visit(node *ast.Node) {
	var cond, guarded ast.Node
	switch n := (*node).(type) {
	case *ast.BinaryNode:
		if n.Operator != "&&" && n.Operator != "and" {
			return
		}
		cond, guarded = n.Left, n.Right
	case *ast.ConditionalNode:
		cond, guarded = n.Cond, n.Exp1
	default:
		return
	}
	fields := map[string]bool{}
	notNil(cond, fields)
	if len(fields) == 0 {
		return
	}
	ast.Walk(&guarded, dropCalls{calls: g.calls, fields: fields})
}

// notNil collects the fields cond proves present: F != nil, alone or in
// a chain of &&.
func notNil(cond ast.Node, fields map[string]bool) {
	b, ok := cond.(*ast.BinaryNode)
	if !ok {
		return
	}
	switch b.Operator {
	case "&&", "and":
		notNil(b.Left, fields)
		notNil(b.Right, fields)
	case "!=":
		field := b.Left
		if _, isNil := b.Left.(*ast.NilNode); isNil {
			field = b.Right
		} else if _, isNil := b.Right.(*ast.NilNode); !isNil {
			return
		}
		if f, ok := fieldPath(field, nil); ok {
			fields[plainPath(f)] = true
		}
	}
}

type dropCalls struct {
	calls  map[ast.Node]FieldCall
	fields map[string]bool
}

func (d dropCalls) Visit(node *ast.Node) {
	if c, ok := d.calls[*node]; ok && d.fields[plainPath(c.Field)] {
		delete(d.calls, *node)
	}
}

// plainPath is a field path without its optional marks: a?.b != nil
// guards lower(a.b) too.
func plainPath(f string) string {
	return strings.ReplaceAll(strings.ReplaceAll(f, "?.[", "["), "?.", ".")
}
