package ocsf

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/ocsfmap/ocsfmap/engine/diag"
)

// Index values of a Step that has no numeric index.
const (
	NoIndex  = -1 // "resources"
	AllIndex = -2 // "resources[]": the whole array, or any element
)

// Step is one segment of a resolved path.
type Step struct {
	Name  string
	Index int   // element index, NoIndex or AllIndex
	Attr  *Attr // nil below an open attribute (unmapped.anything)
	Owner string
	// Deprecated is the attribute's deprecation, or else that of the object
	// it holds: finding.uid is deprecated in 1.1.0 because object finding is.
	Deprecated *Deprecation
}

// Resolved is the result of resolving an attribute path in a class.
type Resolved struct {
	Steps []Step
	// Attr is the attribute the path names; when Open it is the open
	// object/json_t attribute the rest of the path lies below.
	Attr *Attr
	// Open reports that the path continues below an attribute of type json_t
	// or the property-less object "object", where any name is valid.
	Open bool
}

// Deprecated returns the first deprecated step of the path. A deprecated
// attribute is still valid OCSF; callers warn.
func (r *Resolved) Deprecated() (Step, bool) {
	for _, s := range r.Steps {
		if s.Deprecated != nil {
			return s, true
		}
	}
	return Step{}, false
}

// Path is the canonical spelling of the resolved path:
// resources[0].owner.type_id, finding.types[].
func (r *Resolved) Path() string {
	var b strings.Builder
	for i, s := range r.Steps {
		if i > 0 {
			b.WriteByte('.')
		}
		b.WriteString(s.Name)
		switch {
		case s.Index == AllIndex:
			b.WriteString("[]")
		case s.Index >= 0:
			b.WriteString("[" + strconv.Itoa(s.Index) + "]")
		}
	}
	return b.String()
}

// PathError explains why an attribute path does not resolve.
type PathError struct {
	Path    string   // the whole path as given
	Segment string   // the segment at fault
	Owner   string   // class or object that was searched
	Reason  string   // what is wrong, e.g. "resources is an array: needs an index"
	Suggest []string // "did you mean" candidates, nearest first
}

func (e *PathError) Error() string {
	msg := fmt.Sprintf("ocsf path %q: %s", e.Path, e.Reason)
	if len(e.Suggest) > 0 {
		msg += " (did you mean " + strings.Join(e.Suggest, ", ") + "?)"
	}
	return msg
}

type segment struct {
	name  string
	index int
}

// parsePath splits a.b[0].c[] into segments. A purely numeric segment
// (resources.0.name, the notation of the vendor table) indexes the one before.
func parsePath(path string) ([]segment, *PathError) {
	bad := func(seg, why string) *PathError { return &PathError{Path: path, Segment: seg, Reason: why} }
	if path == "" {
		return nil, bad("", "empty path")
	}
	var out []segment
	for _, raw := range strings.Split(path, ".") {
		if raw == "" {
			return nil, bad(raw, "empty segment")
		}
		if n, err := strconv.Atoi(raw); err == nil {
			if len(out) == 0 || out[len(out)-1].index != NoIndex || n < 0 {
				return nil, bad(raw, fmt.Sprintf("misplaced index %q", raw))
			}
			out[len(out)-1].index = n
			continue
		}
		seg := segment{name: raw, index: NoIndex}
		if i := strings.IndexByte(raw, '['); i >= 0 {
			if !strings.HasSuffix(raw, "]") || i == 0 {
				return nil, bad(raw, fmt.Sprintf("malformed segment %q", raw))
			}
			seg.name = raw[:i]
			idx := raw[i+1 : len(raw)-1]
			if idx == "" {
				seg.index = AllIndex
			} else {
				n, err := strconv.Atoi(idx)
				if err != nil || n < 0 {
					return nil, bad(raw, fmt.Sprintf("bad index %q", idx))
				}
				seg.index = n
			}
		}
		if strings.ContainsAny(seg.name, "[] ") {
			return nil, bad(raw, fmt.Sprintf("malformed segment %q", raw))
		}
		out = append(out, seg)
	}
	return out, nil
}

// isOpen reports whether anything goes below the attribute.
func (c *Catalog) isOpen(a *Attr) bool {
	if a.BaseType == JSONType {
		return true
	}
	if a.BaseType != ObjectType {
		return false
	}
	o, ok := c.Object(a.Object)
	return !ok || len(o.Attrs) == 0
}

// Resolve resolves an attribute path such as resources[0].owner.type_id in a
// class under a profile selection (nil: every profile). Errors are *PathError.
func (c *Catalog) Resolve(class string, profiles []string, path string) (*Resolved, error) {
	segs, perr := parsePath(path)
	if perr != nil {
		perr.Owner = class
		return nil, perr
	}
	cl, ok := c.Class(class)
	if !ok {
		return nil, &PathError{Path: path, Owner: class, Reason: fmt.Sprintf("OCSF %s has no class %q", c.Version, class),
			Suggest: diag.Suggest(class, c.ClassNames())}
	}
	res := &Resolved{Steps: make([]Step, 0, len(segs))}
	owner, attrs := cl.Name, cl.Attrs
	for i, seg := range segs {
		last := i == len(segs)-1
		if res.Open {
			res.Steps = append(res.Steps, Step{Name: seg.name, Index: seg.index})
			continue
		}
		fail := func(reason string, suggest []string) error {
			return &PathError{Path: path, Segment: seg.name, Owner: owner, Reason: reason, Suggest: suggest}
		}
		a, ok := attrs[seg.name]
		if !ok {
			return nil, fail(fmt.Sprintf("no attribute %q in %s", seg.name, owner), diag.Suggest(seg.name, sortedNames(attrs)))
		}
		if !applies(a, profiles) {
			return nil, fail(fmt.Sprintf("%s.%s belongs to profile %s, which is not selected", owner, seg.name, a.Profile), nil)
		}
		open := c.isOpen(a)
		switch {
		case seg.index != NoIndex && !a.IsArray && a.BaseType != JSONType:
			return nil, fail(fmt.Sprintf("%s is not an array", seg.name), nil)
		case seg.index == NoIndex && a.IsArray && !last:
			return nil, fail(fmt.Sprintf("%s is an array: needs an index", seg.name), nil)
		case !last && !open && a.BaseType != ObjectType:
			return nil, fail(fmt.Sprintf("%s is a scalar (%s): it has no attributes", seg.name, a.Type), nil)
		}
		step := Step{Name: seg.name, Index: seg.index, Attr: a, Owner: owner, Deprecated: a.Deprecated}
		if a.BaseType == ObjectType {
			if o, ok := c.Object(a.Object); ok {
				if step.Deprecated == nil {
					step.Deprecated = o.Deprecated
				}
				owner, attrs = o.Name, o.Attrs
			}
		}
		res.Steps = append(res.Steps, step)
		res.Attr = a
		res.Open = open && !last
	}
	return res, nil
}

// AttrNames lists, sorted, the attribute names of a class or object under a
// profile selection: the candidates for a "did you mean".
func (c *Catalog) AttrNames(owner string, profiles []string) []string {
	attrs, _ := c.ownerAttrs(owner)
	out := make([]string, 0, len(attrs))
	for n, a := range attrs {
		if applies(a, profiles) {
			out = append(out, n)
		}
	}
	sort.Strings(out)
	return out
}
