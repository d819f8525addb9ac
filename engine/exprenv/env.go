// Package exprenv compiles mapping expressions (expr-lang) against the
// source alert's fields and the helper functions, once, at load time.
// It is the only package that imports expr.
package exprenv

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"sort"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/builtin"
	"github.com/expr-lang/expr/file"
	"github.com/expr-lang/expr/parser"
	"github.com/expr-lang/expr/vm"

	"github.com/ocsfmap/ocsfmap/engine/diag"
)

// Program is a compiled expression. It is immutable and safe to share;
// run it with a per-goroutine Runner.
type Program struct {
	Text string
	// Vars are the source fields the expression reads, sorted.
	Vars    []string
	program *vm.Program
	// native evaluates the expression without the VM where it can (see
	// native.go); nil when some part of it has no native form.
	native native
	asBool bool
	// whole: the expression reads $env, the whole environment. It runs over
	// the whole current record (see Runner.SetRecord), never over Env,
	// which holds only the fields programs name and outlives a record.
	whole bool
	// slots, set by Bind: Vars[i] is src[slots[i]] in RunFields.
	slots []int
}

// Type is the result type the checker inferred; nil or interface when it
// depends on the data.
func (p *Program) Type() reflect.Type { return p.program.Node().Type() }

// Error is a compile error with the rune offset into the expression text.
type Error struct {
	Offset  int
	Message string
	Suggest []string
}

func (e *Error) Error() string { return e.Message }

// Options configure one compilation.
type Options struct {
	// Extra functions, e.g. the mapping's lookup tables.
	Extra []Func
	// Bool asks for a boolean result (conditions).
	Bool bool
}

// Vars parses text and returns the source fields it reads: every identifier
// that is not a function, builtin or let-variable. A call of an unknown
// function is an error, with the nearest names as suggestions.
func Vars(text string, extra []Func) ([]string, error) {
	v, err := collect(text, extra)
	if err != nil {
		return nil, err
	}
	return v.vars, nil
}

func collect(text string, extra []Func) (*varCollector, error) {
	if err := checkLimits(text); err != nil {
		return nil, err
	}
	tree, err := parser.Parse(text)
	if err != nil {
		return nil, toError(err)
	}
	v := &varCollector{funcs: funcNames(extra), callees: map[ast.Node]bool{}, locals: map[string]bool{}, seen: map[string]bool{}}
	ast.Walk(&tree.Node, v)
	if v.err != nil {
		return nil, v.err
	}
	sort.Strings(v.vars)
	return v, nil
}

type varCollector struct {
	funcs   map[string]bool
	callees map[ast.Node]bool
	locals  map[string]bool
	seen    map[string]bool
	vars    []string
	whole   bool // $env is read
	err     *Error
}

// Visit runs children first (ast.Walk is post-order), so it cannot tell a
// callee from a variable on the way down; identifiers are sorted out after.
func (v *varCollector) Visit(node *ast.Node) {
	switch n := (*node).(type) {
	case *ast.CallNode:
		id, ok := n.Callee.(*ast.IdentifierNode)
		if !ok {
			return
		}
		v.callees[id] = true
		v.unsee(id.Value)
		if !v.funcs[id.Value] && v.err == nil {
			names := make([]string, 0, len(v.funcs))
			for name := range v.funcs {
				names = append(names, name)
			}
			v.err = &Error{Offset: id.Location().From, Message: fmt.Sprintf("unknown function %s", id.Value), Suggest: diag.Suggest(id.Value, names)}
		}
	case *ast.VariableDeclaratorNode:
		v.locals[n.Name] = true
		v.unsee(n.Name)
	case *ast.IdentifierNode:
		if v.callees[n] || v.locals[n.Value] || v.seen[n.Value] {
			return
		}
		switch n.Value {
		case "$env":
			// expr's only way to the whole environment (OpLoadEnv): the
			// program needs the whole record, not the fields it names.
			v.whole = true
			return
		case "true", "false", "nil":
			return
		}
		v.seen[n.Value] = true
		v.vars = append(v.vars, n.Value)
	}
}

// unsee drops a name collected as a variable before it turned out to be a
// callee or a let-variable.
func (v *varCollector) unsee(name string) {
	if !v.seen[name] {
		return
	}
	delete(v.seen, name)
	for i, n := range v.vars {
		if n == name {
			v.vars = append(v.vars[:i], v.vars[i+1:]...)
			break
		}
	}
}

func funcNames(extra []Func) map[string]bool {
	names := map[string]bool{}
	for name := range funcs {
		names[name] = true
	}
	for _, f := range extra {
		names[f.Name] = true
	}
	for _, b := range builtin.Builtins {
		names[b.Name] = true
	}
	return names
}

// Compile compiles text with every source field it reads typed as any.
func Compile(text string, opts Options) (*Program, error) {
	c, err := collect(text, opts.Extra)
	if err != nil {
		return nil, err
	}
	vars := c.vars
	// Source fields are typed "any": their types are only known per record.
	// Every identifier that is not a function is one (see Vars), so allowing
	// undefined variables hides no typo; unknown functions still fail.
	options := []expr.Option{expr.Env(map[string]any{}), expr.AllowUndefinedVariables(), expr.Optimize(true), expr.Patch(nilSafe{})}
	for _, f := range sortedFuncs(opts.Extra) {
		options = append(options, expr.Function(f.Name, f.Fn, f.Types...))
	}
	if opts.Bool {
		options = append(options, expr.AsBool())
	}
	program, err := expr.Compile(text, options...)
	if err != nil {
		return nil, toError(err)
	}
	p := &Program{Text: text, Vars: vars, program: program, asBool: opts.Bool, whole: c.whole}
	if tree, err := parser.Parse(text); err == nil && !c.whole {
		p.native = compileNative(tree.Node, vars, opts.Extra)
	}
	return p, nil
}

