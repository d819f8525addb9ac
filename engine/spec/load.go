package spec

import (
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	"gopkg.in/yaml.v3"

	"github.com/ocsfmap/ocsfmap/engine/diag"
)

// Load reads and parses a mapping file.
func Load(path string) (*Mapping, diag.List) {
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, diag.List{{Code: "M100", Pos: diag.Pos{File: path}, Message: err.Error()}}
	}
	return Parse(path, src)
}

// Parse parses a mapping from src. It returns the mapping it could read and
// every problem found; the mapping is nil only when the YAML itself is broken.
func Parse(file string, src []byte) (*Mapping, diag.List) {
	p := &parser{file: file, src: src}
	var doc yaml.Node
	if err := yaml.Unmarshal(src, &doc); err != nil {
		line := yamlErrLine(err)
		// The position says where; yaml.v3's own "line N: " would disagree.
		msg := yamlLinePrefix.ReplaceAllString(strings.TrimPrefix(err.Error(), "yaml: "), "")
		d := p.errorf("M101", diag.Pos{File: file, Line: line}, "invalid YAML: %s", msg)
		if strings.Contains(err.Error(), "did not find expected ',' or '}'") && unquotedExpr.MatchString(diag.SourceLine(src, line)) {
			d.Detail = "inside {…}, an expression holding ?, :, a comma or brackets must be quoted: {expr: 'a ?? b'}"
		}
		return nil, p.diags
	}
	if len(doc.Content) == 0 {
		p.errorf("M104", diag.Pos{File: file}, "empty mapping file")
		return nil, p.diags
	}
	m := &Mapping{File: file, Src: src}
	p.mapping(doc.Content[0], m)
	return m, p.diags
}

type parser struct {
	file  string
	src   []byte
	diags diag.List
}

func (p *parser) pos(n *yaml.Node) diag.Pos {
	return diag.Pos{File: p.file, Line: n.Line, Column: n.Column}
}

func (p *parser) errorf(code string, pos diag.Pos, format string, args ...any) *diag.Diagnostic {
	d := diag.Diagnostic{Code: code, Pos: pos, Message: fmt.Sprintf(format, args...)}
	if pos.Line > 0 {
		d.Source = diag.SourceLine(p.src, pos.Line)
	}
	p.diags = append(p.diags, d)
	return &p.diags[len(p.diags)-1]
}

// keys walks a mapping node, calling handle for each known key and reporting
// unknown and duplicate ones.
func (p *parser) keys(n *yaml.Node, what string, known map[string]func(k, v *yaml.Node)) {
	if n.Kind != yaml.MappingNode {
		p.errorf("M103", p.pos(n), "%s must be a mapping, not %s", what, kindName(n))
		return
	}
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if seen[k.Value] {
			p.errorf("M106", p.pos(k), "duplicate key %q in %s", k.Value, what)
			continue
		}
		seen[k.Value] = true
		h, ok := known[k.Value]
		if !ok {
			names := make([]string, 0, len(known))
			for name := range known {
				names = append(names, name)
			}
			d := p.errorf("M102", p.pos(k), "unknown key %q in %s", k.Value, what)
			d.Suggest = diag.Suggest(k.Value, names)
			continue
		}
		h(k, v)
	}
}

func (p *parser) str(v *yaml.Node, what string) Str {
	if v.Kind != yaml.ScalarNode || v.Tag == "!!null" {
		p.errorf("M103", p.pos(v), "%s must be a string, not %s", what, kindName(v))
		return Str{Pos: p.pos(v)}
	}
	return Str{Value: v.Value, Pos: p.pos(v)}
}

func (p *parser) strList(v *yaml.Node, what string) []Str {
	if v.Kind == yaml.ScalarNode {
		return []Str{p.str(v, what)}
	}
	if v.Kind != yaml.SequenceNode {
		p.errorf("M103", p.pos(v), "%s must be a string or a list of strings, not %s", what, kindName(v))
		return nil
	}
	out := make([]Str, 0, len(v.Content))
	for _, e := range v.Content {
		out = append(out, p.str(e, what))
	}
	return out
}

