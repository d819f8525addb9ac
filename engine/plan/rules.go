package plan

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/ocsfmap/ocsfmap/engine/diag"
	"github.com/ocsfmap/ocsfmap/engine/exprenv"
	"github.com/ocsfmap/ocsfmap/engine/ocsf"
	"github.com/ocsfmap/ocsfmap/engine/spec"
)

// rule fills one leaf of the output tree.
type rule struct {
	target *Node
	attr   *ocsf.Attr // nil below open attributes
	path   string
	pos    diag.Pos
	spec   *spec.Field // nil for derived rules

	from     []int // source fields: the first present one
	static   *Value
	prog     *exprenv.Program
	template []segment
	// templateProg renders the whole template in one run.
	templateProg *exprenv.Program
	lookup       *lookupTable
	keyProg      *exprenv.Program
	def          *Value
	when         *exprenv.Program
	always       bool // never null: a static value, or a lookup with a default
	idx          int  // position in Plan.rules
	enumSafe     bool // values proven to be in the attribute's enum at load time
}

// segment is a piece of a template: literal text or an expression.
type segment struct {
	text string
	prog *exprenv.Program
}

// lookupTable is a conversion table with normalized keys.
type lookupTable struct {
	name    string
	entries map[string]any
	def     any
	hasDef  bool
	pos     diag.Pos
	spec    *spec.Lookup
}

// normKey is how lookup keys and looked-up values are compared:
// case-insensitive, surrounding blanks ignored.
func normKey(s string) string { return strings.ToLower(strings.TrimSpace(s)) }

func (c *compiler) compileLookups() {
	for _, l := range c.m.Lookups {
		t := &lookupTable{name: l.Name.Value, entries: map[string]any{}, pos: l.Name.Pos, spec: l}
		for _, e := range l.Entries {
			k := normKey(e.Key.Value)
			if _, dup := t.entries[k]; dup {
				c.errorf("M106", e.Key.Pos, "lookup %q has key %q twice (keys are compared case-insensitively)", l.Name.Value, e.Key.Value)
			}
			t.entries[k] = e.Value.Value
		}
		if l.Default != nil {
			t.def, t.hasDef = l.Default.Value, true
		}
		c.lookups[t.name] = t
	}
	tables := c.lookups
	c.extra = append(c.extra, templateFunc, exprenv.Func{
		Name: "lookup",
		Doc:  "lookup(table, key[, default]): the value of key in one of the mapping's lookup tables",
		Fn: func(args ...any) (any, error) {
			t := tables[fmt.Sprint(args[0])]
			if t == nil {
				return nil, fmt.Errorf("no lookup table %v", args[0])
			}
			if v, ok := t.get(args[1]); ok {
				return v, nil
			}
			if len(args) > 2 {
				return args[2], nil
			}
			return nil, nil
		},
		Types: []any{new(func(string, any) any), new(func(string, any, any) any)},
	})
}

// get looks a key up; a missing or null key is the empty string.
func (t *lookupTable) get(key any) (any, bool) {
	var k string
	switch v := key.(type) {
	case nil:
	case string:
		k = v
	default:
		s, err := toString(v)
		if err != nil {
			return t.def, t.hasDef
		}
		k = s.Str
	}
	return t.getString(k)
}

// getString is get for a string key. An ASCII key is normalized on the
// stack (normKey's ToLower allocates for every key with a capital letter).
func (t *lookupTable) getString(k string) (any, bool) {
	var buf [64]byte
	if len(k) > len(buf) {
		return t.getSlow(k) // longer than any lookup key worth a stack buffer
	}
	if nk, ok := exprenv.AppendNormASCII(buf[:0], k); ok {
		if v, ok := t.entries[string(nk)]; ok { // the conversion does not allocate
			return v, true
		}
		return t.def, t.hasDef
	}
	return t.getSlow(k)
}

func (t *lookupTable) getSlow(k string) (any, bool) {
	if v, ok := t.entries[normKey(k)]; ok {
		return v, true
	}
	return t.def, t.hasDef
}

