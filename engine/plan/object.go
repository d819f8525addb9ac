package plan

import (
	"fmt"
	"reflect"
	"sort"
	"strings"

	"github.com/ocsfmap/ocsfmap/engine/diag"
	"github.com/ocsfmap/ocsfmap/engine/exprenv"
	"github.com/ocsfmap/ocsfmap/engine/ocsf"
	"github.com/ocsfmap/ocsfmap/engine/spec"
)

// maxShapeDepth bounds the objects an object set as a whole may hold: the
// object itself and two levels of objects below it (resources[].owner.account).
// OCSF objects nest without end (process.parent_process, user.groups...):
// the shape, like every column of the lake, must be finite, and an object
// never holds itself, as in the JSON Schema's $defs.
const maxShapeDepth = 3

// shapeInfo is what the per-record checks of one object shape need.
type shapeInfo struct {
	object      string
	names       []string // child names, as in Children: for suggestions
	required    []int    // children OCSF requires
	constraints []shapeConstraint
	deep        []string // object attributes left out: past maxShapeDepth, or the object in itself
	enums       []shapeEnum
	datetimes   [][2]int // (timestamp_t child, its _dt child): derived as rules' are
}

// shapeEnum is an integer enum attribute of an object shape, and its
// caption sibling (-1: none in the shape), derived when the value has none.
type shapeEnum struct {
	kid, caption int
	enum         map[int64]string
}

type shapeConstraint struct {
	kind string // ocsf.AtLeastOne or ocsf.JustOne
	kids []int
	msg  string
}

// objectShape lays out an object set as a whole by one rule (an expression,
// a source field, a static value): every attribute the catalog gives it
// under the mapping's profiles, typed as rules setting them one by one would
// type them, so both give the lake the same column.
func (c *compiler) objectShape(object, path string) *Node {
	return c.shapeOf(object, path, []string{object})
}

func (c *compiler) shapeOf(object, path string, outer []string) *Node {
	n := &Node{Path: path, Kind: KindObject, OCSFType: object, Slot: -1}
	info := &shapeInfo{object: object}
	attrs := c.cat.ObjectAttrs(object, c.prof)
	for name, a := range attrs {
		child := &Node{Name: name, Path: path + "." + name, OCSFType: a.Type, Slot: -1}
		open := c.isOpen(a)
		kind := kindOf(a, open)
		var value *Node // the node one value of the attribute takes
		if kind == KindObject {
			if len(outer) >= maxShapeDepth || contains(outer, a.Object) {
				info.deep = append(info.deep, name) // past the bound
				continue
			}
			value = c.shapeOf(a.Object, child.Path, append(outer[:len(outer):len(outer)], a.Object))
			if len(value.Children) == 0 {
				info.deep = append(info.deep, name) // a struct needs a field
				continue
			}
		} else {
			value = &Node{Kind: kind, OCSFType: a.Type, Slot: -1}
		}
		if a.IsArray {
			child.Kind = KindList
			value.Name, value.Path = "", child.Path+"[]"
			child.Elem = value
		} else {
			value.Name, value.Path = name, child.Path
			child = value
		}
		n.Children = append(n.Children, child)
	}
	sort.Slice(n.Children, func(i, j int) bool { return n.Children[i].Name < n.Children[j].Name })
	for i, ch := range n.Children {
		info.names = append(info.names, ch.Name)
		a := attrs[ch.Name]
		if a.Requirement == ocsf.Required {
			info.required = append(info.required, i)
		}
		if len(a.Enum) > 0 && a.BaseType == ocsf.IntegerType {
			e := shapeEnum{kid: i, caption: -1, enum: a.Enum}
			if a.Sibling != "" && !a.IsArray {
				e.caption = childIndex(n, a.Sibling)
			}
			info.enums = append(info.enums, e)
		}
		if a.Type == "timestamp_t" && !a.IsArray {
			if dt := childIndex(n, ch.Name+"_dt"); dt >= 0 {
				info.datetimes = append(info.datetimes, [2]int{i, dt})
			}
		}
	}
	for _, k := range c.cat.ConstraintsOf(object, c.prof) {
		sc := shapeConstraint{kind: k.Kind, msg: "constraint " + k.Kind + " of " + object + " not met: needs " +
			constraintWords(k.Kind) + " of " + strings.Join(k.Attrs, ", ")}
		for _, name := range k.Attrs {
			if i := childIndex(n, name); i >= 0 {
				sc.kids = append(sc.kids, i)
			}
		}
		info.constraints = append(info.constraints, sc)
	}
	n.shape = info
	return n
}

