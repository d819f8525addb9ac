// Package plan compiles a mapping file into an immutable plan: OCSF paths
// resolved against the target version's catalog, every expression compiled
// and type-checked, lookups checked against the OCSF enums, derived
// attributes (captions, type_uid, class and category, metadata.version)
// added, and the output tree laid out. Per record the plan only evaluates.
package plan

import (
	"fmt"
	"path/filepath"
	"reflect"
	"sort"
	"strings"

	"github.com/ocsfmap/ocsfmap/engine/diag"
	"github.com/ocsfmap/ocsfmap/engine/exprenv"
	"github.com/ocsfmap/ocsfmap/engine/ocsf"
	"github.com/ocsfmap/ocsfmap/engine/spec"
)

// maxIndex bounds the array index a rule may name (resources[63]): every
// index is an element of every record's list, in the output tree and in each
// columnar file.
const maxIndex = 63

// Policy is what happens to a record when one of its rules fails at run time.
type Policy uint8

const (
	DeadLetter Policy = iota // the record goes to the dead-letter stream
	NullField                // the failing attribute is left out; the record goes on
	Fail                     // the run stops
)

// Plan is a compiled mapping. It is immutable and safe for concurrent use;
// each goroutine maps with its own Mapper.
type Plan struct {
	File        string
	Name        string
	Version     string // the mapping's own version
	OCSFVersion string
	Class       *ocsf.Class
	Profiles    []string
	Policy      Policy
	// Envelope lists the keys of the envelope arrays that hold an input's
	// records (the mapping's input.records); empty when every document is
	// a record.
	Envelope []string
	// Route is the expression that picks each record's class in a mapping
	// with classes (one plan per class); "" in a single-class mapping.
	Route string

	// Root is the output tree: only the attributes the mapping sets.
	Root  *Node
	slots int

	// Source fields the plan reads, in extraction order.
	Fields []string
	// vars are the mapping's named values, evaluated in order before the
	// rules into the first slots of the source values (the extracted
	// fields follow them).
	vars []namedValue
	// drop leaves a record out on purpose (the mapping's drop_when).
	drop    *exprenv.Program
	dropPos diag.Pos
	// route picks the record's class in a mapping with classes; its plans
	// share routing and one source-value layout (vars, then Fields).
	route    *exprenv.Program
	routing  *routing
	classIdx int // this plan's index in routing.plans

	rules      []*rule
	derived    []derivation
	checks     []check
	objects    []*Node       // every node, children before parents
	kids       [][]int       // node index -> child node indexes
	present    map[*Node]int // node -> node index
	timeSlot   int
	partition  [2]int // region, account slots; -1 when not declared
	deviations []Deviation
	explain    []Row
	catalog    *ocsf.Catalog
}

// namedValue is a compiled var: its program reads the source fields and
// the vars before it.
type namedValue struct {
	name string
	pos  diag.Pos
	prog *exprenv.Program
}

// Deviation is a rule that departs from the source vendor's own table.
type Deviation struct {
	Path   string
	Reason string
	Pos    diag.Pos
}

// TimeSlot is the slot of the record's time attribute (ms since the epoch).
func (p *Plan) TimeSlot() int { return p.timeSlot }

// PartitionSlots are the slots of the attributes that give the Security
// Lake region and account partition values; -1 where the mapping names none.
func (p *Plan) PartitionSlots() (region, account int) { return p.partition[0], p.partition[1] }

// Slots is the number of value slots of a Record.
func (p *Plan) Slots() int { return p.slots }

// Deviations lists the rules that record a departure from the vendor table.
func (p *Plan) Deviations() []Deviation { return p.deviations }

// Catalog is the OCSF catalog the plan was checked against.
func (p *Plan) Catalog() *ocsf.Catalog { return p.catalog }

// routing is what the plans of a mapping with classes share.
type routing struct {
	plans []*Plan
	names []string // class names as declared, the values the route yields
	pos   diag.Pos // the route's position in the mapping file
}

// Classes names the classes of the mapping the plan belongs to, in declared
// order: one name, the plan's own class, for a single-class mapping.
func (p *Plan) Classes() []string {
	if p.routing == nil {
		return []string{p.Class.Name}
	}
	return p.routing.names
}

// Load reads, parses and compiles a mapping file with one class; for a
// mapping with classes it returns the first class's plan (see LoadAll).
func Load(path string) (*Plan, diag.List) {
	plans, diags := LoadAll(path)
	if plans == nil {
		return nil, diags
	}
	return plans[0], diags
}

