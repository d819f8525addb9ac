package ocsf

import "sort"

// Constraint kinds, as the OCSF source names them.
const (
	AtLeastOne = "at_least_one" // at least one of the attributes has a value
	JustOne    = "just_one"     // exactly one of the attributes has a value
)

// Constraint is one OCSF constraint of a class or object under a profile
// selection: what ocsf-server's JSON Schema export encodes as anyOf
// (at_least_one) or oneOf (just_one).
type Constraint struct {
	Kind  string   // AtLeastOne or JustOne
	Attrs []string // the attributes it names that the selection keeps, sorted
}

// ConstraintsOf returns the constraints of a class or object (a class name
// wins over an object name) under a profile selection (nil: every profile).
// Like ocsf-server's export it names only attributes the owner has under the
// selection, drops a constraint left with none, and lists an attribute named
// by both kinds under just_one only. The order is just_one, then
// at_least_one.
func (c *Catalog) ConstraintsOf(owner string, profiles []string) []Constraint {
	if cl, ok := c.Class(owner); ok {
		return constraintsOf(cl.Attrs, cl.Constraints, profiles)
	}
	if o, ok := c.Object(owner); ok {
		return constraintsOf(o.Attrs, o.Constraints, profiles)
	}
	return nil
}

func constraintsOf(attrs map[string]*Attr, cons *Constraints, profiles []string) []Constraint {
	if cons == nil {
		return nil
	}
	keep := func(names []string, skip map[string]bool) []string {
		var out []string
		for _, n := range names {
			if a, ok := attrs[n]; ok && applies(a, profiles) && !skip[n] {
				out = append(out, n)
			}
		}
		sort.Strings(out)
		return out
	}
	var out []Constraint
	justOne := keep(cons.JustOne, nil)
	if len(justOne) > 0 {
		out = append(out, Constraint{Kind: JustOne, Attrs: justOne})
	}
	inJustOne := map[string]bool{}
	for _, n := range justOne {
		inJustOne[n] = true
	}
	if l := keep(cons.AtLeastOne, inJustOne); len(l) > 0 {
		out = append(out, Constraint{Kind: AtLeastOne, Attrs: l})
	}
	return out
}

// constrained tells whether a constraint names attribute name.
func constrained(cons []Constraint, name string) bool {
	for _, k := range cons {
		for _, n := range k.Attrs {
			if n == name {
				return true
			}
		}
	}
	return false
}
