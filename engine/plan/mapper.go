package plan

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/ocsfmap/ocsfmap/engine/diag"
	"github.com/ocsfmap/ocsfmap/engine/exprenv"
	"github.com/ocsfmap/ocsfmap/engine/ocsf"
	"github.com/ocsfmap/ocsfmap/engine/source"
)

// Error is why one record could not be mapped.
type Error struct {
	Code string   // R401 expression, R402 conversion, R403 required attribute missing, R404 enum, R406 OCSF constraint, R408 typed scalar, R409 no class, R400 bad input
	Path string   // OCSF path of the attribute at fault
	Rule diag.Pos // the rule's position in the mapping file
	Msg  string
	// Others are the record's other failing rules or checks, in plan order:
	// a dead letter reports them all, so one fix does not reveal the next.
	Others []*Error
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.Code)
	if e.Path != "" {
		b.WriteString(" ")
		b.WriteString(e.Path)
	}
	if e.Rule.Line > 0 {
		fmt.Fprintf(&b, " (rule at %s)", e.Rule)
	}
	b.WriteString(": ")
	b.WriteString(e.Msg)
	return b.String()
}

// Mapper maps records with a plan. It holds per-goroutine scratch space: use
// one per goroutine. The Record it returns is reused by the next call.
type Mapper struct {
	p       *Plan
	ext     *source.Extractor
	src     []any
	runner  *exprenv.Runner
	rec     Record
	raw     []string // per rule: the source text before lookup, for "Other" captions
	present []bool
	errs    []*Error // soft errors under the null_field policy
	noCheck bool
	text    []byte // template rendering buffer
	// typeNames caches "<class>: <activity>" per type_name derivation: the
	// enum is finite, and the concatenation would allocate per record.
	typeNames []map[int64]string
	jsonRoot  *jsonNode // built on the first AppendJSON

	// A mapping with classes has one mapper per class, sharing ext, src
	// and runner: this one evaluates the vars, drop_when and route, then
	// the routed class's mapper (cur) runs its rules over the same values.
	classes []*Mapper
	cur     *Mapper // the last record's class; m itself in a single-class mapping
	class   int     // the last record's class index; -1 when it could not be routed

	// With extra fields (NewMapper), the record Extract accepted last, for
	// MapExtracted; nil when there is none to map.
	extracted []byte
}

// NewMapper returns a mapper for p. In a mapping with classes it maps each
// record into the class its route names: Class tells which, and the
// Record is laid out by that class's plan.
//
// extra are source fields its caller reads too, an integration's alert
// rules: the mapper extracts them with the mapping's own in one scan of
// each record, and decodes the mapping's only for a record the caller maps
// (see Extract).
func (p *Plan) NewMapper(extra ...string) *Mapper {
	ext := source.NewExtractor(append(slices.Clip(p.Fields), extra...))
	if len(extra) > 0 {
		ext.Defer(len(p.Fields))
	}
	m := p.newMapper(ext, make([]any, len(p.vars)+len(p.Fields)+len(extra)), exprenv.NewRunner())
	if p.routing != nil {
		m.classes = make([]*Mapper, len(p.routing.plans))
		for i, q := range p.routing.plans {
			if q == p {
				m.classes[i] = m
				continue
			}
			m.classes[i] = q.newMapper(m.ext, m.src, m.runner)
		}
	}
	return m
}

func (p *Plan) newMapper(ext *source.Extractor, src []any, runner *exprenv.Runner) *Mapper {
	m := &Mapper{
		p:         p,
		ext:       ext,
		src:       src,
		runner:    runner,
		rec:       Record{Values: make([]Value, p.slots)},
		raw:       make([]string, len(p.rules)),
		present:   make([]bool, len(p.objects)),
		typeNames: make([]map[int64]string, len(p.derived)),
	}
	m.cur = m
	return m
}

// Class is the class of the last record mapped: its plan's index among the
// mapping's plans, always 0 in a single-class mapping. In a mapping with
// classes it is -1 for a record that could not be routed (invalid JSON; a
// var, drop_when or the route failed; dropped): it has no class.
func (m *Mapper) Class() int { return m.class }

