package spec

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
)

// each compiles a one-to-many rule into the expression it stands for:
//
//	resources:
//	  each: 'resource.s3BucketDetails'
//	  when: '#.type != "Directory"'         # which elements (optional)
//	  fields:
//	    uid: {from: arn}
//	    type: {value: AWS::S3::Bucket}
//	    owner.name: {expr: '#.owner.displayName', default: unknown}
//
// is map(filter(resource.s3BucketDetails ?? [], #.type != "Directory"),
// ({"uid": #.arn, "type": "AWS::S3::Bucket", "owner": {"name": …}})), an
// expression filling a list of OCSF objects: the plan checks it against the
// object at load (keys) and per element (types, enums, required attributes)
// like any other. In the field table, from: names a field of the element,
// expr: reads the element as #, when: leaves one attribute out.
func (p *parser) each(f *Field) {
	switch {
	case f.Each == nil:
		p.errorf("M107", f.Pos, "fields under %s need each: the input array whose elements they map", f.Path.Value)
		return
	case len(f.Fields) == 0:
		p.errorf("M107", f.Each.Pos, "each needs fields: the attributes of each element")
		return
	case len(f.From) > 0 || f.Value != nil || f.Expr != nil || f.Template != nil || f.Lookup != nil || f.Default != nil:
		p.errorf("M107", f.Each.Pos, "a rule with each maps every element through its fields: it takes no from, value, expr, template, lookup or default")
		return
	}
	root := &eachNode{kids: map[string]*eachNode{}}
	for _, sf := range f.Fields {
		text, ok := p.eachValue(sf)
		if !ok {
			continue
		}
		if !eachPath.MatchString(sf.Path.Value) {
			p.errorf("M103", sf.Path.Pos, "inside each, a path is attribute names joined by dots (a.b), not %q", sf.Path.Value)
			continue
		}
		n := root
		parts := strings.Split(sf.Path.Value, ".")
		for _, name := range parts[:len(parts)-1] {
			if n.kids[name] == nil {
				n.kids[name] = &eachNode{kids: map[string]*eachNode{}}
				n.order = append(n.order, name)
			}
			n = n.kids[name]
		}
		last := parts[len(parts)-1]
		if n.kids[last] != nil {
			p.errorf("M306", sf.Path.Pos, "%s is set twice inside each", sf.Path.Value)
			continue
		}
		n.kids[last] = &eachNode{value: text}
		n.order = append(n.order, last)
	}
	list := "(" + f.Each.Text + ") ?? []"
	if f.When != nil {
		list = "filter(" + list + ", " + f.When.Text + ")"
		f.When = nil // a per-element condition, not the rule's
	}
	f.Expr = &Expr{Text: "map(" + list + ", (" + root.literal() + "))", Pos: f.Each.Pos}
}

var eachPath = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$`)

// eachValue is the expression of one rule of an each field table.
func (p *parser) eachValue(f *Field) (string, bool) {
	var v string
	switch {
	case f.Template != nil || f.Lookup != nil || f.Each != nil:
		p.errorf("M107", f.Pos, "inside each, a rule is from, value or expr (with default and when)")
		return "", false
	case len(f.From) > 0:
		reads := make([]string, len(f.From))
		for i, s := range f.From {
			reads[i] = elementField(s.Value)
		}
		v = reads[0]
		if len(reads) > 1 {
			v = "coalesce(" + strings.Join(reads, ", ") + ")"
		}
	case f.Value != nil:
		b, err := json.Marshal(f.Value.Value) // JSON scalars and lists are expr literals
		if err != nil {
			p.errorf("M103", f.Value.Pos, "%v", err)
			return "", false
		}
		v = string(b)
	case f.Expr != nil:
		v = "(" + f.Expr.Text + ")"
	default:
		return "", false // reported by field
	}
	if f.Default != nil {
		b, err := json.Marshal(f.Default.Value)
		if err != nil {
			p.errorf("M103", f.Default.Pos, "%v", err)
			return "", false
		}
		v = "(" + v + " ?? " + string(b) + ")"
	}
	if f.When != nil {
		v = "((" + f.When.Text + ") ? " + v + " : nil)"
	}
	return v, true
}

// elementField reads a (dotted) field of the current element.
func elementField(path string) string {
	var b strings.Builder
	b.WriteString("#")
	for _, part := range strings.Split(path, ".") {
		if eachPath.MatchString(part) {
			b.WriteString("." + part)
		} else {
			fmt.Fprintf(&b, "[%q]", part)
		}
	}
	return b.String()
}

// eachNode is one level of the object literal an each rule builds.
type eachNode struct {
	value string
	kids  map[string]*eachNode
	order []string
}

func (n *eachNode) literal() string {
	if n.kids == nil {
		return n.value
	}
	parts := make([]string, len(n.order))
	for i, k := range n.order {
		parts[i] = fmt.Sprintf("%q: %s", k, n.kids[k].literal())
	}
	return "{" + strings.Join(parts, ", ") + "}"
}
