package plan

import (
	"sort"
	"strconv"

	"github.com/ocsfmap/ocsfmap/engine/ocsf"
)

// treeBuilder grows the output tree as rules claim target paths, then
// settles list items to one shape.
type treeBuilder struct {
	root  *Node
	slots int
	attrs map[*Node]*ocsf.Attr // the OCSF attribute behind a node (nil below open attributes)
	owner map[*Node]string     // the class or object whose attributes a node's children are
	// shape lays out an object set as a whole (objectShape).
	shape func(object, path string) *Node
	// mixed are list items set as a whole in one item and in parts in another.
	mixed []*Node
}

func newTreeBuilder(class string, shape func(object, path string) *Node) *treeBuilder {
	root := &Node{Kind: KindObject, OCSFType: class, Slot: -1}
	return &treeBuilder{root: root, attrs: map[*Node]*ocsf.Attr{}, owner: map[*Node]string{root: class}, shape: shape}
}

func (t *treeBuilder) claim() int {
	t.slots++
	return t.slots - 1
}

// kindOf maps an OCSF attribute to the node kind that holds one value of it.
func kindOf(a *ocsf.Attr, open bool) Kind {
	if open {
		return KindJSON
	}
	if a.Type == "datetime_t" {
		return KindDatetime
	}
	switch a.BaseType {
	case ocsf.IntegerType:
		return KindInt
	case ocsf.LongType:
		return KindLong
	case ocsf.FloatType:
		return KindFloat
	case ocsf.BooleanType:
		return KindBool
	case ocsf.JSONType:
		return KindJSON
	case ocsf.ObjectType:
		return KindObject
	}
	return KindString
}

// isLeaf tells whether a node (or a shape) holds a value rather than children.
func isLeaf(n *Node) bool {
	switch n.Kind {
	case KindObject:
		return n.Elem != nil // set as a whole: Elem is its shape
	case KindList:
		return len(n.Items) == 0
	case KindJSON:
		return len(n.Children) == 0
	}
	return true
}

// add finds or creates the leaf for a resolved path and gives it a slot. It
// returns nil when the path lands inside or on top of a value another rule
// already sets as a whole; the caller reports that.
func (t *treeBuilder) add(path string, res *ocsf.Resolved, isOpen func(*ocsf.Attr) bool) *Node {
	cur := t.root
	name := ""
	for i, st := range res.Steps {
		last := i == len(res.Steps)-1
		if cur.Slot >= 0 {
			return nil // a value set as a whole: nothing goes below it
		}
		if name != "" {
			name += "."
		}
		name += st.Name
		open := st.Attr == nil || isOpen(st.Attr)
		child := findChild(cur, st.Name)
		if child == nil {
			child = &Node{Name: st.Name, Path: name, Slot: -1}
			switch {
			case st.Attr == nil: // below an open attribute
				child.Kind, child.OCSFType = KindJSON, "json_t"
			case st.Attr.IsArray:
				child.Kind, child.OCSFType = KindList, st.Attr.Type
			default:
				child.Kind, child.OCSFType = kindOf(st.Attr, open), st.Attr.Type
			}
			cur.Children = append(cur.Children, child)
			t.attrs[child] = st.Attr
			if st.Attr != nil && st.Attr.BaseType == ocsf.ObjectType {
				t.owner[child] = st.Attr.Object
			}
		}
		cur = child
		if cur.Kind == KindList && st.Index >= 0 {
			if cur.Slot >= 0 {
				return nil
			}
			for len(cur.Items) <= st.Index {
				item := &Node{Path: cur.Path + "[" + strconv.Itoa(len(cur.Items)) + "]", Kind: kindOf(st.Attr, open), OCSFType: st.Attr.Type, Slot: -1}
				cur.Items = append(cur.Items, item)
				t.attrs[item] = st.Attr
				if st.Attr.BaseType == ocsf.ObjectType {
					t.owner[item] = st.Attr.Object
				}
			}
			cur = cur.Items[st.Index]
			name = cur.Path
		}
		if !last {
			continue
		}
		if cur.Slot >= 0 || len(cur.Children) > 0 || len(cur.Items) > 0 {
			return nil // set twice, or set as a whole and in parts
		}
		switch cur.Kind {
		case KindList: // the whole list from one rule
			if elem := kindOf(st.Attr, open); elem == KindObject {
				cur.Elem = t.shape(st.Attr.Object, cur.Path+"[]")
			} else {
				cur.Elem = &Node{Path: cur.Path + "[]", Kind: elem, OCSFType: st.Attr.Type, Slot: -1}
			}
		case KindObject: // a whole object from one rule: typed by the object's shape
			cur.Elem = t.shape(st.Attr.Object, cur.Path)
		}
		cur.Slot = t.claim()
		return cur
	}
	return cur
}