func (p *parser) mapping(n *yaml.Node, m *Mapping) {
	p.keys(n, "the mapping", map[string]func(k, v *yaml.Node){
		"format":      func(_, v *yaml.Node) { m.Format = p.str(v, "format") },
		"mapping":     func(_, v *yaml.Node) { m.Name = p.str(v, "mapping") },
		"version":     func(_, v *yaml.Node) { m.Version = p.str(v, "version") },
		"description": func(_, v *yaml.Node) { m.Description = p.str(v, "description") },
		"ocsf":        func(_, v *yaml.Node) { p.target(v, &m.OCSF) },
		"input": func(_, v *yaml.Node) {
			m.Input.Pos = p.pos(v)
			p.keys(v, "input", map[string]func(k, v *yaml.Node){
				"records": func(_, v *yaml.Node) { m.Input.Records = p.strList(v, "input.records") },
			})
		},
		"partition": func(_, v *yaml.Node) {
			p.keys(v, "partition", map[string]func(k, v *yaml.Node){
				"region":  func(k, v *yaml.Node) { m.Partition.Region = p.partitionValue(k, v) },
				"account": func(k, v *yaml.Node) { m.Partition.Account = p.partitionValue(k, v) },
			})
		},
		"on_error":  func(_, v *yaml.Node) { m.OnError = p.str(v, "on_error") },
		"lookups":   func(_, v *yaml.Node) { p.lookups(v, m) },
		"vars":      func(_, v *yaml.Node) { p.vars(v, m) },
		"drop_when": func(_, v *yaml.Node) { m.DropWhen = p.expr(v, "drop_when") },
		"fields":    func(_, v *yaml.Node) { m.Fields = p.fields(v, "fields") },
		"tests":     func(_, v *yaml.Node) { m.Tests = p.strList(v, "tests") },
		"route":     func(_, v *yaml.Node) { m.Route = p.expr(v, "route") },
		"classes":   func(_, v *yaml.Node) { p.classes(v, m) },
	})
	top := diag.Pos{File: p.file, Line: n.Line, Column: n.Column}
	switch {
	case !m.Format.Set():
		p.errorf("M104", top, "missing key \"format\" (the mapping-language version, %q)", Format)
	case m.Format.Value != Format:
		d := p.errorf("M105", m.Format.Pos, "unsupported format %q", m.Format.Value)
		d.Detail = "this build reads " + Format
	}
	for _, req := range []struct {
		s    Str
		name string
	}{{m.Name, "mapping"}, {m.Version, "version"}} {
		if !req.s.Set() {
			p.errorf("M104", top, "missing key %q", req.name)
		}
	}
	if !posSet(m.OCSF.Pos) {
		p.errorf("M104", top, "missing key \"ocsf\" (version, class and profiles the mapping writes)")
	}
	p.routing(m, top)
	switch m.OnError.Value {
	case "", "dead_letter", "null_field", "fail":
	default:
		d := p.errorf("M103", m.OnError.Pos, "on_error must be dead_letter, null_field or fail, not %q", m.OnError.Value)
		d.Suggest = diag.Suggest(m.OnError.Value, []string{"dead_letter", "null_field", "fail"})
	}
}

// vars reads the named values: name: 'expression' (or name: {expr: …}).
func (p *parser) vars(n *yaml.Node, m *Mapping) {
	if n.Kind != yaml.MappingNode {
		p.errorf("M103", p.pos(n), "vars must be a mapping of names to expressions, not %s", kindName(n))
		return
	}
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		name := Str{Value: k.Value, Pos: p.pos(k)}
		switch {
		case seen[k.Value]:
			p.errorf("M106", name.Pos, "var %q given twice", k.Value)
			continue
		case !varName.MatchString(k.Value):
			p.errorf("M103", name.Pos, "var name %q is not an identifier (letters, digits and _, not starting with a digit)", k.Value)
			continue
		}
		seen[k.Value] = true
		if v.Kind == yaml.MappingNode {
			var e *Expr
			p.keys(v, "var "+k.Value, map[string]func(k, v *yaml.Node){
				"expr": func(_, v *yaml.Node) { e = p.expr(v, "expr") },
			})
			if e == nil {
				p.errorf("M104", p.pos(v), "var %q needs an expr", k.Value)
				continue
			}
			m.Vars = append(m.Vars, &Var{Name: name, Expr: e})
			continue
		}
		if e := p.expr(v, "var "+k.Value); e != nil {
			m.Vars = append(m.Vars, &Var{Name: name, Expr: e})
		}
	}
}

