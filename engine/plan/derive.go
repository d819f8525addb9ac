package plan

import (
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/ocsfmap/ocsfmap/engine/diag"
	"github.com/ocsfmap/ocsfmap/engine/ocsf"
	"github.com/ocsfmap/ocsfmap/engine/spec"
)

// derivation fills a leaf from other leaves once the rules have run.
type derivation struct {
	target *Node
	slot   int
	path   string
	op     deriveOp
	from   int              // source slot
	enum   map[int64]string // caption: id -> caption
	rule   int              // caption: the rule whose raw source value names an Other (99)
	base   int64            // type_uid: class_uid * 100
	prefix string           // type_name: "<class caption>: "
}

type deriveOp uint8

const (
	deriveCaption  deriveOp = iota // severity from severity_id
	deriveTypeUID                  // type_uid from activity_id
	deriveTypeName                 // type_name from activity_id
	deriveDatetime                 // time_dt from time
)

// derive adds the attributes OCSF defines from others, unless the mapping
// sets them itself: class and category, metadata.version and profiles, enum
// captions, type_uid and type_name, and X_dt for each timestamp X.
func (c *compiler) derive() {
	at := c.m.OCSF.Pos
	cat := c.cat
	statics := []struct {
		path  string
		value any
	}{
		{"class_uid", c.class.UID},
		{"class_name", c.class.Caption},
		{"category_uid", c.class.CategoryUID},
		{"category_name", c.class.CategoryName},
		{"metadata.version", cat.Version},
	}
	for _, s := range statics {
		c.deriveStatic(s.path, s.value, at, true)
	}
	if len(c.prof) > 0 {
		profiles := make([]any, len(c.prof))
		for i, p := range c.prof {
			profiles[i] = p
		}
		c.deriveStatic("metadata.profiles", profiles, at, false)
	}

	mapped := append([]*rule(nil), c.p.rules...)
	for _, r := range mapped {
		if r.attr == nil || r.target.Kind == KindList {
			continue
		}
		parent := parentPath(r.path)
		if r.attr.Sibling != "" && len(r.attr.Enum) > 0 {
			sib := join(parent, r.attr.Sibling)
			if n := c.derivedLeaf(sib, at); n != nil {
				c.p.derived = append(c.p.derived, derivation{target: n, slot: n.Slot, path: sib, op: deriveCaption,
					from: r.target.Slot, enum: r.attr.Enum, rule: r.idx})
			}
		}
		if r.path == "activity_id" {
			if n := c.derivedLeaf("type_uid", at); n != nil {
				c.p.derived = append(c.p.derived, derivation{target: n, slot: n.Slot, path: "type_uid", op: deriveTypeUID,
					from: r.target.Slot, base: c.class.UID * 100})
			}
			if n := c.derivedLeaf("type_name", at); n != nil {
				c.p.derived = append(c.p.derived, derivation{target: n, slot: n.Slot, path: "type_name", op: deriveTypeName,
					from: r.target.Slot, enum: r.attr.Enum, prefix: c.class.Caption + ": "})
			}
		}
		if r.attr.Type == "timestamp_t" && contains(c.prof, "datetime") {
			dt := r.path + "_dt"
			if n := c.derivedLeaf(dt, at); n != nil {
				c.p.derived = append(c.p.derived, derivation{target: n, slot: n.Slot, path: dt, op: deriveDatetime, from: r.target.Slot})
			}
		}
	}
}

// deriveStatic sets path to value unless the mapping does; where it does,
// a different value is an error when the attribute is fixed by OCSF.
func (c *compiler) deriveStatic(path string, value any, at diag.Pos, fixed bool) {
	if r, ok := c.byPath[path]; ok {
		if fixed && r.static != nil {
			want, _ := convert(value, r.target)
			if !equalValue(*r.static, want) {
				d := c.errorf("M309", r.pos, "%s must be %v for %s in OCSF %s", path, value, c.class.Name, c.cat.Version)
				if path == "metadata.version" {
					d.Detail = "metadata.version is the OCSF version (validators fetch that schema); the product's own version goes to metadata.product.version"
				}
			}
		}
		return
	}
	res, err := c.cat.Resolve(c.class.Name, c.prof, path)
	if err != nil {
		return // this version has no such attribute
	}
	n := c.tree.add(res.Path(), res, c.isOpen)
	if n == nil {
		return
	}
	v, err := convert(value, n)
	if err != nil {
		c.errorf("M309", at, "derived %s: %v", path, err)
		return
	}
	r := &rule{target: n, attr: res.Attr, path: path, pos: at, static: &v, always: true, enumSafe: true, idx: len(c.p.rules)}
	c.byPath[path] = r
	c.p.rules = append(c.p.rules, r)
}

