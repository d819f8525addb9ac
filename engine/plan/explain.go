package plan

import (
	"bytes"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/ocsfmap/ocsfmap/engine/ocsf"
	"github.com/ocsfmap/ocsfmap/engine/spec"
)

func bytesReader(b []byte) io.Reader { return bytes.NewReader(b) }

// Row is one line of the compiled table: what fills a target attribute.
type Row struct {
	Path        string
	Rule        string // "from alert_id", "expr …", "value 2001", "lookup activity(alert_status)", "derived from activity_id"
	Type        string // OCSF type
	Requirement ocsf.Requirement
	Deprecated  bool
	Deviation   string
	Line        int
}

// Explain returns the compiled table, in output order.
func (p *Plan) Explain() []Row {
	var rows []Row
	derivedBy := map[*Node]*derivation{}
	for i := range p.derived {
		derivedBy[p.derived[i].target] = &p.derived[i]
	}
	ruleBy := map[*Node]*rule{}
	for _, r := range p.rules {
		ruleBy[r.target] = r
	}
	var walk func(n *Node)
	walk = func(n *Node) {
		if n.Slot >= 0 {
			row := Row{Path: n.Path, Type: n.OCSFType}
			if r := ruleBy[n]; r != nil {
				row.Rule = describeRule(r)
				if r.attr != nil {
					row.Requirement = r.attr.Requirement
					row.Deprecated = r.attr.Deprecated != nil
				}
				if r.spec != nil {
					row.Line = r.spec.Path.Pos.Line
					row.Deviation = r.spec.Deviation.Value
				}
			} else if d := derivedBy[n]; d != nil {
				row.Rule = "derived: " + deriveName(d)
			} else {
				return // a filler slot of a list item: no rule sets it
			}
			if res, err := p.catalog.Resolve(p.Class.Name, p.Profiles, n.Path); err == nil && res.Attr != nil && !res.Open {
				row.Requirement = res.Attr.Requirement
				_, row.Deprecated = res.Deprecated()
			}
			rows = append(rows, row)
			return
		}
		for _, c := range n.Children {
			walk(c)
		}
		for _, it := range n.Items {
			walk(it)
		}
	}
	walk(p.Root)
	return rows
}

func deriveName(d *derivation) string {
	from := "?"
	switch d.op {
	case deriveCaption:
		from = "enum caption"
	case deriveTypeUID:
		from = "class_uid*100 + activity_id"
	case deriveTypeName:
		from = "class caption + activity caption"
	case deriveDatetime:
		from = "RFC 3339 of the timestamp"
	}
	return from
}

func describeRule(r *rule) string {
	f := r.spec
	var s string
	switch {
	case f == nil && r.static != nil:
		s = "derived: " + valueString(*r.static)
	case f == nil:
		s = "derived"
	case f.Value != nil:
		s = "value " + valueString(*r.static)
	case f.Lookup != nil:
		key := ""
		if f.Key != nil {
			key = f.Key.Text
		} else {
			key = joinStrs(f.From)
		}
		s = fmt.Sprintf("lookup %s(%s)", f.Lookup.Value, key)
	case f.Expr != nil:
		s = "expr " + strings.Join(strings.Fields(f.Expr.Text), " ")
	case f.Template != nil:
		s = "template " + f.Template.Value
	default:
		s = "from " + joinStrs(f.From)
	}
	if f != nil && f.When != nil {
		s += " when " + strings.Join(strings.Fields(f.When.Text), " ")
	}
	if f != nil && f.Default != nil {
		s += fmt.Sprintf(" default %v", f.Default.Value)
	}
	return s
}

func joinStrs(list []spec.Str) string {
	parts := make([]string, len(list))
	for i, s := range list {
		parts[i] = s.Value
	}
	return strings.Join(parts, " | ")
}

func valueString(v Value) string {
	switch v.Kind {
	case String:
		return fmt.Sprintf("%q", v.Str)
	case Int, Bool:
		return fmt.Sprint(v.Int)
	case Float:
		return fmt.Sprint(v.Float)
	case List:
		parts := make([]string, len(v.List))
		for i, e := range v.List {
			parts[i] = valueString(e)
		}
		return "[" + strings.Join(parts, ", ") + "]"
	}
	return "null"
}

// Coverage counts, for the class and every object the mapping writes, the
// required and recommended attributes the mapping sets.
type Coverage struct {
	Level   ocsf.Requirement
	Set     []string
	Missing []string
}

// Coverage reports required and recommended attributes set and missing.
func (p *Plan) Coverage() []Coverage {
	set := map[string]bool{}
	for _, r := range p.Explain() {
		set[r.Path] = true
	}
	out := []Coverage{{Level: ocsf.Required}, {Level: ocsf.Recommended}}
	var walk func(n *Node, owner string)
	walk = func(n *Node, owner string) {
		if n.Kind != KindObject || n.Leaf() || owner == "" {
			return
		}
		attrs := p.catalog.ClassAttrs(owner, p.Profiles)
		if n != p.Root {
			attrs = p.catalog.ObjectAttrs(owner, p.Profiles)
		}
		names := make([]string, 0, len(attrs))
		for name := range attrs {
			names = append(names, name)
		}
		sort.Strings(names)
		for _, name := range names {
			a := attrs[name]
			path := join(n.Path, name)
			ch := findChild(n, name)
			for i := range out {
				if a.Requirement != out[i].Level {
					continue
				}
				if ch != nil {
					out[i].Set = append(out[i].Set, path)
				} else {
					out[i].Missing = append(out[i].Missing, path)
				}
			}
		}
		for _, ch := range n.Children {
			if a := attrs[ch.Name]; a != nil && a.BaseType == ocsf.ObjectType {
				walk(ch, a.Object)
			}
			if ch.Kind == KindList && len(ch.Items) > 0 {
				if a := attrs[ch.Name]; a != nil && a.BaseType == ocsf.ObjectType {
					walk(ch.Items[0], a.Object)
				}
			}
		}
	}
	walk(p.Root, p.Class.Name)
	return out
}