// Plan is the plan of the last record's class, which lays out its Record.
func (m *Mapper) Plan() *Plan { return m.cur.p }

// ErrDropped is Map's answer for a record the mapping's drop_when leaves
// out on purpose: it is counted as filtered, not dead-lettered.
var ErrDropped = errors.New("left out by drop_when")

// Map maps one JSON record. The error is a *Error for a record that cannot
// be mapped or fails a check, a *source.SyntaxError for bad JSON.
func (m *Mapper) Map(raw []byte) (*Record, error) {
	if err := m.extract(raw); err != nil {
		return nil, err
	}
	return m.mapRecord(raw)
}

// Extract is the first half of Map for a mapper with extra fields: it
// validates one JSON record and sets Extra to its values of the extra
// fields, leaving the mapping's own undecoded. MapExtracted maps the record
// from there, so a record the caller leaves out costs no more. The error is
// a *source.SyntaxError for bad JSON.
func (m *Mapper) Extract(raw []byte) error {
	m.extracted = nil
	if m.classes != nil {
		m.class, m.cur = -1, m
	}
	if err := m.ext.Extract(raw, m.src[len(m.p.vars):]); err != nil {
		return err
	}
	m.extracted = raw
	return nil
}

// Extra holds the values of the extra fields (NewMapper) in the record
// Extract accepted last, in their order; all nil when Extract failed. They are
// valid until the next Extract or Map.
func (m *Mapper) Extra() []any { return m.src[len(m.p.vars)+len(m.p.Fields):] }

// MapExtracted is the second half of Map: it maps the record Extract
// accepted last, whose bytes must not have changed since, without scanning
// it again. A record maps once: without an accepted record since the last
// MapExtracted, it fails.
func (m *Mapper) MapExtracted() (*Record, error) {
	raw := m.extracted
	if raw == nil {
		return nil, errors.New("plan: MapExtracted without a record: Extract failed or was not called")
	}
	m.extracted = nil
	if err := m.ext.ExtractDeferred(m.src[len(m.p.vars):]); err != nil {
		return nil, err
	}
	return m.mapRecord(raw)
}

// extract sets the record's source values, the mapping's and the extra fields'.
func (m *Mapper) extract(raw []byte) error {
	if err := m.Extract(raw); err != nil {
		return err
	}
	m.extracted = nil
	return m.ext.ExtractDeferred(m.src[len(m.p.vars):])
}

// SoftErrors are the rule failures of the last record that the null_field
// policy turned into missing attributes.
func (m *Mapper) SoftErrors() []*Error { return m.cur.errs }

// MapUnchecked maps like Map but skips the per-record checks (required
// attributes, enum ranges). It exists to prove those checks agree with the
// JSON Schema: tests validate what would have been written.
func (m *Mapper) MapUnchecked(raw []byte) (*Record, error) {
	if err := m.extract(raw); err != nil {
		return nil, err
	}
	m.noCheck = true
	defer func() { m.noCheck = false }()
	return m.mapRecord(raw)
}

// mapRecord maps the record whose fields were just extracted; raw is its
// JSON, the whole record for expressions that read $env.
func (m *Mapper) mapRecord(raw []byte) (*Record, error) {
	m.runner.SetRecord(raw)
	rec, err := m.mapExtracted()
	m.runner.SetRecord(nil) // the caller may reuse raw's bytes
	return rec, err
}

func (m *Mapper) mapExtracted() (*Record, error) {
	p := m.p
	m.errs = m.errs[:0]
	for k := range p.vars {
		if err := m.evalVar(k); err != nil {
			if p.Policy != NullField {
				return nil, err
			}
			m.errs = append(m.errs, err)
		}
	}
	if p.drop != nil {
		drop, err := m.runner.RunFields(p.drop, m.src)
		if err != nil {
			return nil, &Error{Code: "R401", Path: "drop_when", Rule: p.dropPos, Msg: firstLine(err.Error())}
		}
		if drop == true {
			return nil, ErrDropped
		}
	}
	if p.route != nil {
		c, err := m.route()
		if err != nil {
			return nil, err
		}
		m.class = c.p.classIdx
		if c != m {
			m.cur = c
			c.errs = append(c.errs[:0], m.errs...)
			c.noCheck = m.noCheck
			return c.mapRules()
		}
	}
	return m.mapRules()
}

