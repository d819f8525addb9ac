package exprenv

import (
	"encoding/json"
	"reflect"
	"strings"

	"github.com/expr-lang/expr/ast"
)

// The expressions real mappings use are small: a field, a ?? chain, a helper
// call, a comparison, a ternary. Run through the expr VM, each costs a VM
// setup, a []any per call and re-boxed values; evaluated as a tree of Go
// closures over the record's source slice they cost a fraction of that.
//
// The native tree is an accelerator, never a second semantics: every node
// either yields exactly what the VM would, or gives up (ok == false) for this
// record, and the caller then runs the compiled program on the VM. Giving up
// covers every case whose VM outcome is an error or is not plainly known
// (a non-bool condition, "+" on non-strings, a helper's error, pointer values
// the VM would dereference): those keep the VM's own result and message.
// TestNativeAgreesWithVM compares both on generated values.

// native is one node of a natively evaluated expression.
type native interface {
	eval(s *scope) (v any, ok bool)
}

// scope is the per-run state of a native evaluation: the record's source
// values, the program's variable slots, the element a predicate (#) is
// looking at, and a stack for call arguments and list items, reused across
// runs so calls do not allocate their []any.
type scope struct {
	src   []any
	slots []int
	elem  any
	stack []any
	box   boxes
	buf   []byte
	// norms caches norm() results of short ASCII text: a mapping normalizes
	// the same few status and provider values in every record.
	norms map[string]any
}

const maxNorms = 256

// compileNative builds the native tree of a parsed expression; nil when some
// node has no native form (the program then always runs on the VM).
func compileNative(n ast.Node, vars []string, extra []Func) native {
	b := &nativeBuilder{vars: map[string]int{}, funcs: map[string]Func{}, fast: map[string]bool{}}
	for i, v := range vars {
		b.vars[v] = i
	}
	for name, f := range funcs {
		b.funcs[name] = f
		b.fast[name] = true
	}
	for _, f := range extra {
		b.funcs[f.Name] = f
		delete(b.fast, f.Name) // a mapping's own function: call it as given
	}
	return b.build(n)
}

type nativeBuilder struct {
	vars  map[string]int
	funcs map[string]Func
	fast  map[string]bool // registered helpers whose fast paths below apply
}

func (b *nativeBuilder) build(n ast.Node) native {
	switch n := n.(type) {
	case *ast.NilNode:
		return constant{nil}
	case *ast.BoolNode:
		return constant{n.Value}
	case *ast.StringNode:
		return constant{n.Value}
	case *ast.IntegerNode:
		return constant{n.Value}
	case *ast.FloatNode:
		return constant{n.Value}
	case *ast.IdentifierNode:
		i, ok := b.vars[n.Value]
		if !ok {
			return nil // $env, a let-variable, ...
		}
		return variable(i)
	case *ast.PointerNode:
		if n.Name != "" {
			return nil // #index, #acc
		}
		return pointer{}
	case *ast.UnaryNode:
		x := b.build(n.Node)
		if x == nil {
			return nil
		}
		switch n.Operator {
		case "!", "not":
			return not{x}
		}
		return nil
	case *ast.BinaryNode:
		l, r := b.build(n.Left), b.build(n.Right)
		if l == nil || r == nil {
			return nil
		}
		switch n.Operator {
		case "??":
			return coalesce{l, r}
		case "==":
			return equal{l, r, false}
		case "!=":
			return equal{l, r, true}
		case "&&", "and":
			return and{l, r}
		case "||", "or":
			return or{l, r}
		case "+":
			return concat{l, r}
		}
		return nil
	case *ast.ConditionalNode:
		c, x, y := b.build(n.Cond), b.build(n.Exp1), b.build(n.Exp2)
		if c == nil || x == nil || y == nil {
			return nil
		}
		return cond{c, x, y}
	case *ast.ArrayNode:
		items := make([]native, len(n.Nodes))
		for i, it := range n.Nodes {
			if items[i] = b.build(it); items[i] == nil {
				return nil
			}
		}
		return array{items}
	case *ast.CallNode:
		return b.call(n)
	case *ast.BuiltinNode:
		return b.builtin(n)
	}
	return nil
}