// childIndex finds a child by name in a node's sorted children; -1: none.
func childIndex(n *Node, name string) int {
	i := sort.Search(len(n.Children), func(i int) bool { return n.Children[i].Name >= name })
	if i < len(n.Children) && n.Children[i].Name == name {
		return i
	}
	return -1
}

// shapeNode is the shape a value of n takes: its Elem for an object set as
// a whole, n itself inside a shape.
func shapeNode(n *Node) *Node {
	if n.Kind == KindObject && n.Elem != nil {
		return n.Elem
	}
	return n
}

// fieldError is a conversion error inside an object or list set as a
// whole; ptr is the JSON pointer of the value at fault, from the rule's
// target. code is the per-record check it fails ("": R402, conversion).
type fieldError struct {
	ptr  string
	code string
	err  error
}

func (e *fieldError) Error() string {
	if e.ptr == "" {
		return e.err.Error()
	}
	return e.ptr + ": " + e.err.Error()
}

// below puts err under one more key or index of the pointer.
func below(key string, err error) error {
	key = "/" + strings.ReplaceAll(strings.ReplaceAll(key, "~", "~0"), "/", "~1")
	if fe, ok := err.(*fieldError); ok {
		return &fieldError{ptr: key + fe.ptr, code: fe.code, err: fe.err}
	}
	return &fieldError{ptr: key, err: err}
}

// toObject converts one JSON object to the Object Value of shape n: every
// key an attribute of the object, every value of its attribute's type, and
// the object's required attributes and constraints met. An object with no
// value is null, an empty list no value: OCSF has neither.
func toObject(v any, n *Node) (Value, error) {
	m, ok := v.(map[string]any)
	if !ok {
		return Value{}, fmt.Errorf("%s is not an object (%s)", describe(v), n.OCSFType)
	}
	fields := make([]Value, len(n.Children))
	set := 0
	for k, x := range m {
		i := childIndex(n, k)
		if i < 0 {
			return Value{}, objectError(m, n)
		}
		if x == nil {
			continue
		}
		fv, err := convert(x, n.Children[i])
		if err != nil {
			return Value{}, objectError(m, n)
		}
		if fv.Kind == List && len(fv.List) == 0 {
			continue
		}
		if fv.Kind != Null {
			fields[i] = fv
			set++
		}
	}
	if set == 0 {
		return Value{}, nil
	}
	info := n.shape
	for _, e := range info.enums {
		v := fields[e.kid]
		ids := v.List
		if v.Kind == Int {
			ids = fields[e.kid : e.kid+1]
		}
		for _, id := range ids {
			if _, ok := e.enum[id.Int]; id.Kind == Int && !ok {
				return Value{}, below(n.Children[e.kid].Name, &fieldError{code: "R404", err: fmt.Errorf("%d is not a value of the enum", id.Int)})
			}
		}
		if e.caption >= 0 && v.Kind == Int && fields[e.caption].Kind == Null {
			fields[e.caption] = Value{Kind: String, Str: e.enum[v.Int]} // the caption, as rules derive it
		}
	}
	for _, d := range info.datetimes {
		if fields[d[0]].Kind == Int && fields[d[1]].Kind == Null {
			fields[d[1]] = Value{Kind: Int, Int: fields[d[0]].Int}
		}
	}
	for _, i := range info.required {
		if fields[i].Kind == Null {
			return Value{}, below(n.Children[i].Name, &fieldError{code: "R403", err: fmt.Errorf("required attribute of %s has no value", info.object)})
		}
	}
	for _, k := range info.constraints {
		have := 0
		for _, i := range k.kids {
			if fields[i].Kind != Null {
				have++
			}
		}
		if have == 0 || k.kind == ocsf.JustOne && have > 1 {
			return Value{}, &fieldError{code: "R406", err: fmt.Errorf("%s; has %d", k.msg, have)}
		}
	}
	return Value{Kind: Object, List: fields}, nil
}

// objectError finds the first key of m, in sorted order, that does not
// convert: map order is random, and the same record must fail the same way.
func objectError(m map[string]any, n *Node) error {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		i := childIndex(n, k)
		if i < 0 {
			return below(k, unknownKey(n, k))
		}
		if m[k] == nil {
			continue
		}
		if _, err := convert(m[k], n.Children[i]); err != nil {
			return below(k, err)
		}
	}
	return fmt.Errorf("%s does not convert", n.OCSFType) // not reached: a key failed
}