func equalValue(a, b Value) bool {
	if a.Kind != b.Kind || a.Str != b.Str || a.Int != b.Int || a.Float != b.Float || len(a.List) != len(b.List) {
		return false
	}
	for i := range a.List {
		if !equalValue(a.List[i], b.List[i]) {
			return false
		}
	}
	return true
}

// derivedLeaf adds the leaf for a derived attribute, or returns nil when the
// mapping sets it or the version has no such attribute.
func (c *compiler) derivedLeaf(path string, at diag.Pos) *Node {
	if _, ok := c.byPath[path]; ok {
		return nil
	}
	res, err := c.cat.Resolve(c.class.Name, c.prof, path)
	if err != nil || res.Open {
		return nil
	}
	n := c.tree.add(res.Path(), res, c.isOpen)
	if n != nil {
		c.byPath[path] = &rule{target: n, attr: res.Attr, path: path, pos: at, idx: -1}
	}
	return n
}

func parentPath(p string) string {
	if i := strings.LastIndexByte(p, '.'); i >= 0 {
		return p[:i]
	}
	return ""
}

func join(parent, name string) string {
	if parent == "" {
		return name
	}
	return parent + "." + name
}

// check is a per-record test the plan cannot settle at load time.
type check struct {
	op     checkOp
	parent int // node index of the object that must be present for the check to apply (-1: always)
	node   int // node index of the attribute checked
	slot   int
	path   string
	enum   map[int64]string
	// strEnum: the allowed values of a string_t enum (http_method), sorted.
	strEnum []string
	pos     diag.Pos
	// checkConstraint: the node indexes of the attributes the constraint
	// names that a rule sets, and its text for the dead letter.
	nodes []int
	kind  string // ocsf.AtLeastOne or ocsf.JustOne
	msg   string
	// checkScalar: the attribute's type, compiled by the catalog.
	scalar *ocsf.Scalar
}

type checkOp uint8

const (
	checkRequired   checkOp = iota // present parent => present attribute
	checkEnum                      // integer value within the enum
	checkConstraint                // present parent => at_least_one / just_one of its attributes present
	checkScalar                    // a typed scalar (ip_t, port_t …) is what its OCSF type allows
)

// pendingConstraint is an OCSF constraint on an object a record may fill in
// a way that breaks it, resolved to node indexes by layout.
type pendingConstraint struct {
	obj    *Node
	kind   string
	attrs  []string // every attribute the constraint names
	mapped []*Node  // those a rule sets
}

// requirements reports required attributes no rule sets, and plans the
// per-record checks for those a rule sets but may leave empty.
func (c *compiler) requirements() {
	reported := map[string]bool{}
	var walk func(n *Node)
	walk = func(n *Node) {
		for _, ch := range n.Children {
			walk(ch)
		}
		// Every item: each is checked per record. Items share one shape,
		// so a load error is reported for the first only (reported).
		for _, it := range n.Items {
			walk(it)
		}
		if n.Kind != KindObject || n.Leaf() {
			return // a whole object's attributes are checked per record (toObject)
		}
		owner := c.tree.owner[n]
		for _, name := range c.cat.Required(owner, c.prof) {
			ch := findChild(n, name)
			if ch == nil {
				key := owner + "." + name
				if reported[key] {
					continue
				}
				reported[key] = true
				where := n.Path
				if where == "" {
					where = c.class.Name
				}
				pos := c.firstRulePos(n)
				if n == c.tree.root {
					pos = c.m.OCSF.Pos // the class is named there
				}
				d := c.errorf("M305", pos, "required attribute %s of %s has no rule", name, where)
				d.Detail = "add a rule for " + join(n.Path, name) + " (OCSF " + c.cat.Version + " requires it)"
				continue
			}
			if c.alwaysPresent(ch) {
				continue
			}
			c.pendingRequired = append(c.pendingRequired, [2]*Node{n, ch})
		}
		c.constraints(n, owner, reported)
	}
	walk(c.tree.root)
	for _, r := range c.p.rules {
		if r.attr != nil && r.static != nil && r.static.Kind == String && len(r.attr.StrEnum) > 0 {
			if _, ok := slices.BinarySearch(r.attr.StrEnum, r.static.Str); !ok {
				d := c.errorf("M308", r.pos, "%q is not a value of %s's enum", r.static.Str, r.path)
				d.Detail = "allowed: " + strings.Join(r.attr.StrEnum, ", ")
				d.Suggest = diag.Suggest(r.static.Str, r.attr.StrEnum)
			}
		}
		if r.attr != nil && (len(r.attr.Enum) > 0 || len(r.attr.StrEnum) > 0) && !r.enumSafe && r.target.Kind != KindList {
			c.pendingEnum = append(c.pendingEnum, r)
		}
		if r.attr != nil && r.target.Slot >= 0 && c.cat.Scalar(r.attr.Type) != nil {
			c.pendingScalar = append(c.pendingScalar, r)
		}
	}
}