func (b *nativeBuilder) args(nodes []ast.Node) []native {
	args := make([]native, len(nodes))
	for i, a := range nodes {
		if args[i] = b.build(a); args[i] == nil {
			return nil
		}
	}
	return args
}

func (b *nativeBuilder) call(n *ast.CallNode) native {
	id, ok := n.Callee.(*ast.IdentifierNode)
	if !ok {
		return nil
	}
	f, ok := b.funcs[id.Value]
	if !ok {
		return nil
	}
	args := b.args(n.Arguments)
	if args == nil && len(n.Arguments) > 0 {
		return nil
	}
	if b.fast[f.Name] && len(args) == 1 {
		switch f.Name {
		case "str":
			return strCall{args[0]}
		case "norm":
			return normCall{args[0], f.Fn}
		case "epoch_ms":
			return epochCall{args[0]}
		}
	}
	return call{f.Fn, args}
}

func (b *nativeBuilder) builtin(n *ast.BuiltinNode) native {
	if n.Map != nil || n.Threshold != nil {
		return nil // fused by the optimizer; the parser never sets these
	}
	switch n.Name {
	case "trim", "lower", "upper":
		if len(n.Arguments) != 1 {
			return nil
		}
		x := b.build(n.Arguments[0])
		if x == nil {
			return nil
		}
		return stringFunc{n.Name, x}
	case "join":
		if len(n.Arguments) < 1 || len(n.Arguments) > 2 {
			return nil
		}
		args := b.args(n.Arguments)
		if args == nil {
			return nil
		}
		j := join{list: args[0], glue: constant{""}}
		if len(args) == 2 {
			j.glue = args[1]
		}
		return j
	case "filter":
		if len(n.Arguments) != 2 {
			return nil
		}
		pred, ok := n.Arguments[1].(*ast.PredicateNode)
		if !ok {
			return nil
		}
		list, p := b.build(n.Arguments[0]), b.build(pred.Node)
		if list == nil || p == nil {
			return nil
		}
		return filter{list, p}
	}
	return nil
}

type constant struct{ v any }

func (c constant) eval(*scope) (any, bool) { return c.v, true }

// variable is Program.Vars[i].
type variable int

func (i variable) eval(s *scope) (any, bool) {
	v := s.src[s.slots[i]]
	return v, plain(v)
}

type pointer struct{}

func (pointer) eval(s *scope) (any, bool) { return s.elem, plain(s.elem) }

// plain reports whether the VM would use v as is: it dereferences pointers
// (OpDeref), which the native tree leaves to it.
func plain(v any) bool {
	switch v.(type) {
	case nil, string, float64, bool, int, int64, json.Number, map[string]any, []any, []string:
		return true
	}
	k := reflect.ValueOf(v).Kind()
	return k != reflect.Pointer && k != reflect.Interface
}

// isNil is expr's runtime.IsNil: nil, or a nil map, slice, pointer, ...
func isNil(v any) bool {
	switch x := v.(type) {
	case nil:
		return true
	case string, float64, bool, int, int64, json.Number:
		return false
	case map[string]any:
		return x == nil
	case []any:
		return x == nil
	case []string:
		return x == nil
	}
	r := reflect.ValueOf(v)
	switch r.Kind() {
	case reflect.Chan, reflect.Func, reflect.Map, reflect.Pointer, reflect.Interface, reflect.Slice:
		return r.IsNil()
	}
	return false
}

type not struct{ x native }

func (n not) eval(s *scope) (any, bool) {
	v, ok := n.x.eval(s)
	b, isBool := v.(bool)
	return !b, ok && isBool
}

// coalesce is a ?? b: a unless it is nil.
type coalesce struct{ l, r native }

func (c coalesce) eval(s *scope) (any, bool) {
	v, ok := c.l.eval(s)
	if !ok {
		return nil, false
	}
	if !isNil(v) {
		return v, true
	}
	return c.r.eval(s)
}

type equal struct {
	l, r native
	neg  bool
}