// LoadAll reads, parses and compiles a mapping file: one plan per class it
// emits, in declared order.
func LoadAll(path string) ([]*Plan, diag.List) {
	m, diags := spec.Load(path)
	if m == nil {
		return nil, diags
	}
	plans, more := CompileAll(m)
	diags = append(diags, more...)
	diags.Sort()
	if diags.HasErrors() {
		return nil, diags
	}
	return plans, diags
}

type compiler struct {
	m       *spec.Mapping
	diags   diag.List
	cat     *ocsf.Catalog
	class   *ocsf.Class
	prof    []string
	tree    *treeBuilder
	fields  map[string]int // source field -> index
	lookups map[string]*lookupTable
	extra   []exprenv.Func
	p       *Plan
	byPath  map[string]*rule     // canonical path -> rule, for overrides of derived attributes
	varSlot map[string]int       // var name -> its source value slot, once compiled
	common  map[*spec.Field]bool // a routed mapping's fields common to every class

	warned             map[string]bool     // deprecations already reported
	partitionSlots     [2]int              // slots reserved for partition rules
	pendingRequired    [][2]*Node          // (object, required attribute) checked per record
	pendingConstraints []pendingConstraint // OCSF constraints checked per record
	pendingEnum        []*rule             // rules whose values may fall outside their enum
	pendingScalar      []*rule             // rules that write a typed scalar (ip_t, port_t …)
}

func (c *compiler) errorf(code string, pos diag.Pos, format string, args ...any) *diag.Diagnostic {
	return c.report(diag.Error, code, pos, format, args...)
}

func (c *compiler) warnf(code string, pos diag.Pos, format string, args ...any) *diag.Diagnostic {
	return c.report(diag.Warning, code, pos, format, args...)
}

func (c *compiler) report(sev diag.Severity, code string, pos diag.Pos, format string, args ...any) *diag.Diagnostic {
	d := diag.Diagnostic{Severity: sev, Code: code, Pos: pos, Message: fmt.Sprintf(format, args...)}
	if pos.Line > 0 && pos.File == c.m.File {
		d.Source = diag.SourceLine(c.m.Src, pos.Line)
	}
	c.diags = append(c.diags, d)
	return &c.diags[len(c.diags)-1]
}

// Compile checks a parsed mapping with one class against its OCSF target
// and builds the plan; for a mapping with classes it returns the first
// class's plan (see CompileAll).
func Compile(m *spec.Mapping) (*Plan, diag.List) {
	plans, diags := CompileAll(m)
	if plans == nil {
		return nil, diags
	}
	return plans[0], diags
}

// CompileAll builds one plan per class the mapping emits, in declared
// order. Each class's plan holds the common fields and the class's own (a
// class's rule for a path replaces the common one), checked against that
// class's schema. The plans share one source-value layout, so a mapper
// evaluates the vars, drop_when and route once, then the class's rules.
func CompileAll(m *spec.Mapping) ([]*Plan, diag.List) {
	if m.Classes == nil {
		p, diags := compile(m, &sourceFields{index: map[string]int{}}, nil)
		if p == nil {
			return nil, diags
		}
		return []*Plan{p}, diags
	}
	shared := &sourceFields{index: map[string]int{}}
	common := map[*spec.Field]bool{}
	for _, f := range m.Fields {
		common[f] = true
	}
	r := &routing{}
	if m.Route != nil {
		r.pos = m.Route.Pos
	}
	var diags diag.List
	failed := false
	for _, cls := range m.Classes {
		cm := *m
		// What the class needs is reported at its key, where it is named.
		cm.OCSF.Class, cm.OCSF.Pos = cls.Name, cls.Name.Pos
		if cls.ProfilesSet {
			cm.OCSF.Profiles, cm.OCSF.ProfilesSet = cls.Profiles, true
		}
		cm.Fields = classFields(m.Fields, cls.Fields)
		p, more := compile(&cm, shared, common)
		diags = append(diags, more...)
		r.names = append(r.names, cls.Name.Value)
		if p == nil {
			failed = true
			continue
		}
		p.routing, p.classIdx = r, len(r.plans)
		r.plans = append(r.plans, p)
	}
	// A common field's problem that has nothing to do with the class is
	// found once per class: report it once.
	diags = diags.Unique()
	diags.Sort()
	if failed || m.Route == nil || diags.HasErrors() {
		return nil, diags
	}
	for _, p := range r.plans {
		p.Fields = shared.names // every plan extracts what any of them reads
	}
	return r.plans, diags
}