// constraints reports an OCSF constraint of an object no rule can meet, and
// plans the per-record check of one a record may break: the JSON Schema
// (ocsf-server's anyOf/oneOf) rejects such a record, so the plan does too,
// with the constraint's name, before anything is written.
func (c *compiler) constraints(n *Node, owner string, reported map[string]bool) {
	for _, k := range c.cat.ConstraintsOf(owner, c.prof) {
		var mapped []*Node
		always := 0
		for _, name := range k.Attrs {
			if ch := findChild(n, name); ch != nil {
				mapped = append(mapped, ch)
				if c.alwaysPresent(ch) {
					always++
				}
			}
		}
		if len(mapped) == 0 {
			key := owner + "." + k.Kind + ":" + itemIndexes.ReplaceAllString(n.Path, "[]")
			if reported[key] {
				continue
			}
			reported[key] = true
			where := n.Path
			if where == "" {
				where = c.class.Name
			}
			d := c.errorf("M312", c.firstRulePos(n), "%s of %s (%s) cannot hold: no rule sets %s",
				k.Kind, where, owner, strings.Join(k.Attrs, ", "))
			d.Detail = "OCSF " + c.cat.Version + " requires " + constraintWords(k.Kind) + " of " +
				strings.Join(k.Attrs, ", ") + " whenever " + where + " is present; add a rule for one"
			continue
		}
		if k.Kind == ocsf.AtLeastOne && always > 0 || k.Kind == ocsf.JustOne && len(mapped) == 1 && always == 1 {
			continue // holds in every record
		}
		c.pendingConstraints = append(c.pendingConstraints, pendingConstraint{obj: n, kind: k.Kind, attrs: k.Attrs, mapped: mapped})
	}
}

// itemIndexes finds the indexes in a path: a list's items share one shape.
var itemIndexes = regexp.MustCompile(`\[[0-9]+\]`)

func constraintWords(kind string) string {
	if kind == ocsf.JustOne {
		return "exactly one"
	}
	return "at least one"
}

// alwaysPresent tells whether a node has a value in every record.
func (c *compiler) alwaysPresent(n *Node) bool {
	if n.Slot >= 0 {
		r, ok := c.byPath[n.Path]
		if ok && r.always {
			return true
		}
		for _, d := range c.p.derived {
			if d.target == n && (d.op == deriveTypeUID || d.op == deriveTypeName || d.op == deriveCaption) {
				return c.alwaysPresentSlot(d.from)
			}
		}
		return false
	}
	for _, ch := range n.Children {
		if c.alwaysPresent(ch) {
			return true
		}
	}
	for _, it := range n.Items {
		if c.alwaysPresent(it) {
			return true
		}
	}
	return false
}

func (c *compiler) alwaysPresentSlot(slot int) bool {
	for _, r := range c.p.rules {
		if r.target.Slot == slot {
			return r.always
		}
	}
	return false
}

// firstRulePos is where to point for a problem about a node: its first rule.
// tried says, for a dead letter, what the rule that sets n reads: the
// source fields of a from:, so a misspelt or differently cased name shows.
func (c *compiler) tried(n *Node) string {
	for _, r := range c.p.rules {
		if r.target != n || r.spec == nil {
			continue
		}
		switch f := r.spec; {
		case len(f.From) > 0:
			names := make([]string, len(f.From))
			for i, s := range f.From {
				names[i] = s.Value
			}
			return fmt.Sprintf(" (the rule reads %s, which this record does not have; field names are case-sensitive)", strings.Join(names, ", "))
		case f.Expr != nil && r.prog != nil && len(r.prog.Vars) > 0:
			return fmt.Sprintf(" (the rule's expression over %s gave no value)", strings.Join(r.prog.Vars, ", "))
		}
	}
	return ""
}

func (c *compiler) firstRulePos(n *Node) diag.Pos {
	best := diag.Pos{}
	for _, r := range c.p.rules {
		if r.spec == nil || !under(r.target, n) {
			continue
		}
		if best.Line == 0 || r.spec.Path.Pos.Line < best.Line {
			best = r.spec.Path.Pos
		}
	}
	if best.Line == 0 {
		return c.m.OCSF.Pos
	}
	return best
}

func under(leaf, n *Node) bool {
	if leaf == n {
		return true
	}
	for _, ch := range n.Children {
		if under(leaf, ch) {
			return true
		}
	}
	for _, it := range n.Items {
		if under(leaf, it) {
			return true
		}
	}
	return false
}