var varName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// partitionValue reads an OCSF path, or a rule written like a field's.
func (p *parser) partitionValue(k, v *yaml.Node) PartitionValue {
	if v.Kind == yaml.MappingNode {
		f := &Field{Path: Str{Value: "partition." + k.Value, Pos: p.pos(k)}, Pos: p.pos(v)}
		p.field(v, f)
		return PartitionValue{Rule: f}
	}
	return PartitionValue{Path: p.str(v, "partition."+k.Value)}
}

func (p *parser) target(n *yaml.Node, t *Target) {
	t.Pos = p.pos(n)
	p.keys(n, "ocsf", map[string]func(k, v *yaml.Node){
		"version": func(_, v *yaml.Node) { t.Version = p.str(v, "ocsf.version") },
		"class":   func(_, v *yaml.Node) { t.Class = p.str(v, "ocsf.class") },
		"profiles": func(_, v *yaml.Node) {
			t.ProfilesSet = true
			if v.Kind != yaml.SequenceNode {
				p.errorf("M103", p.pos(v), "ocsf.profiles must be a list, not %s", kindName(v))
				return
			}
			t.Profiles = p.strList(v, "a profile")
		},
	})
	if n.Kind == yaml.MappingNode {
		t.read = true
		if !t.Version.Set() {
			p.errorf("M104", t.Pos, "missing key \"version\" in ocsf")
		}
	}
}

// routing checks the keys that go together: a single-class mapping names
// its class in ocsf and has fields; a routed one names its classes under
// classes, the version alone in ocsf, and a route to choose among them.
func (p *parser) routing(m *Mapping, top diag.Pos) {
	t := m.OCSF
	if m.Classes == nil {
		if m.Route != nil {
			d := p.errorf("M104", m.Route.Pos, "route chooses among the mapping's classes, and it has none: add classes")
			d.Detail = "classes: {api_activity: {fields: {…}}, authentication: {fields: {…}}}; see \"Routing records to several classes\" in docs/mapping-format.md"
		}
		if t.read && !t.Class.Set() {
			p.errorf("M104", t.Pos, "missing key \"class\" in ocsf")
		}
		if len(m.Fields) == 0 {
			p.errorf("M104", top, "the mapping has no fields")
		}
		return
	}
	if t.Class.Set() {
		d := p.errorf("M103", t.Class.Pos, "ocsf.class names the class of a single-class mapping; this one lists its classes under classes")
		d.Detail = "remove ocsf.class: with classes, ocsf names the version (and the default profiles) only"
	}
	if m.Route == nil {
		d := p.errorf("M104", top, "missing key \"route\": a mapping with classes needs an expression that names each record's class")
		d.Detail = "e.g. route: 'eventName == \"ConsoleLogin\" ? \"authentication\" : \"api_activity\"'"
	}
	for _, c := range m.Classes {
		if len(m.Fields) == 0 && len(c.Fields) == 0 {
			p.errorf("M104", c.Name.Pos, "class %s has no fields (and the mapping has no common fields)", c.Name.Value)
		}
	}
}