// route evaluates the mapping's route: the mapper of the record's class.
func (m *Mapper) route() (*Mapper, error) {
	r := m.p.routing
	v, err := m.runner.RunFields(m.p.route, m.src)
	if err != nil {
		return nil, &Error{Code: "R401", Path: "route", Rule: r.pos, Msg: firstLine(err.Error())}
	}
	if name, ok := v.(string); ok {
		for i, n := range r.names {
			if n == name {
				return m.classes[i], nil
			}
		}
	}
	var got string
	switch v.(type) {
	case nil:
		got = "nil"
	case string:
		got = fmt.Sprintf("%q, not a class of the mapping", v)
	case bool:
		got = fmt.Sprintf("%v (a boolean), not a class name", v)
	case map[string]any:
		got = "an object, not a class name"
	case []any:
		got = "a list, not a class name"
	case int, int64, float64:
		got = fmt.Sprintf("%v (a number), not a class name", v)
	default:
		got = fmt.Sprintf("%v (%T), not a class name", v, v)
	}
	return nil, &Error{Code: "R409", Path: "route", Rule: r.pos,
		Msg: fmt.Sprintf("route yields %s: the record has no class (classes: %s)", got, strings.Join(r.names, ", "))}
}

// mapRules runs the rules, derivations and checks of the mapper's plan over
// the source values of a record whose vars are set.
func (m *Mapper) mapRules() (*Record, error) {
	p := m.p
	vals := m.rec.Values
	clear(vals)
	var failed *Error // the record's first failing rule; the others follow it
	for i, r := range p.rules {
		v, err := m.eval(r, i)
		if err == nil {
			err = setValue(&vals[r.target.Slot], v, r.target)
			if err != nil {
				err = conversionError(r, err)
			}
		}
		if err != nil {
			e := err.(*Error)
			vals[r.target.Slot] = Value{}
			switch {
			case p.Policy == NullField:
				m.errs = append(m.errs, e)
			case failed == nil:
				failed = e
			default:
				failed.Others = append(failed.Others, e)
			}
		}
	}
	if failed != nil {
		// Every failing rule is reported at once; the checks are not run,
		// they would only repeat what the failed rules left empty.
		return nil, failed
	}
	for i := range p.derived {
		m.derive(i, &p.derived[i])
	}
	m.computePresence()
	if m.noCheck {
		return &m.rec, nil
	}
	for i := range p.checks {
		if err := m.check(&p.checks[i]); err != nil {
			e := err.(*Error)
			if failed == nil {
				failed = e
			} else {
				failed.Others = append(failed.Others, e)
			}
		}
	}
	if failed != nil {
		return nil, failed
	}
	return &m.rec, nil
}

// conversionError is an R402 for a rule's value; inside an object or list
// set as a whole it names the value at fault by its JSON pointer in the record.
func conversionError(r *rule, err error) *Error {
	code, msg := "R402", err.Error()
	if fe, ok := err.(*fieldError); ok {
		msg = pointer(r.path) + fe.ptr + ": " + fe.err.Error()
		if fe.code != "" {
			code = fe.code
		}
	} else if r.target.Kind == KindObject {
		msg = pointer(r.path) + ": " + msg
	}
	return &Error{Code: code, Path: r.path, Rule: r.pos, Msg: msg}
}