func findChild(n *Node, name string) *Node {
	for _, c := range n.Children {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// finish sorts children and gives every item of a list the union shape of all
// its items, with fresh always-null slots where an item lacks a leaf: a
// columnar writer needs one element type per list.
func (t *treeBuilder) finish() {
	var walk func(n *Node)
	walk = func(n *Node) {
		if n.Kind == KindList && len(n.Items) > 0 {
			shape := &Node{Kind: n.Items[0].Kind, OCSFType: n.Items[0].OCSFType, Slot: -1}
			for _, it := range n.Items {
				mergeShape(shape, it)
			}
			for _, it := range n.Items {
				t.conform(it, shape)
			}
			n.Elem = cloneShape(shape, n.Path+"[]")
		}
		sort.Slice(n.Children, func(i, j int) bool { return n.Children[i].Name < n.Children[j].Name })
		for _, c := range n.Children {
			walk(c)
		}
		for _, it := range n.Items {
			walk(it)
		}
	}
	walk(t.root)
}

// mergeShape adds to shape every node of n it lacks.
func mergeShape(shape, n *Node) {
	if isLeaf(n) {
		shape.Kind, shape.Elem = n.Kind, n.Elem
		return
	}
	for _, c := range n.Children {
		sc := findChild(shape, c.Name)
		if sc == nil {
			sc = &Node{Name: c.Name, Kind: c.Kind, OCSFType: c.OCSFType, Slot: -1}
			shape.Children = append(shape.Children, sc)
		}
		mergeShape(sc, c)
	}
	for i, it := range n.Items {
		for len(shape.Items) <= i {
			shape.Items = append(shape.Items, &Node{Kind: it.Kind, OCSFType: it.OCSFType, Slot: -1})
		}
		mergeShape(shape.Items[i], it)
	}
}

// conform gives n every node of shape it lacks.
func (t *treeBuilder) conform(n, shape *Node) {
	if isLeaf(shape) {
		if n.Slot < 0 && (len(n.Children) > 0 || len(n.Items) > 0) {
			t.mixed = append(t.mixed, n) // set in parts here, as a whole in another item
			return
		}
		if n.Slot < 0 {
			n.Kind, n.Elem, n.Slot = shape.Kind, shape.Elem, t.claim()
		}
		return
	}
	for _, sc := range shape.Children {
		c := findChild(n, sc.Name)
		if c == nil {
			c = &Node{Name: sc.Name, Path: n.Path + "." + sc.Name, Kind: sc.Kind, OCSFType: sc.OCSFType, Slot: -1}
			n.Children = append(n.Children, c)
		}
		t.conform(c, sc)
	}
	for i, si := range shape.Items {
		for len(n.Items) <= i {
			n.Items = append(n.Items, &Node{Path: n.Path + "[" + strconv.Itoa(len(n.Items)) + "]", Kind: si.Kind, OCSFType: si.OCSFType, Slot: -1})
		}
		t.conform(n.Items[i], si)
	}
}

// cloneShape copies a shape for Node.Elem: same structure, no slots.
func cloneShape(s *Node, path string) *Node {
	c := &Node{Name: s.Name, Path: path, Kind: s.Kind, OCSFType: s.OCSFType, Elem: s.Elem, Slot: -1}
	for _, ch := range s.Children {
		c.Children = append(c.Children, cloneShape(ch, path+"."+ch.Name))
	}
	sort.Slice(c.Children, func(i, j int) bool { return c.Children[i].Name < c.Children[j].Name })
	if len(s.Items) > 0 {
		inner := &Node{Kind: s.Items[0].Kind, OCSFType: s.Items[0].OCSFType, Slot: -1}
		for _, it := range s.Items {
			mergeShape(inner, it)
		}
		c.Elem = cloneShape(inner, path+"[]")
	}
	return c
}