func (e equal) eval(s *scope) (any, bool) {
	a, ok := e.l.eval(s)
	if !ok {
		return nil, false
	}
	b, ok := e.r.eval(s)
	if !ok {
		return nil, false
	}
	eq, ok := equalValues(a, b)
	return eq != e.neg, ok
}

// equalValues is expr's runtime.Equal for the values records hold: nil,
// strings, booleans and numbers. Lists and objects (reflect.DeepEqual there)
// are left to the VM.
func equalValues(a, b any) (eq, ok bool) {
	if a == nil || b == nil {
		if a == nil && b == nil {
			return true, true
		}
		other := a
		if other == nil {
			other = b
		}
		return isNil(other), true
	}
	switch x := a.(type) {
	case string:
		switch y := b.(type) {
		case string:
			return x == y, true
		case bool, float64, int, int64:
			return false, true
		}
	case bool:
		switch y := b.(type) {
		case bool:
			return x == y, true
		case string, float64, int, int64:
			return false, true
		}
	case float64, int, int64:
		switch b.(type) {
		case string, bool:
			return false, true
		}
		af, aInt, okA := numberOf(a)
		bf, bInt, okB := numberOf(b)
		if !okA || !okB {
			return false, false
		}
		if _, isFloat := a.(float64); isFloat {
			return af == bf, true
		}
		if _, isFloat := b.(float64); isFloat {
			return af == bf, true
		}
		return aInt == bInt, true
	}
	return false, false
}

func numberOf(v any) (f float64, i int, ok bool) {
	switch x := v.(type) {
	case float64:
		return x, int(x), true
	case int:
		return float64(x), x, true
	case int64:
		return float64(x), int(x), true
	}
	return 0, 0, false
}

// and / or: the left side must be a bool (the VM asserts it); the result is
// the right side's value as it is.
type and struct{ l, r native }

func (n and) eval(s *scope) (any, bool) {
	v, ok := n.l.eval(s)
	b, isBool := v.(bool)
	if !ok || !isBool {
		return nil, false
	}
	if !b {
		return false, true
	}
	return n.r.eval(s)
}

type or struct{ l, r native }

func (n or) eval(s *scope) (any, bool) {
	v, ok := n.l.eval(s)
	b, isBool := v.(bool)
	if !ok || !isBool {
		return nil, false
	}
	if b {
		return true, true
	}
	return n.r.eval(s)
}

// concat is + on two strings; other operands go to the VM.
type concat struct{ l, r native }

func (c concat) eval(s *scope) (any, bool) {
	a, ok := c.l.eval(s)
	x, isStr := a.(string)
	if !ok || !isStr {
		return nil, false
	}
	b, ok := c.r.eval(s)
	y, isStr := b.(string)
	if !ok || !isStr {
		return nil, false
	}
	switch {
	case x == "":
		return b, true
	case y == "":
		return a, true
	}
	return s.box.str(x + y), true
}

func (c concat) appendTo(s *scope, dst []byte) ([]byte, any, bool, bool) {
	out, _, isStr, ok := appendNode(c.l, s, dst)
	if !ok || !isStr {
		return dst, nil, false, false
	}
	out, _, isStr, ok = appendNode(c.r, s, out)
	if !ok || !isStr {
		return dst, nil, false, false
	}
	return out, nil, true, true
}

// appender is a node that can write a string result straight into a buffer
// (a template being rendered) instead of allocating it.
type appender interface {
	appendTo(s *scope, dst []byte) (out []byte, v any, isStr, ok bool)
}

// appendNode evaluates n: a string result is appended to dst (isStr), any
// other result returned in v.
func appendNode(n native, s *scope, dst []byte) (out []byte, v any, isStr, ok bool) {
	if a, isApp := n.(appender); isApp {
		return a.appendTo(s, dst)
	}
	v, ok = n.eval(s)
	if !ok {
		return dst, nil, false, false
	}
	if str, isStr := v.(string); isStr {
		return append(dst, str...), nil, true, true
	}
	return dst, v, false, true
}

type cond struct{ c, x, y native }

func (n cond) eval(s *scope) (any, bool) {
	v, ok := n.c.eval(s)
	b, isBool := v.(bool)
	if !ok || !isBool {
		return nil, false
	}
	if b {
		return n.x.eval(s)
	}
	return n.y.eval(s)
}