// Bind returns a copy of p that reads its variables from a slice of source
// values: p.Vars[i] is src[slots[i]] when RunFields runs it. Binding is done
// once, at load time; the copy is as immutable and shareable as p.
func (p *Program) Bind(slots []int) *Program {
	if len(slots) != len(p.Vars) {
		panic(fmt.Sprintf("exprenv: Bind: %d slots for %d variables", len(slots), len(p.Vars)))
	}
	q := *p
	q.slots = append([]int(nil), slots...)
	return &q
}

// Whole reports whether p reads $env, the whole record: running it costs a
// full decode of the record, once per record however many programs read it.
func (p *Program) Whole() bool { return p.whole }

// Native reports whether p has a native form: RunFields then runs it
// without the VM, unless a record holds values only the VM handles.
func (p *Program) Native() bool { return p.native != nil }

func sortedFuncs(extra []Func) []Func {
	all := make([]Func, 0, len(funcs)+len(extra))
	for _, f := range funcs {
		all = append(all, f)
	}
	all = append(all, extra...)
	sort.Slice(all, func(i, j int) bool { return all[i].Name < all[j].Name })
	return all
}

func toError(err error) error {
	var fe *file.Error
	if errors.As(err, &fe) {
		return &Error{Offset: fe.From, Message: fe.Message}
	}
	return &Error{Message: err.Error()}
}

// Runner evaluates programs; one per goroutine. Env is filled by the caller
// with the source fields before Run; RunFields fills what it needs itself.
// Env is reused from record to record: it is never what $env shows.
type Runner struct {
	vm    vm.VM
	Env   map[string]any
	scope scope
	// record is the current record's JSON (SetRecord); whole is it decoded,
	// on the first program of the record that reads $env.
	record []byte
	whole  map[string]any
}

// NewRunner returns a runner with an empty environment.
func NewRunner() *Runner { return &Runner{Env: map[string]any{}} }

// Run evaluates p over the runner's environment.
func (r *Runner) Run(p *Program) (out any, err error) {
	return r.runOver(p, r.Env)
}

func (r *Runner) runOver(p *Program, env map[string]any) (out any, err error) {
	defer func() {
		if rec := recover(); rec != nil {
			err = fmt.Errorf("%v", rec)
		}
	}()
	return r.vm.Run(p.program, env)
}

// SetRecord makes raw, one JSON object, the record the next programs run
// over until the next SetRecord: a program that reads $env sees all of it
// and nothing else. raw is read, not kept beyond that; SetRecord(nil) drops
// it. Callers that run programs reading $env must set each record.
func (r *Runner) SetRecord(raw []byte) {
	r.record, r.whole = raw, nil
}

// wholeRecord is the current record decoded as encoding/json decodes into
// map[string]any, as source.Extractor's default mode does: the fields a
// program names read the same values from it as from the extracted ones.
// The map is new for each record, as a result may hold parts of it.
func (r *Runner) wholeRecord() (map[string]any, error) {
	if r.whole != nil {
		return r.whole, nil
	}
	if r.record == nil {
		return nil, errors.New("$env: no current record")
	}
	var m map[string]any
	if err := json.Unmarshal(r.record, &m); err != nil {
		return nil, fmt.Errorf("$env: %w", err)
	}
	if m == nil {
		return nil, errors.New("$env: the record is not a JSON object")
	}
	r.whole = m
	return m, nil
}

// RunFields evaluates p, bound with Bind, over src, one record's source
// values. The native form runs when it can; otherwise (or when this record
// needs it) the VM does, over Env filled with p's variables only, so the
// result and any error are always the VM's. A program that reads $env runs
// over the whole current record instead (SetRecord).
func (r *Runner) RunFields(p *Program, src []any) (any, error) {
	if p.whole {
		env, err := r.wholeRecord()
		if err != nil {
			return nil, err
		}
		return r.runOver(p, env)
	}
	if v, ok := r.Eval(p, src); ok {
		return v, nil
	}
	if p.slots == nil && len(p.Vars) > 0 {
		return r.Run(p) // not bound: the caller filled Env
	}
	for i, name := range p.Vars {
		r.Env[name] = src[p.slots[i]]
	}
	return r.Run(p)
}

// Append is Eval for a template hole: a string result is appended to dst
// (a concatenation or join without allocating it); any other result is
// returned as v for the caller to format, dst unchanged. ok as for Eval.
func (r *Runner) Append(dst []byte, p *Program, src []any) (out []byte, v any, ok bool) {
	if p.native == nil || p.asBool || p.slots == nil && len(p.Vars) > 0 {
		v, ok = r.Eval(p, src)
		return dst, v, ok
	}
	s := &r.scope
	s.src, s.slots, s.elem = src, p.slots, nil
	out, v, _, ok = appendNode(p.native, s, dst)
	s.src, s.slots = nil, nil
	if !ok {
		return dst, nil, false
	}
	return out, v, true
}

// Eval runs only p's native form over src (see RunFields); ok is false when
// p has none or this record needs the VM. A caller that renders several
// programs as one (a template) uses it to fall back to its own VM program.
func (r *Runner) Eval(p *Program, src []any) (v any, ok bool) {
	if p.native == nil || p.slots == nil && len(p.Vars) > 0 {
		return nil, false
	}
	s := &r.scope
	s.src, s.slots, s.elem = src, p.slots, nil
	v, ok = p.native.eval(s)
	s.src, s.slots = nil, nil
	if ok && p.asBool {
		// OpCast to bool: nil is false, anything else not a bool an error.
		switch v.(type) {
		case nil:
			v = false
		case bool:
		default:
			ok = false
		}
	}
	return v, ok
}