// classes reads the classes of a routed mapping: class name: {profiles, fields}.
func (p *parser) classes(n *yaml.Node, m *Mapping) {
	if n.Kind != yaml.MappingNode {
		m.Classes = []*Class{} // present: no cascade of errors for a single-class mapping
		p.errorf("M103", p.pos(n), "classes must be a mapping of OCSF class name: {profiles, fields}, not %s", kindName(n))
		return
	}
	m.Classes = []*Class{}
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if seen[k.Value] {
			p.errorf("M106", p.pos(k), "class %q given twice", k.Value)
			continue
		}
		seen[k.Value] = true
		c := &Class{Name: Str{Value: k.Value, Pos: p.pos(k)}, Pos: p.pos(v)}
		p.keys(v, "class "+k.Value, map[string]func(k, v *yaml.Node){
			"profiles": func(_, v *yaml.Node) {
				c.ProfilesSet = true
				if v.Kind != yaml.SequenceNode {
					p.errorf("M103", p.pos(v), "profiles of class %s must be a list, not %s", c.Name.Value, kindName(v))
					return
				}
				c.Profiles = p.strList(v, "a profile")
			},
			"fields": func(_, v *yaml.Node) { c.Fields = p.fields(v, "fields of class "+c.Name.Value) },
		})
		m.Classes = append(m.Classes, c)
	}
	if len(m.Classes) == 0 {
		p.errorf("M104", p.pos(n), "classes is empty: name at least one OCSF class")
	}
}

func (p *parser) lookups(n *yaml.Node, m *Mapping) {
	if n.Kind != yaml.MappingNode {
		p.errorf("M103", p.pos(n), "lookups must be a mapping of tables, not %s", kindName(n))
		return
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		l := &Lookup{Name: Str{Value: k.Value, Pos: p.pos(k)}, Pos: p.pos(v)}
		if v.Kind != yaml.MappingNode {
			p.errorf("M103", p.pos(v), "lookup %q must be a mapping of key: value, not %s", k.Value, kindName(v))
			continue
		}
		seen := map[string]bool{}
		for j := 0; j+1 < len(v.Content); j += 2 {
			ek, ev := v.Content[j], v.Content[j+1]
			val := p.scalar(ev, "a lookup value")
			if ek.Value == "_default" {
				l.Default = &val
				continue
			}
			if seen[ek.Value] {
				p.errorf("M106", p.pos(ek), "duplicate key %q in lookup %q", ek.Value, k.Value)
				continue
			}
			seen[ek.Value] = true
			l.Entries = append(l.Entries, LookupEntry{Key: Str{Value: ek.Value, Pos: p.pos(ek)}, Value: val})
		}
		m.Lookups = append(m.Lookups, l)
	}
}

func (p *parser) scalar(v *yaml.Node, what string) Scalar {
	s := Scalar{Tag: v.Tag, Pos: p.pos(v)}
	switch v.Kind {
	case yaml.ScalarNode:
		s.Value = scalarValue(v)
	case yaml.SequenceNode:
		list := make([]any, 0, len(v.Content))
		for _, e := range v.Content {
			if e.Kind != yaml.ScalarNode {
				p.errorf("M103", p.pos(e), "%s list may hold only scalars, not %s", what, kindName(e))
				continue
			}
			list = append(list, scalarValue(e))
		}
		s.Value = list
	default:
		p.errorf("M103", p.pos(v), "%s must be a scalar or a list of scalars, not %s", what, kindName(v))
	}
	return s
}

func scalarValue(v *yaml.Node) any {
	switch v.Tag {
	case "!!null":
		return nil
	case "!!bool":
		b, _ := strconv.ParseBool(v.Value)
		return b
	case "!!int":
		if i, err := strconv.ParseInt(v.Value, 0, 64); err == nil {
			return i
		}
	case "!!float":
		if f, err := strconv.ParseFloat(v.Value, 64); err == nil {
			return f
		}
	}
	return v.Value
}

// fields reads a field table: OCSF path: rule.
func (p *parser) fields(n *yaml.Node, what string) []*Field {
	if n.Kind != yaml.MappingNode {
		p.errorf("M103", p.pos(n), "%s must be a mapping of OCSF path: rule, not %s", what, kindName(n))
		return nil
	}
	var out []*Field
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if seen[k.Value] {
			p.errorf("M106", p.pos(k), "duplicate field %q", k.Value)
			continue
		}
		seen[k.Value] = true
		f := &Field{Path: Str{Value: k.Value, Pos: p.pos(k)}, Pos: p.pos(v)}
		p.field(v, f)
		out = append(out, f)
	}
	return out
}