func (n cond) appendTo(s *scope, dst []byte) ([]byte, any, bool, bool) {
	v, ok := n.c.eval(s)
	b, isBool := v.(bool)
	if !ok || !isBool {
		return dst, nil, false, false
	}
	if b {
		return appendNode(n.x, s, dst)
	}
	return appendNode(n.y, s, dst)
}

// push evaluates nodes onto the scope's stack.
func (s *scope) push(nodes []native) bool {
	for _, n := range nodes {
		v, ok := n.eval(s)
		if !ok {
			return false
		}
		s.stack = append(s.stack, v)
	}
	return true
}

// pop drops the stack back to base, clearing what it held so it keeps no
// record's values alive.
func (s *scope) pop(base int) {
	clear(s.stack[base:])
	s.stack = s.stack[:base]
}

// call is a helper or mapping function, called with its evaluated arguments.
type call struct {
	fn   func(...any) (any, error)
	args []native
}

func (c call) eval(s *scope) (any, bool) {
	base := len(s.stack)
	defer s.pop(base)
	if !s.push(c.args) {
		return nil, false
	}
	v, err := c.fn(s.stack[base:]...)
	if err != nil {
		return nil, false
	}
	return v, plain(v)
}

// strCall is str(x): a string is its own string form, and handing back the
// argument's interface avoids boxing a copy.
type strCall struct{ x native }

func (c strCall) eval(s *scope) (any, bool) {
	v, ok := c.x.eval(s)
	if !ok {
		return nil, false
	}
	if _, isStr := v.(string); isStr {
		return v, true
	}
	str, some, err := scalarString(v)
	if err != nil {
		return nil, false
	}
	if !some {
		return nil, true
	}
	return s.box.str(str), true
}

// normCall is norm(x); an already normal string is returned as it came.
type normCall struct {
	x  native
	fn func(...any) (any, error)
}

func (c normCall) eval(s *scope) (any, bool) {
	v, ok := c.x.eval(s)
	if !ok {
		return nil, false
	}
	switch x := v.(type) {
	case nil:
		return "", true
	case string:
		if b, ascii := AppendNormASCII(s.buf[:0], x); ascii {
			s.buf = b
			if string(b) == x {
				return v, true
			}
			if n, hit := s.norms[string(b)]; hit {
				return n, true
			}
			n := s.box.str(string(b))
			if s.norms == nil {
				s.norms = map[string]any{}
			}
			if len(s.norms) < maxNorms {
				s.norms[string(b)] = n
			}
			return n, true
		}
		if n := strings.ToLower(strings.TrimSpace(x)); n != x {
			return s.box.str(n), true
		}
		return v, true
	}
	return callOne(s, c.fn, v)
}

// AppendNormASCII appends strings.ToLower(strings.TrimSpace(s)) to dst when
// s is ASCII (for ASCII text both reduce to these byte rules), without the
// allocation ToLower makes; false means s is not ASCII: use norm's slow path.
func AppendNormASCII(dst []byte, s string) ([]byte, bool) {
	i, j := 0, len(s)
	for i < j && asciiSpace(s[i]) {
		i++
	}
	for j > i && asciiSpace(s[j-1]) {
		j--
	}
	for ; i < j; i++ {
		c := s[i]
		switch {
		case c >= 0x80:
			return dst, false
		case 'A' <= c && c <= 'Z':
			c += 'a' - 'A'
		}
		dst = append(dst, c)
	}
	return dst, true
}

func asciiSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r'
}

// epochCall is epoch_ms(x), with the result boxed without allocating.
type epochCall struct{ x native }

func (c epochCall) eval(s *scope) (any, bool) {
	v, ok := c.x.eval(s)
	if !ok {
		return nil, false
	}
	if ms, ok := epochMS(v); ok {
		return s.box.int64(ms), true
	}
	return nil, true
}

func callOne(s *scope, fn func(...any) (any, error), arg any) (any, bool) {
	base := len(s.stack)
	s.stack = append(s.stack, arg)
	out, err := fn(s.stack[base:]...)
	s.pop(base)
	if err != nil {
		return nil, false
	}
	return out, plain(out)
}