// eval runs one rule and returns its raw value (nil: no value).
func (m *Mapper) eval(r *rule, i int) (any, error) {
	m.raw[i] = ""
	if r.when != nil {
		ok, err := m.run(r, r.when)
		if err != nil {
			return nil, err
		}
		if b, _ := ok.(bool); !b {
			return nil, nil
		}
	}
	var v any
	var err error
	switch {
	case r.static != nil:
		return staticAny(r.static), nil
	case r.lookup != nil:
		var key any
		if r.keyProg != nil {
			key, err = m.run(r, r.keyProg)
		} else {
			key = m.first(r.from)
		}
		if s, ok := key.(string); ok {
			// The trimmed text stays a string: boxing it would allocate.
			s = strings.TrimSpace(s)
			m.raw[i] = s
			v, _ = r.lookup.getString(s)
		} else {
			v, _ = r.lookup.get(key)
		}
	case r.prog != nil:
		v, err = m.run(r, r.prog)
	case r.template != nil:
		v, err = m.render(r)
	default:
		v = m.first(r.from)
	}
	if err != nil {
		return nil, err
	}
	if v == nil && r.def != nil {
		return staticAny(r.def), nil
	}
	return v, nil
}

// staticAny hands a precomputed Value back through convert unchanged. The
// interface holds the plan's pointer: boxing it does not allocate.
func staticAny(v *Value) any { return (*preset)(v) }

// preset is a Value that convert passes through as is.
type preset Value

// first is the first present value of several source fields; with several,
// a blank string counts as absent so the next one can stand in.
func (m *Mapper) first(from []int) any {
	if len(from) == 1 {
		return m.src[from[0]]
	}
	for _, i := range from {
		switch v := m.src[i].(type) {
		case nil:
		case string:
			if strings.TrimSpace(v) != "" {
				return v
			}
		default:
			return v
		}
	}
	return nil
}

// evalVar sets the k-th var's slot for this record (nil when it fails).
func (m *Mapper) evalVar(k int) *Error {
	v := &m.p.vars[k]
	val, err := m.runner.RunFields(v.prog, m.src)
	if err != nil {
		m.src[k] = nil
		return &Error{Code: "R401", Path: "vars." + v.name, Rule: v.pos, Msg: firstLine(err.Error())}
	}
	m.src[k] = val
	return nil
}

func (m *Mapper) run(r *rule, prog *exprenv.Program) (any, error) {
	v, err := m.runner.RunFields(prog, m.src)
	if err != nil {
		return nil, &Error{Code: "R401", Path: r.path, Rule: r.pos, Msg: firstLine(err.Error())}
	}
	return v, nil
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return strings.TrimSpace(s[:i])
	}
	return s
}

// render renders a template. Holes run natively into one buffer; when a
// hole needs the VM, the whole template runs as its one VM program, so the
// result and any error message are the same as that program's.
func (m *Mapper) render(r *rule) (any, error) {
	b := m.text[:0]
	for _, seg := range r.template {
		if seg.prog == nil {
			b = append(b, seg.text...)
			continue
		}
		var v any
		var ok bool
		if b, v, ok = m.runner.Append(b, seg.prog, m.src); !ok {
			m.text = b
			return m.renderVM(r)
		}
		b = appendPiece(b, v)
	}
	m.text = b
	// A template file ends with a newline, and holes that render empty leave
	// blank lines: neither is part of the text.
	return string(bytes.TrimSpace(b)), nil
}

// appendPiece appends one rendered hole as templateFunc writes it.
func appendPiece(b []byte, v any) []byte {
	switch x := v.(type) {
	case nil:
		return b
	case string:
		return append(b, x...)
	}
	if s, err := toString(v); err == nil {
		return append(b, s.Str...)
	}
	return fmt.Append(b, v)
}

func (m *Mapper) renderVM(r *rule) (any, error) {
	if r.templateProg != nil {
		return m.run(r, r.templateProg)
	}
	var b strings.Builder
	for _, seg := range r.template {
		if seg.prog == nil {
			b.WriteString(seg.text)
			continue
		}
		v, err := m.run(r, seg.prog)
		if err != nil {
			return nil, err
		}
		if v != nil {
			s, err := toString(v)
			if err != nil {
				b.WriteString(fmt.Sprint(v))
			} else {
				b.WriteString(s.Str)
			}
		}
	}
	return strings.TrimSpace(b.String()), nil
}