func (p *parser) field(n *yaml.Node, f *Field) {
	what := "field " + f.Path.Value
	p.keys(n, what, map[string]func(k, v *yaml.Node){
		"from": func(_, v *yaml.Node) { f.From = p.strList(v, "from") },
		"value": func(_, v *yaml.Node) {
			s := p.scalar(v, "value")
			f.Value = &s
		},
		"expr": func(_, v *yaml.Node) { f.Expr = p.expr(v, "expr") },
		"template": func(_, v *yaml.Node) {
			s := p.str(v, "template")
			f.Template = &s
		},
		"lookup": func(_, v *yaml.Node) {
			s := p.str(v, "lookup")
			f.Lookup = &s
		},
		"key": func(_, v *yaml.Node) { f.Key = p.expr(v, "key") },
		"default": func(_, v *yaml.Node) {
			s := p.scalar(v, "default")
			f.Default = &s
		},
		"when":      func(_, v *yaml.Node) { f.When = p.expr(v, "when") },
		"deviation": func(_, v *yaml.Node) { f.Deviation = p.str(v, "deviation") },
		"each":      func(_, v *yaml.Node) { f.Each = p.expr(v, "each") },
		"fields": func(_, v *yaml.Node) {
			if v.Kind != yaml.MappingNode {
				p.errorf("M103", p.pos(v), "fields of %s must be a mapping of path: rule, not %s", f.Path.Value, kindName(v))
				return
			}
			for i := 0; i+1 < len(v.Content); i += 2 {
				k, e := v.Content[i], v.Content[i+1]
				sf := &Field{Path: Str{Value: k.Value, Pos: p.pos(k)}, Pos: p.pos(e)}
				p.field(e, sf)
				f.Fields = append(f.Fields, sf)
			}
		},
	})
	if n.Kind != yaml.MappingNode {
		return
	}
	if f.Each != nil || f.Fields != nil {
		p.each(f)
		return
	}
	var sources []string
	if len(f.From) > 0 && f.Lookup == nil {
		sources = append(sources, "from")
	}
	if f.Value != nil {
		sources = append(sources, "value")
	}
	if f.Expr != nil {
		sources = append(sources, "expr")
	}
	if f.Template != nil {
		sources = append(sources, "template")
	}
	if f.Lookup != nil {
		sources = append(sources, "lookup")
		if len(f.From) == 0 && f.Key == nil {
			p.errorf("M107", f.Lookup.Pos, "lookup %q needs its key: from (a source field) or key (an expression)", f.Lookup.Value)
		}
		if len(f.From) > 0 && f.Key != nil {
			p.errorf("M107", f.Key.Pos, "a lookup takes its key from \"from\" or \"key\", not both")
		}
	} else if f.Key != nil {
		p.errorf("M107", f.Key.Pos, "key is the key of a lookup: add lookup: <table>")
	}
	switch len(sources) {
	case 0:
		p.errorf("M107", f.Pos, "%s has no rule: give one of from, value, expr, template or lookup", what)
	case 1:
	default:
		p.errorf("M107", f.Pos, "%s has several rules (%s): give exactly one", what, strings.Join(sources, ", "))
	}
	if f.Value != nil && f.Default != nil {
		p.errorf("M107", f.Default.Pos, "a static value needs no default")
	}
}

// expr reads an expression scalar and records where each of its runes sits in
// the file, so errors inside it point at the right line and column whatever
// the YAML quoting or block style.
func (p *parser) expr(v *yaml.Node, what string) *Expr {
	s := p.str(v, what)
	if !s.Set() {
		return nil
	}
	e := &Expr{Text: s.Value, Pos: s.Pos}
	e.offsets = p.runeOffsets(v)
	if len(e.offsets) != utf8.RuneCountInString(e.Text) {
		e.offsets = nil // an unusual form: errors point at the scalar's start
	}
	return e
}