// classFields is a class's field table: the common fields, but where the
// class sets the same path, then the class's own.
func classFields(common, own []*spec.Field) []*spec.Field {
	mine := map[string]bool{}
	for _, f := range own {
		mine[f.Path.Value] = true
	}
	out := make([]*spec.Field, 0, len(common)+len(own))
	for _, f := range common {
		if !mine[f.Path.Value] {
			out = append(out, f)
		}
	}
	return append(out, own...)
}

// sourceFields numbers the source fields the plans of one mapping read.
type sourceFields struct {
	index map[string]int
	names []string
}

// compile checks a mapping of one class against its OCSF target and builds
// the plan; fields numbers its source fields, common lists the fields a
// routed mapping shares among its classes.
func compile(m *spec.Mapping, fields *sourceFields, common map[*spec.Field]bool) (*Plan, diag.List) {
	c := &compiler{m: m, fields: fields.index, lookups: map[string]*lookupTable{}, byPath: map[string]*rule{}, warned: map[string]bool{}, common: common}
	if !c.target() {
		return nil, c.diags
	}
	c.p = &Plan{
		File: m.File, Name: m.Name.Value, Version: m.Version.Value,
		OCSFVersion: c.cat.Version, Class: c.class, Profiles: c.prof,
		timeSlot: -1, partition: [2]int{-1, -1}, catalog: c.cat,
		Fields: fields.names,
	}
	defer func() { fields.names = c.p.Fields }()
	for _, k := range m.Input.Records {
		c.p.Envelope = append(c.p.Envelope, k.Value)
	}
	switch m.OnError.Value {
	case "null_field":
		c.p.Policy = NullField
	case "fail":
		c.p.Policy = Fail
	}
	c.tree = newTreeBuilder(c.class.Name, c.objectShape)
	// Partition rules get the first slots, below every slot of the tree, so
	// a consumer that sizes records by the tree still holds them.
	for i, pv := range []spec.PartitionValue{m.Partition.Region, m.Partition.Account} {
		if pv.Rule != nil {
			c.partitionSlots[i] = c.tree.claim()
		}
	}
	c.compileLookups()
	c.compileVars()
	if m.DropWhen != nil {
		c.p.drop, c.p.dropPos = c.bind(c.compileExpr(m.DropWhen, true)), m.DropWhen.Pos
	}
	if m.Route != nil {
		c.compileRoute()
	}
	for _, f := range m.Fields {
		c.field(f)
	}
	c.derive()
	c.tree.finish()
	c.reportMixed()
	c.p.Root, c.p.slots = c.tree.root, c.tree.slots
	c.requirements()
	c.layout()
	c.partition()
	c.diags.Sort()
	if c.diags.HasErrors() {
		return nil, c.diags
	}
	return c.p, c.diags
}

// compileRoute compiles the route and checks what it may yield that is
// known at load time: every string literal it returns names a class of the
// mapping, and no branch yields a number or another non-string.
func (c *compiler) compileRoute() {
	e := c.m.Route
	c.p.Route = e.Text
	prog := c.compileExpr(e, false)
	if prog == nil {
		return
	}
	names := make([]string, len(c.m.Classes))
	for i, cls := range c.m.Classes {
		names[i] = cls.Name.Value
	}
	for _, s := range prog.Shapes() {
		switch {
		case s.Literal != nil:
			if !contains(names, *s.Literal) {
				d := c.errorf("M207", e.PosAt(s.Offset), "route yields %q, which is not a class of the mapping (classes: %s)", *s.Literal, strings.Join(names, ", "))
				d.Suggest = diag.Suggest(*s.Literal, names)
			}
		case s.Type != nil && s.Type.Kind() != reflect.Interface && s.Type.Kind() != reflect.String:
			c.errorf("M207", e.PosAt(s.Offset), "route yields %s, not a class name (classes: %s)", s.Describe(), strings.Join(names, ", "))
		}
	}
	c.p.route = c.bind(prog)
}

