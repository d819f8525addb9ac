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

// Load reads, parses and compiles a mapping file.
func Load(path string) (*Plan, diag.List) {
	m, diags := spec.Load(path)
	if m == nil {
		return nil, diags
	}
	p, more := Compile(m)
	diags = append(diags, more...)
	diags.Sort()
	if diags.HasErrors() {
		return nil, diags
	}
	return p, diags
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
	byPath  map[string]*rule // canonical path -> rule, for overrides of derived attributes
	varSlot map[string]int   // var name -> its source value slot, once compiled

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

// Compile checks a parsed mapping against its OCSF target and builds the plan.
func Compile(m *spec.Mapping) (*Plan, diag.List) {
	c := &compiler{m: m, fields: map[string]int{}, lookups: map[string]*lookupTable{}, byPath: map[string]*rule{}, warned: map[string]bool{}}
	if !c.target() {
		return nil, c.diags
	}
	c.p = &Plan{
		File: m.File, Name: m.Name.Value, Version: m.Version.Value,
		OCSFVersion: c.cat.Version, Class: c.class, Profiles: c.prof,
		timeSlot: -1, partition: [2]int{-1, -1}, catalog: c.cat,
	}
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