func (p *parser) runeOffsets(v *yaml.Node) []diag.Pos {
	lines := strings.Split(string(p.src), "\n")
	at := func(line, col int) diag.Pos { return diag.Pos{File: p.file, Line: line, Column: col} }
	var out []diag.Pos
	switch v.Style {
	case yaml.LiteralStyle, yaml.FoldedStyle:
		// Content starts on the line after the indicator; its indentation is
		// that of the first non-blank content line.
		indent := -1
		for ln := v.Line + 1; ln <= len(lines); ln++ {
			text := strings.TrimRight(lines[ln-1], "\r")
			if strings.TrimSpace(text) == "" {
				if indent >= 0 {
					out = append(out, at(ln, 1))
				}
				continue
			}
			ind := len(text) - len(strings.TrimLeft(text, " "))
			if indent < 0 {
				indent = ind
			}
			if ind < indent {
				break
			}
			col := indent + 1
			for _, r := range text[indent:] {
				out = append(out, at(ln, col))
				col += utf8.RuneLen(r)
			}
			out = append(out, at(ln, col)) // the line break
		}
		// Trailing breaks were clipped by the YAML chomping rules.
		n := utf8.RuneCountInString(v.Value)
		if len(out) > n {
			out = out[:n]
		}
		return out
	case yaml.SingleQuotedStyle, yaml.DoubleQuotedStyle:
		if v.Line < 1 || v.Line > len(lines) {
			return nil
		}
		line := lines[v.Line-1]
		start := byteCol(line, v.Column) + 1 // after the quote
		quote := byte('\'')
		if v.Style == yaml.DoubleQuotedStyle {
			quote = '"'
		}
		for i := start; i < len(line); {
			c := line[i]
			if c == quote {
				if quote == '\'' && i+1 < len(line) && line[i+1] == '\'' {
					out = append(out, at(v.Line, i+1))
					i += 2
					continue
				}
				break
			}
			if quote == '"' && c == '\\' && i+1 < len(line) {
				out = append(out, at(v.Line, i+1))
				switch line[i+1] {
				case 'x':
					i += 4
				case 'u':
					i += 6
				case 'U':
					i += 10
				default:
					i += 2
				}
				continue
			}
			_, size := utf8.DecodeRuneInString(line[i:])
			out = append(out, at(v.Line, i+1))
			i += size
		}
		return out
	default:
		if v.Line < 1 || v.Line > len(lines) {
			return nil
		}
		line := lines[v.Line-1]
		start := byteCol(line, v.Column)
		for i, r := range v.Value {
			_ = r
			out = append(out, at(v.Line, start+i+1))
		}
		return out
	}
}

// byteCol converts yaml.v3's 1-based rune column to a 0-based byte index.
func byteCol(line string, col int) int {
	i, n := 0, 1
	for i < len(line) && n < col {
		_, size := utf8.DecodeRuneInString(line[i:])
		i += size
		n++
	}
	return i
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.AliasNode:
		return "an alias"
	}
	if n.Tag == "!!null" {
		return "null"
	}
	return "a scalar"
}

// yamlErrLine pulls the line number out of a yaml.v3 error message. The
// parser's errors (unlike the scanner's) carry a 0-based line: that of the
// flow collection or block left open, which is where the mistake is.
func yamlErrLine(err error) int {
	msg := err.Error()
	if i := strings.Index(msg, "line "); i >= 0 {
		rest := msg[i+5:]
		j := 0
		for j < len(rest) && rest[j] >= '0' && rest[j] <= '9' {
			j++
		}
		if n, err := strconv.Atoi(rest[:j]); err == nil {
			for _, p := range yamlParserErrors {
				if strings.HasSuffix(msg, p) {
					return n + 1
				}
			}
			return n
		}
	}
	return 0
}

var (
	yamlLinePrefix = regexp.MustCompile(`^line \d+: `)
	unquotedExpr   = regexp.MustCompile(`\bexpr:\s*[^'"\s]`)
)

var yamlParserErrors = []string{
	"did not find expected ',' or '}'", "did not find expected ',' or ']'", "did not find expected '-' indicator",
	"did not find expected key", "did not find expected node content", "did not find expected <document start>",
}