// target resolves the OCSF version, class and profile set.
func (c *compiler) target() bool {
	t := c.m.OCSF
	if !t.Version.Set() || !t.Class.Set() {
		return false
	}
	cat, err := ocsf.Load(t.Version.Value)
	if err != nil {
		d := c.errorf("M301", t.Version.Pos, "unknown OCSF version %q", t.Version.Value)
		d.Suggest = diag.Suggest(t.Version.Value, ocsf.Versions())
		d.Detail = "this build knows " + strings.Join(ocsf.Versions(), ", ")
		return false
	}
	c.cat = cat
	class, ok := cat.Class(t.Class.Value)
	if !ok {
		d := c.errorf("M302", t.Class.Pos, "OCSF %s has no class %q", cat.Version, t.Class.Value)
		d.Suggest = diag.Suggest(t.Class.Value, cat.ClassNames())
		return false
	}
	c.class = class
	c.prof = []string{}
	for _, p := range t.Profiles {
		if !contains(cat.Profiles, p.Value) {
			d := c.errorf("M303", p.Pos, "OCSF %s has no profile %q", cat.Version, p.Value)
			d.Suggest = diag.Suggest(p.Value, cat.Profiles)
			continue
		}
		c.prof = append(c.prof, p.Value)
	}
	sort.Strings(c.prof)
	return true
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// sourceField returns the slot of a source value: a var's, or that of an
// extracted field, after the vars' slots.
func (c *compiler) sourceField(name string) int {
	if k, ok := c.varSlot[name]; ok {
		return k
	}
	if i, ok := c.fields[name]; ok {
		return len(c.m.Vars) + i
	}
	c.fields[name] = len(c.p.Fields)
	c.p.Fields = append(c.p.Fields, name)
	return len(c.m.Vars) + len(c.p.Fields) - 1
}

// compileVars compiles the named values in order: a var reads the source
// fields and the vars above it.
func (c *compiler) compileVars() {
	c.varSlot = map[string]int{}
	later := map[string]bool{}
	for _, v := range c.m.Vars {
		later[v.Name.Value] = true
	}
	for k, v := range c.m.Vars {
		if _, isFunc := exprenv.Funcs()[v.Name.Value]; isFunc {
			c.errorf("M206", v.Name.Pos, "var %q has the name of a function", v.Name.Value)
		}
		prog := c.compileExpr(v.Expr, false)
		if prog != nil {
			for _, name := range prog.Vars {
				if later[name] {
					c.errorf("M206", v.Expr.Pos, "var %q reads var %q, which is not defined above it (vars are evaluated in order; a var hides a source field of its name)", v.Name.Value, name)
				}
			}
		}
		delete(later, v.Name.Value)
		c.p.vars = append(c.p.vars, namedValue{name: v.Name.Value, pos: v.Expr.Pos, prog: c.bind(prog)})
		c.varSlot[v.Name.Value] = k
	}
}

// compileExpr compiles an expression, reporting errors at their position in
// the mapping file.
func (c *compiler) compileExpr(e *spec.Expr, boolean bool) *exprenv.Program {
	prog, err := exprenv.Compile(e.Text, exprenv.Options{Extra: c.extra, Bool: boolean})
	if err != nil {
		ee, _ := err.(*exprenv.Error)
		pos, msg, code := e.Pos, err.Error(), "M201"
		var suggest []string
		if ee != nil {
			pos, msg, suggest = e.PosAt(ee.Offset), ee.Message, ee.Suggest
			if strings.HasPrefix(msg, "unknown function") {
				code = "M202"
			}
		}
		d := c.errorf(code, pos, "%s", msg)
		d.Suggest = suggest
		return nil
	}
	for _, v := range prog.Vars {
		c.sourceField(v)
	}
	return prog
}

// field compiles the rule for one target path.
func (c *compiler) field(f *spec.Field) {
	res, err := c.cat.Resolve(c.class.Name, c.prof, f.Path.Value)
	if err != nil {
		c.pathError(f.Path, err)
		if c.common[f] {
			d := &c.diags[len(c.diags)-1]
			if d.Detail != "" {
				d.Detail += "; "
			}
			d.Detail += "it is a common field, applied to every class: move it under the fields of the classes that have it"
		}
		return
	}
	if st, dep := res.Deprecated(); dep && !c.warned[st.Name+st.Owner] {
		// Once per deprecated attribute or object, not once per rule below it.
		c.warned[st.Name+st.Owner] = true
		d := c.warnf("M310", f.Path.Pos, "%s is deprecated in OCSF %s", st.Name, c.cat.Version)
		d.Detail = strings.TrimSpace(stripTags(st.Deprecated.Message))
	}
	for _, st := range res.Steps {
		if st.Index > maxIndex {
			c.errorf("M304", f.Path.Pos, "%s: index %d is past the %d elements a mapping may set one by one", f.Path.Value, st.Index, maxIndex+1)
			return
		}
	}
	leaf := c.tree.add(res.Path(), res, c.isOpen)
	if leaf == nil {
		c.errorf("M306", f.Path.Pos, "%s is set twice (or both as a whole and in parts)", f.Path.Value)
		return
	}
	r := &rule{target: leaf, attr: res.Attr, pos: f.Pos, path: res.Path(), spec: f}
	if f.Deviation.Set() {
		c.p.deviations = append(c.p.deviations, Deviation{Path: res.Path(), Reason: f.Deviation.Value, Pos: f.Path.Pos})
	}
	if res.Open {
		r.attr = nil
	}
	c.compileRule(r, f)
	r.idx = len(c.p.rules)
	c.byPath[res.Path()] = r
	c.p.rules = append(c.p.rules, r)
}

func (c *compiler) pathError(path spec.Str, err error) {
	pe, ok := err.(*ocsf.PathError)
	if !ok {
		c.errorf("M304", path.Pos, "%v", err)
		return
	}
	d := c.errorf("M304", path.Pos, "%s is not an attribute path of %s in OCSF %s: %s", path.Value, c.class.Name, c.cat.Version, pe.Reason)
	d.Suggest = pe.Suggest
	if fixed := c.fixPath(path.Value); fixed != "" {
		d.Suggest = []string{fixed}
	}
	// A path valid with every profile names the profile to add.
	if _, err := c.cat.Resolve(c.class.Name, nil, path.Value); err == nil && strings.Contains(pe.Reason, "profile") {
		d.Detail = "add the profile to ocsf.profiles"
	}
}

// fixPath tries the repairs that turn a vendor's spelling into an OCSF
// path: snake_case for camelCase names and an index on arrays
// (resources.Owner.TypeId -> resources[0].owner.type_id).
func (c *compiler) fixPath(path string) string {
	parts := strings.Split(path, ".")
	for i, p := range parts {
		parts[i] = snake(p)
	}
	for tries := 0; tries < len(parts); tries++ {
		candidate := strings.Join(parts, ".")
		_, err := c.cat.Resolve(c.class.Name, c.prof, candidate)
		if err == nil {
			if candidate == path {
				return ""
			}
			return candidate
		}
		pe, ok := err.(*ocsf.PathError)
		if !ok || !strings.Contains(pe.Reason, "needs an index") {
			return ""
		}
		for i, p := range parts {
			if p == pe.Segment {
				parts[i] = p + "[0]"
				break
			}
		}
	}
	return ""
}

// snake turns TypeId or typeId into type_id; other names are unchanged.
func snake(s string) string {
	var b strings.Builder
	for i, r := range s {
		if r >= 'A' && r <= 'Z' {
			if i > 0 {
				b.WriteByte('_')
			}
			r += 'a' - 'A'
		}
		b.WriteRune(r)
	}
	return b.String()
}

func (c *compiler) isOpen(a *ocsf.Attr) bool {
	if a.BaseType == ocsf.JSONType {
		return true
	}
	if a.BaseType != ocsf.ObjectType {
		return false
	}
	o, ok := c.cat.Object(a.Object)
	return !ok || len(o.Attrs) == 0
}

// stripTags drops the HTML markup OCSF puts in deprecation messages.
func stripTags(s string) string {
	var b strings.Builder
	in := false
	for _, r := range s {
		switch {
		case r == '<':
			in = true
		case r == '>':
			in = false
		case !in:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// typeFits tells whether an expression whose result type is known at load
// time can fill a leaf of kind k. Interface types depend on the data and are
// converted (and checked) per record; a known string does not fill an
// integer attribute, even if some strings would parse.
func typeFits(t reflect.Type, k Kind) bool {
	if t == nil || t.Kind() == reflect.Interface {
		return true
	}
	switch k {
	case KindInt, KindLong, KindFloat:
		return isNumber(t)
	case KindBool:
		return t.Kind() == reflect.Bool
	case KindString:
		return t.Kind() == reflect.String || isNumber(t) || t.Kind() == reflect.Bool
	case KindDatetime:
		return isNumber(t) || t.Kind() == reflect.String
	case KindObject:
		return t.Kind() == reflect.Map
	}
	return true // JSON holds anything; one value becomes a list of one
}

func isNumber(t reflect.Type) bool {
	switch t.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64,
		reflect.Float32, reflect.Float64:
		return true
	}
	return false
}

// templatePath resolves a template file relative to the mapping file.
func (c *compiler) templatePath(s spec.Str) string {
	if filepath.IsAbs(s.Value) {
		return s.Value
	}
	return filepath.Join(filepath.Dir(c.m.File), s.Value)
}