func (c *compiler) compileRule(r *rule, f *spec.Field) {
	leaf := r.target
	if e := indexedFrom(f.From); e != nil {
		// The extractor reads dotted paths only: a path with an index
		// (groups[0], a.b[1].c) is read as the expression it also is, nil
		// when any part of it is missing.
		if f.Lookup != nil && f.Key == nil {
			r.keyProg = c.compileExpr(e, false)
		} else {
			r.prog = c.compileExpr(e, false)
		}
	}
	if len(f.From) > 0 && f.Lookup == nil && leaf.OCSFType == "timestamp_t" {
		d := c.warnf("M313", f.From[0].Pos, "%s is epoch milliseconds (timestamp_t); from: copies %s as it is", r.path, f.From[0].Value)
		d.Detail = "if the source holds text (ISO 8601, \"Oct 8, 2024 …\"), read it with expr: 'epoch_ms(x)' or 'parse_time(x, layout)'"
	}
	for _, s := range f.From {
		if s.Value == "" {
			c.errorf("M107", s.Pos, "from names no field")
			continue
		}
		if r.prog == nil && r.keyProg == nil {
			r.from = append(r.from, c.sourceField(s.Value))
		}
	}
	if f.Value != nil {
		v, ok := c.staticValue(r, *f.Value)
		if ok {
			r.static = &v
			r.always = !v.IsNull()
		}
	}
	if f.Expr != nil {
		r.prog = c.compileExpr(f.Expr, false)
		switch {
		case r.prog == nil:
		case holdsObjects(leaf):
			c.checkShapes(r, f.Expr)
		case !typeFits(r.prog.Type(), leaf.Kind):
			c.errorf("M203", f.Expr.Pos, "expression yields %s, but %s is %s", r.prog.Type(), r.path, c.typeName(r))
		}
	}
	if f.Template != nil {
		c.compileTemplate(r, *f.Template)
	}
	if f.Lookup != nil {
		t, ok := c.lookups[f.Lookup.Value]
		if !ok {
			names := make([]string, 0, len(c.lookups))
			for n := range c.lookups {
				names = append(names, n)
			}
			d := c.errorf("M108", f.Lookup.Pos, "no lookup table %q", f.Lookup.Value)
			d.Suggest = diag.Suggest(f.Lookup.Value, names)
		} else {
			r.lookup = t
			r.always = t.hasDef && t.def != nil
			c.checkLookup(r, t)
		}
		if f.Key != nil {
			r.keyProg = c.compileExpr(f.Key, false)
		}
	}
	if f.Default != nil {
		if v, ok := c.staticValue(r, *f.Default); ok {
			r.def = &v
			r.always = !v.IsNull()
		}
	}
	if f.When != nil {
		r.when = c.compileExpr(f.When, true)
		r.always = false
	}
	if r.static != nil && f.When == nil {
		r.enumSafe = true
	}
	r.prog, r.keyProg, r.when, r.templateProg = c.bind(r.prog), c.bind(r.keyProg), c.bind(r.when), c.bind(r.templateProg)
	for i := range r.template {
		r.template[i].prog = c.bind(r.template[i].prog)
	}
}

// indexedFrom returns the expression that reads from: when one of its paths
// holds an index: the path itself, or for several the first present one
// (coalesce skips blanks, as several from: fields do); nil otherwise.
func indexedFrom(from []spec.Str) *spec.Expr {
	var texts []string
	indexed := false
	for _, s := range from {
		indexed = indexed || strings.Contains(s.Value, "[")
		texts = append(texts, s.Value)
	}
	if !indexed {
		return nil
	}
	text := texts[0]
	if len(texts) > 1 {
		text = "coalesce(" + strings.Join(texts, ", ") + ")"
	}
	return &spec.Expr{Text: text, Pos: from[0].Pos}
}

// bind points a program's variables at their extraction slots, so the
// mapper runs it over the extracted values without filling a map per record.
func (c *compiler) bind(p *exprenv.Program) *exprenv.Program {
	if p == nil {
		return nil
	}
	slots := make([]int, len(p.Vars))
	for i, v := range p.Vars {
		slots[i] = c.sourceField(v)
	}
	return p.Bind(slots)
}

// staticValue converts a static value from the mapping file to the leaf's
// kind and checks it against the attribute's enum.
func (c *compiler) staticValue(r *rule, s spec.Scalar) (Value, bool) {
	v, err := convert(s.Value, r.target)
	if err != nil {
		c.errorf("M307", s.Pos, "%s is %s: %v", r.path, c.typeName(r), err)
		return Value{}, false
	}
	if !c.inEnum(r, v, s.Pos) {
		return Value{}, false
	}
	return v, true
}

// inEnum reports (and diagnoses) an integer value outside the attribute's enum.
func (c *compiler) inEnum(r *rule, v Value, pos diag.Pos) bool {
	if r.attr == nil || len(r.attr.Enum) == 0 || v.Kind != Int {
		return true
	}
	if _, ok := r.attr.Enum[v.Int]; ok {
		return true
	}
	d := c.errorf("M308", pos, "%d is not a value of %s in OCSF %s", v.Int, r.path, c.cat.Version)
	d.Detail = "allowed: " + enumList(r.attr.Enum)
	return false
}

func enumList(e map[int64]string) string {
	ids := make([]int64, 0, len(e))
	for id := range e {
		ids = append(ids, id)
	}
	sortInts(ids)
	parts := make([]string, len(ids))
	for i, id := range ids {
		parts[i] = fmt.Sprintf("%d %s", id, e[id])
	}
	return strings.Join(parts, ", ")
}

