package ocsf

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strings"

	"github.com/ocsfmap/ocsfmap/engine/internal/memo"
	"github.com/ocsfmap/ocsfmap/schemas"
)

// catalogs caches one parsed catalog per embedded version; concurrent first
// callers share a single parse.
var catalogs memo.Map[*Catalog]

// Versions lists the embedded OCSF versions, sorted.
func Versions() []string {
	entries, err := fs.ReadDir(schemas.FS, "ocsf")
	if err != nil {
		return nil
	}
	var out []string
	for _, e := range entries {
		if e.IsDir() {
			out = append(out, e.Name())
		}
	}
	sort.Strings(out)
	return out
}

// Load returns the embedded catalog of an OCSF version such as "1.1.0". The
// catalog is parsed once and shared: callers must not modify it.
func Load(version string) (*Catalog, error) {
	return catalogs.Get(version, func() (*Catalog, error) { return parseEmbedded(version) })
}

func parseEmbedded(version string) (*Catalog, error) {
	b, err := fs.ReadFile(schemas.FS, path.Join("ocsf", version, "catalog.json"))
	if err != nil {
		return nil, fmt.Errorf("ocsf: version %q is not embedded (have %v): %w", version, Versions(), err)
	}
	c, err := Parse(b)
	if err != nil {
		return nil, fmt.Errorf("ocsf: load %s: %w", version, err)
	}
	return c, nil
}

// Parse decodes a catalog.json and fills in what the file leaves implicit
// (attribute names from their map keys).
func Parse(b []byte) (*Catalog, error) {
	var c Catalog
	if err := json.Unmarshal(b, &c); err != nil {
		return nil, err
	}
	if c.Version == "" || len(c.Classes) == 0 {
		return nil, fmt.Errorf("catalog has no version or no classes")
	}
	for name, cl := range c.Classes {
		cl.Name = name
		fillNames(cl.Attrs)
	}
	for name, o := range c.Objects {
		o.Name = name
		fillNames(o.Attrs)
	}
	return &c, nil
}

func fillNames(attrs map[string]*Attr) {
	for n, a := range attrs {
		a.Name = n
	}
}

// Class returns the class with the given name ("security_finding").
func (c *Catalog) Class(name string) (*Class, bool) {
	cl, ok := c.Classes[name]
	return cl, ok
}

// ClassByUID returns the class with the given class_uid (2001).
func (c *Catalog) ClassByUID(uid int64) (*Class, bool) {
	for _, cl := range c.Classes {
		if cl.UID == uid {
			return cl, true
		}
	}
	return nil, false
}

// Object returns the object with the given name ("resource_details").
func (c *Catalog) Object(name string) (*Object, bool) {
	o, ok := c.Objects[name]
	return o, ok
}

// ClassNames lists the catalog's classes, sorted.
func (c *Catalog) ClassNames() []string { return sortedNames(c.Classes) }

// ObjectNames lists the catalog's objects, sorted.
func (c *Catalog) ObjectNames() []string { return sortedNames(c.Objects) }

func sortedNames[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// applies reports whether an attribute survives the profile selection: it
// was added by no profile, or by one of profiles. nil selects every profile
// (ocsf-server's default); an empty non-nil slice selects none.
func applies(a *Attr, profiles []string) bool {
	if a.Profile == "" || profiles == nil {
		return true
	}
	for _, p := range profiles {
		if p == a.Profile {
			return true
		}
	}
	return false
}

func filterAttrs(attrs map[string]*Attr, profiles []string) map[string]*Attr {
	out := make(map[string]*Attr, len(attrs))
	for n, a := range attrs {
		if applies(a, profiles) {
			out[n] = a
		}
	}
	return out
}

// ClassAttrs returns the class's attributes under a profile selection (nil:
// every profile), or nil when there is no such class.
func (c *Catalog) ClassAttrs(class string, profiles []string) map[string]*Attr {
	cl, ok := c.Classes[class]
	if !ok {
		return nil
	}
	return filterAttrs(cl.Attrs, profiles)
}

// ObjectAttrs returns the object's attributes under a profile selection (nil:
// every profile), or nil when there is no such object.
func (c *Catalog) ObjectAttrs(object string, profiles []string) map[string]*Attr {
	o, ok := c.Objects[object]
	if !ok {
		return nil
	}
	return filterAttrs(o.Attrs, profiles)
}

// ownerAttrs returns the attributes of a class, or else of an object, by name.
func (c *Catalog) ownerAttrs(owner string) (map[string]*Attr, bool) {
	if cl, ok := c.Classes[owner]; ok {
		return cl.Attrs, true
	}
	if o, ok := c.Objects[owner]; ok {
		return o.Attrs, true
	}
	return nil, false
}

// Required lists, sorted, the required attributes of a class or object (a
// class name wins over an object name) under a profile selection. An
// attribute a constraint names is not listed, as in ocsf-server's export:
// the constraint decides whether it must be there.
func (c *Catalog) Required(owner string, profiles []string) []string {
	attrs, _ := c.ownerAttrs(owner)
	cons := c.ConstraintsOf(owner, profiles)
	var out []string
	for n, a := range attrs {
		if a.Requirement == Required && applies(a, profiles) && !constrained(cons, n) {
			out = append(out, n)
		}
	}
	sort.Strings(out)
	return out
}

// EnumCaption returns the caption of a value of an integer enum attribute.
func (a *Attr) EnumCaption(id int64) (string, bool) {
	s, ok := a.Enum[id]
	return s, ok
}

// EnumID returns the value of an integer enum attribute whose caption equals
// caption, ignoring case.
func (a *Attr) EnumID(caption string) (int64, bool) {
	for id, c := range a.Enum {
		if strings.EqualFold(c, caption) {
			return id, true
		}
	}
	return 0, false
}