func (m *Mapper) derive(i int, d *derivation) {
	vals := m.rec.Values
	from := vals[d.from]
	if from.Kind != Int {
		return
	}
	switch d.op {
	case deriveCaption:
		caption := d.enum[from.Int]
		if from.Int == 99 && d.rule >= 0 {
			if s := m.raw[d.rule]; s != "" {
				caption = s // OCSF: the source's own value names an Other
			}
		}
		if caption != "" {
			vals[d.slot] = Value{Kind: String, Str: caption}
		}
	case deriveTypeUID:
		vals[d.slot] = Value{Kind: Int, Int: d.base + from.Int}
	case deriveTypeName:
		name, ok := m.typeNames[i][from.Int]
		if !ok {
			caption, known := d.enum[from.Int]
			if !known {
				return
			}
			if m.typeNames[i] == nil {
				m.typeNames[i] = map[int64]string{}
			}
			name = d.prefix + caption
			m.typeNames[i][from.Int] = name
		}
		vals[d.slot] = Value{Kind: String, Str: name}
	case deriveDatetime:
		vals[d.slot] = Value{Kind: Int, Int: from.Int}
	}
}

// computePresence marks which nodes the record has: a leaf with a value
// (not Absent), an object or list with at least one present child. An
// absent list item is left out, not written as null: the list is compacted.
func (m *Mapper) computePresence() {
	p := m.p
	for i, n := range p.objects {
		if n.Slot >= 0 {
			m.present[i] = !m.rec.Values[n.Slot].Absent()
			continue
		}
		present := false
		for _, k := range p.kids[i] {
			if m.present[k] {
				present = true
				break
			}
		}
		m.present[i] = present
	}
}

func (m *Mapper) check(c *check) error {
	switch c.op {
	case checkRequired:
		if m.present[c.parent] && !m.present[c.node] {
			return &Error{Code: "R403", Path: c.path, Rule: c.pos, Msg: c.msg}
		}
	case checkConstraint:
		if !m.present[c.parent] {
			return nil
		}
		n := 0
		for _, i := range c.nodes {
			if m.present[i] {
				n++
			}
		}
		if n == 0 || c.kind == ocsf.JustOne && n > 1 {
			return &Error{Code: "R406", Path: c.path, Rule: c.pos, Msg: fmt.Sprintf("%s; has %d", c.msg, n)}
		}
	case checkEnum:
		v := m.rec.Values[c.slot]
		switch {
		case v.Kind == Int && c.enum != nil:
			if _, ok := c.enum[v.Int]; !ok {
				return &Error{Code: "R404", Path: c.path, Rule: c.pos, Msg: fmt.Sprintf("%d is not a value of the enum", v.Int)}
			}
		case v.Kind == String && c.strEnum != nil:
			if _, ok := slices.BinarySearch(c.strEnum, v.Str); !ok {
				return &Error{Code: "R404", Path: c.path, Rule: c.pos, Msg: fmt.Sprintf("%q is not a value of the enum (%s)", v.Str, strings.Join(c.strEnum, ", "))}
			}
		}
	case checkScalar:
		if msg := checkScalarValue(c.scalar, m.rec.Values[c.slot]); msg != "" {
			return &Error{Code: "R408", Path: c.path, Rule: c.pos, Msg: msg}
		}
	}
	return nil
}

// checkScalarValue returns why a value (or an element of a list) is not
// what its OCSF scalar type allows, or "".
func checkScalarValue(s *ocsf.Scalar, v Value) string {
	switch v.Kind {
	case String:
		return s.CheckString(v.Str)
	case Int:
		return s.CheckInt(v.Int)
	case List:
		for i, e := range v.List {
			if msg := checkScalarValue(s, e); msg != "" {
				return fmt.Sprintf("element %d: %s", i, msg)
			}
		}
	}
	return ""
}