// checkLookup converts every value of a table to the leaf's kind once, and
// checks them against the enum: a lookup never yields a value out of range.
func (c *compiler) checkLookup(r *rule, t *lookupTable) {
	ok := true
	for _, e := range t.spec.Entries {
		v, err := convert(e.Value.Value, r.target)
		if err != nil {
			c.errorf("M307", e.Value.Pos, "lookup %q value for %q: %s is %s: %v", t.name, e.Key.Value, r.path, c.typeName(r), err)
			ok = false
			continue
		}
		ok = c.inEnum(r, v, e.Value.Pos) && ok
	}
	if t.spec.Default != nil {
		v, err := convert(t.def, r.target)
		if err != nil {
			c.errorf("M307", t.spec.Default.Pos, "lookup %q _default: %s is %s: %v", t.name, r.path, c.typeName(r), err)
			ok = false
		} else {
			ok = c.inEnum(r, v, t.spec.Default.Pos) && ok
		}
	}
	r.enumSafe = ok
}

func (c *compiler) typeName(r *rule) string {
	if r.attr == nil {
		return "json_t"
	}
	t := r.attr.Type
	if r.attr.IsArray && r.target.Kind == KindList {
		t += "[]"
	}
	return t
}

// compileTemplate reads a template file: text with {{ expression }} holes.
func (c *compiler) compileTemplate(r *rule, s spec.Str) {
	path := c.templatePath(s)
	src, err := os.ReadFile(path)
	if err != nil {
		c.errorf("M109", s.Pos, "template: %v", err)
		return
	}
	text := string(src)
	line, col := 1, 1
	advance := func(s string) {
		for _, ch := range s {
			if ch == '\n' {
				line, col = line+1, 1
			} else {
				col++
			}
		}
	}
	for len(text) > 0 {
		open := strings.Index(text, "{{")
		if open < 0 {
			r.template = append(r.template, segment{text: text})
			break
		}
		if open > 0 {
			r.template = append(r.template, segment{text: text[:open]})
		}
		advance(text[:open+2])
		rest := text[open+2:]
		end := strings.Index(rest, "}}")
		if end < 0 {
			c.errorf("M204", diag.Pos{File: path, Line: line, Column: col - 2}, "template: {{ without }}")
			return
		}
		body := rest[:end]
		startLine, startCol := line, col
		prog, err := exprenv.Compile(body, exprenv.Options{Extra: c.extra})
		if err != nil {
			pos := diag.Pos{File: path, Line: startLine, Column: startCol}
			msg := err.Error()
			if ee, ok := err.(*exprenv.Error); ok {
				pos = offsetPos(path, body, ee.Offset, startLine, startCol)
				msg = ee.Message
			}
			d := c.errorf("M201", pos, "template: %s", msg)
			d.Source = diag.SourceLine(src, pos.Line)
		} else {
			for _, v := range prog.Vars {
				c.sourceField(v)
			}
			r.template = append(r.template, segment{prog: prog})
		}
		advance(body + "}}")
		text = rest[end+2:]
	}
	if leaf := r.target.Kind; leaf != KindString && leaf != KindJSON {
		c.errorf("M203", s.Pos, "a template yields a string, but %s is %s", r.path, c.typeName(r))
	}
	r.templateProg = c.joinTemplate(r.template)
}

// joinTemplate compiles a whole template into one program, one VM run per
// record instead of one per hole. The holes compiled alone first, so their
// errors point into the template file; this cannot fail where they did not.
func (c *compiler) joinTemplate(segs []segment) *exprenv.Program {
	var b strings.Builder
	b.WriteString("__template(")
	for i, seg := range segs {
		if i > 0 {
			b.WriteString(", ")
		}
		if seg.prog == nil {
			b.WriteString(strconv.Quote(seg.text))
		} else {
			b.WriteString("(" + seg.prog.Text + ")")
		}
	}
	b.WriteString(")")
	prog, err := exprenv.Compile(b.String(), exprenv.Options{Extra: c.extra})
	if err != nil {
		return nil // the per-hole programs run instead
	}
	return prog
}

// templateFunc renders a template's pieces: nil holes are empty, other
// values their string form. Surrounding blanks are trimmed (a template file
// ends with a newline; holes that render empty leave blank lines).
var templateFunc = exprenv.Func{
	Name: "__template",
	Doc:  "__template(pieces...): internal, the rendering of a template file",
	Fn: func(args ...any) (any, error) {
		var b strings.Builder
		for _, a := range args {
			switch v := a.(type) {
			case nil:
			case string:
				b.WriteString(v)
			default:
				if s, err := toString(v); err == nil {
					b.WriteString(s.Str)
				} else {
					fmt.Fprint(&b, v)
				}
			}
		}
		return strings.TrimSpace(b.String()), nil
	},
	Types: []any{new(func(...any) string)},
}

// offsetPos finds the file position of rune offset off in body, which starts at line:col.
func offsetPos(file, body string, off, line, col int) diag.Pos {
	i := 0
	for _, ch := range body {
		if i == off {
			break
		}
		if ch == '\n' {
			line, col = line+1, 1
		} else {
			col += utf8.RuneLen(ch)
		}
		i++
	}
	return diag.Pos{File: file, Line: line, Column: col}
}

func sortInts(s []int64) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}