// layout numbers the nodes children-first, so presence is computed in one
// pass per record, and resolves the pending checks to node indexes.
func (c *compiler) layout() {
	p := c.p
	p.present = map[*Node]int{}
	var walk func(n *Node)
	walk = func(n *Node) {
		for _, ch := range n.Children {
			walk(ch)
		}
		for _, it := range n.Items {
			walk(it)
		}
		p.present[n] = len(p.objects)
		p.objects = append(p.objects, n)
	}
	walk(p.Root)
	p.kids = make([][]int, len(p.objects))
	for i, n := range p.objects {
		for _, ch := range n.Children {
			p.kids[i] = append(p.kids[i], p.present[ch])
		}
		for _, it := range n.Items {
			p.kids[i] = append(p.kids[i], p.present[it])
		}
	}
	for _, pr := range c.pendingRequired {
		parent, child := pr[0], pr[1]
		p.checks = append(p.checks, check{op: checkRequired, parent: p.present[parent], node: p.present[child],
			slot: child.Slot, path: child.Path, pos: c.firstRulePos(child), msg: "required attribute has no value" + c.tried(child)})
	}
	for _, pc := range c.pendingConstraints {
		ck := check{op: checkConstraint, parent: p.present[pc.obj], node: -1, slot: -1, path: pc.obj.Path,
			kind: pc.kind, pos: c.firstRulePos(pc.obj)}
		for _, m := range pc.mapped {
			ck.nodes = append(ck.nodes, p.present[m])
		}
		ck.msg = "constraint " + pc.kind + " of " + c.tree.owner[pc.obj] + " not met: needs " +
			constraintWords(pc.kind) + " of " + strings.Join(pc.attrs, ", ")
		p.checks = append(p.checks, ck)
	}
	for _, r := range c.pendingEnum {
		p.checks = append(p.checks, check{op: checkEnum, parent: -1, node: p.present[r.target], slot: r.target.Slot,
			path: r.path, enum: r.attr.Enum, strEnum: r.attr.StrEnum, pos: r.pos})
	}
	for _, r := range c.pendingScalar {
		p.checks = append(p.checks, check{op: checkScalar, parent: -1, node: p.present[r.target], slot: r.target.Slot,
			path: r.path, scalar: c.cat.Scalar(r.attr.Type), pos: r.pos})
	}
}

// partition resolves the partition values and the time slot. A partition
// value is an output attribute's slot, or the slot of a rule of its own
// that writes no attribute.
func (c *compiler) partition() {
	if r, ok := c.byPath["time"]; ok {
		c.p.timeSlot = r.target.Slot
	}
	for i, pv := range []spec.PartitionValue{c.m.Partition.Region, c.m.Partition.Account} {
		name := [2]string{"region", "account"}[i]
		if pv.Rule != nil {
			c.p.partition[i] = c.partitionRule(pv.Rule, c.partitionSlots[i])
			continue
		}
		if pv.Path.Value == "" {
			// Undeclared: the attribute validate holds the folder to
			// (cloud.region, cloud.account.uid), when the mapping sets it.
			if r, ok := c.byPath[[2]string{"cloud.region", "cloud.account.uid"}[i]]; ok && r.target.Slot >= 0 && r.target.Kind == KindString {
				c.p.partition[i] = r.target.Slot
			}
			continue
		}
		r, ok := c.byPath[pv.Path.Value]
		if !ok || r.target.Slot < 0 {
			d := c.errorf("M311", pv.Path.Pos, "partition %s names %s, which no rule sets", name, pv.Path.Value)
			d.Suggest = diag.Suggest(pv.Path.Value, c.mappedPaths())
			continue
		}
		if r.target.Kind != KindString {
			c.errorf("M311", pv.Path.Pos, "partition %s must be a string attribute; %s is %s", name, pv.Path.Value, r.target.OCSFType)
			continue
		}
		c.p.partition[i] = r.target.Slot
	}
}

// partitionRule compiles a partition rule onto a leaf outside the output
// tree: its value reaches the lake writer, not the record.
func (c *compiler) partitionRule(f *spec.Field, slot int) int {
	leaf := &Node{Name: f.Path.Value, Path: f.Path.Value, Kind: KindString, OCSFType: "string_t", Slot: slot}
	r := &rule{target: leaf, path: f.Path.Value, pos: f.Pos, spec: f, idx: len(c.p.rules)}
	c.compileRule(r, f)
	c.p.rules = append(c.p.rules, r)
	return leaf.Slot
}

func (c *compiler) mappedPaths() []string {
	out := make([]string, 0, len(c.byPath))
	for p := range c.byPath {
		out = append(out, p)
	}
	return out
}