func unknownKey(n *Node, key string) error {
	msg := fmt.Sprintf("%s has no attribute %q", n.OCSFType, key)
	if s := diag.Suggest(key, n.shape.names); len(s) > 0 {
		msg += fmt.Sprintf(" (did you mean %q?)", s[0])
	}
	if contains(n.shape.deep, key) {
		msg = fmt.Sprintf("%s.%s: %s", n.OCSFType, key, deepDetail)
	}
	return fmt.Errorf("%s", msg)
}

// pointer is the JSON pointer of an OCSF path: resources[0].owner -> /resources/0/owner.
func pointer(path string) string {
	var b strings.Builder
	for _, part := range strings.Split(path, ".") {
		name, rest, _ := strings.Cut(part, "[")
		b.WriteString("/" + name)
		for rest != "" {
			var idx string
			idx, rest, _ = strings.Cut(rest, "]")
			b.WriteString("/" + idx)
			rest = strings.TrimPrefix(rest, "[")
		}
	}
	return b.String()
}

// checkShapes checks at load time what an expression is known to yield
// against the object or list of objects its rule sets: the keys of an
// object literal (in map(…, {…}), a ternary, ...) must be attributes of the
// object, with values of their types. What only the data decides is checked
// per record (toObject).
func (c *compiler) checkShapes(r *rule, e *spec.Expr) {
	for _, s := range r.prog.Shapes() {
		c.checkShape(r.target, s, r.path, e)
	}
}

func (c *compiler) checkShape(n *Node, s *exprenv.Shape, path string, e *spec.Expr) {
	switch {
	case n.Kind == KindJSON:
		return // anything goes
	case n.Kind == KindObject:
		shape := shapeNode(n)
		if s.Keys == nil {
			if s.List || !typeFits(s.Type, KindObject) {
				c.errorf("M203", e.PosAt(s.Offset), "expression yields %s, but %s is %s", s.Describe(), path, shape.OCSFType)
			}
			return
		}
		for _, k := range s.Keys {
			i := childIndex(shape, k.Name)
			if i < 0 {
				d := c.errorf("M205", e.PosAt(k.Offset), "%s has no attribute %q (in %s)", shape.OCSFType, k.Name, path)
				d.Suggest = diag.Suggest(k.Name, shape.shape.names)
				if contains(shape.shape.deep, k.Name) {
					d.Detail = fmt.Sprintf("OCSF has %s.%s, but %s", shape.OCSFType, k.Name, deepDetail)
				}
				continue
			}
			for _, v := range k.Value {
				c.checkShape(shape.Children[i], v, path+"."+k.Name, e)
			}
		}
	case n.Kind == KindList && n.Elem != nil && n.Elem.Kind == KindObject:
		if !s.List {
			// One value is a list of one.
			c.checkShape(n.Elem, s, path+"[]", e)
			return
		}
		if t := s.Type; len(s.Elems) == 0 && t != nil && (t.Kind() == reflect.Slice || t.Kind() == reflect.Array) && !typeFits(t.Elem(), KindObject) {
			c.errorf("M203", e.PosAt(s.Offset), "expression yields %s, but %s is %s[]", t, path, n.Elem.OCSFType)
			return
		}
		for _, el := range s.Elems {
			c.checkShape(n.Elem, el, path+"[]", e)
		}
	default:
		if s.Keys != nil || (s.List && n.Kind != KindList) || !typeFits(s.Type, n.Kind) {
			c.errorf("M203", e.PosAt(s.Offset), "expression yields %s, but %s is %s", s.Describe(), path, n.OCSFType)
		}
	}
}

// reportMixed reports list items set as a whole in one item and in parts in
// another: the items of a list take one shape.
func (c *compiler) reportMixed() {
	for _, n := range c.tree.mixed {
		c.errorf("M306", c.firstRulePos(n), "%s is set in parts, but another item of its list sets it as a whole", n.Path)
	}
}

var deepDetail = fmt.Sprintf("an object set as a whole holds objects %d levels deep at most, and never itself; set the object in parts, a rule per attribute", maxShapeDepth)

// holdsObjects tells whether a leaf holds an object or a list of objects set
// as a whole.
func holdsObjects(n *Node) bool {
	return n.Kind == KindObject || n.Kind == KindList && n.Elem != nil && n.Elem.Kind == KindObject
}