// stringFunc is the one-argument string builtins; the VM asserts a string.
type stringFunc struct {
	name string
	x    native
}

func (f stringFunc) eval(s *scope) (any, bool) {
	v, ok := f.x.eval(s)
	x, isStr := v.(string)
	if !ok || !isStr {
		return nil, false
	}
	var out string
	switch f.name {
	case "trim":
		out = strings.TrimSpace(x)
	case "lower":
		out = strings.ToLower(x)
	case "upper":
		out = strings.ToUpper(x)
	}
	if out == x {
		return v, true // unchanged: no new box
	}
	return s.box.str(out), true
}

// lister is a node that can leave its elements on the stack instead of
// allocating a list, for join(filter([...], ...)).
type lister interface {
	native
	pushItems(s *scope) bool
}

type array struct{ items []native }

func (a array) pushItems(s *scope) bool { return s.push(a.items) }

func (a array) eval(s *scope) (any, bool) { return listOf(s, a) }

// listOf collects a lister's elements into a new []any, as the VM's OpArray.
func listOf(s *scope, l lister) (any, bool) {
	base := len(s.stack)
	defer s.pop(base)
	if !l.pushItems(s) {
		return nil, false
	}
	out := make([]any, len(s.stack)-base)
	copy(out, s.stack[base:])
	return out, true
}

// pushList pushes the elements of any list node.
func pushList(s *scope, n native) bool {
	if l, ok := n.(lister); ok {
		return l.pushItems(s)
	}
	v, ok := n.eval(s)
	list, isList := v.([]any)
	if !ok || !isList {
		return false // other slice types: the VM's reflection
	}
	for _, it := range list {
		if !plain(it) {
			return false
		}
	}
	s.stack = append(s.stack, list...)
	return true
}

// filter keeps the elements for which the predicate is true.
type filter struct{ list, pred native }

func (f filter) eval(s *scope) (any, bool) { return listOf(s, f) }

func (f filter) pushItems(s *scope) bool {
	base := len(s.stack)
	if !pushList(s, f.list) {
		return false
	}
	end, kept := len(s.stack), base
	saved := s.elem
	defer func() { s.elem = saved }()
	for i := base; i < end; i++ {
		s.elem = s.stack[i]
		v, ok := f.pred.eval(s)
		b, isBool := v.(bool)
		if !ok || !isBool {
			return false
		}
		if b {
			s.stack[kept] = s.stack[i]
			kept++
		}
	}
	s.pop(kept)
	return true
}

// join is the join builtin: every element must be a string.
type join struct{ list, glue native }

func (j join) eval(s *scope) (any, bool) {
	base := len(s.stack)
	defer s.pop(base)
	if !pushList(s, j.list) {
		return nil, false
	}
	g, ok := j.glue.eval(s)
	glue, isStr := g.(string)
	if !ok || !isStr {
		return nil, false
	}
	items := s.stack[base:]
	n := len(glue) * max(len(items)-1, 0)
	for _, it := range items {
		str, isStr := it.(string)
		if !isStr {
			return nil, false
		}
		n += len(str)
	}
	if len(items) == 1 {
		return items[0], true
	}
	var b strings.Builder
	b.Grow(n)
	for i, it := range items {
		if i > 0 {
			b.WriteString(glue)
		}
		b.WriteString(it.(string))
	}
	return s.box.str(b.String()), true
}

func (j join) appendTo(s *scope, dst []byte) ([]byte, any, bool, bool) {
	base := len(s.stack)
	defer s.pop(base)
	if !pushList(s, j.list) {
		return dst, nil, false, false
	}
	g, ok := j.glue.eval(s)
	glue, isStr := g.(string)
	if !ok || !isStr {
		return dst, nil, false, false
	}
	out := dst
	for i, it := range s.stack[base:] {
		str, isStr := it.(string)
		if !isStr {
			return dst, nil, false, false
		}
		if i > 0 {
			out = append(out, glue...)
		}
		out = append(out, str...)
	}
	return out, nil, true, true
}
