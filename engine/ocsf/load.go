package ocsf

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strings"
	"sync"

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
	fsys, err := fs.Sub(schemas.FS, path.Join("ocsf", version))
	if err == nil {
		_, err = fs.Stat(fsys, "catalog.json")
	}
	if err != nil {
		return nil, fmt.Errorf("ocsf: version %q is not embedded (have %v): %w", version, Versions(), err)
	}
	c, err := Open(fsys)
	if err != nil {
		return nil, fmt.Errorf("ocsf: load %s: %w", version, err)
	}
	return c, nil
}

// Encode returns the files of a catalog, by path, as Open reads them:
// catalog.json, classes/<name>.json and objects/<name>.json, with sorted
// keys and one space of indentation per level so that diffs stay readable.
func (f *File) Encode() (map[string][]byte, error) {
	idx := index{Version: f.Version, Classes: map[int64]string{}, Objects: sortedNames(f.Objects), Profiles: f.Profiles, Types: f.Types}
	out := map[string][]byte{}
	for name, cl := range f.Classes {
		if other, dup := idx.Classes[cl.UID]; dup {
			return nil, fmt.Errorf("ocsf %s: classes %s and %s have the same class_uid %d", f.Version, other, name, cl.UID)
		}
		idx.Classes[cl.UID] = name
	}
	put := func(name string, v any) error {
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		enc.SetIndent("", " ")
		if err := enc.Encode(v); err != nil {
			return fmt.Errorf("ocsf %s: encode %s: %w", f.Version, name, err)
		}
		out[name] = buf.Bytes()
		return nil
	}
	if err := put("catalog.json", idx); err != nil {
		return nil, err
	}
	for name, cl := range f.Classes {
		if err := put(classFile(name), cl); err != nil {
			return nil, err
		}
	}
	for name, o := range f.Objects {
		if err := put(objectFile(name), o); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func classFile(name string) string  { return "classes/" + name + ".json" }
func objectFile(name string) string { return "objects/" + name + ".json" }

// Open reads the catalog of one version from a folder holding the files
// File.Encode writes. Only catalog.json is read now; a class or object is
// read and decoded when first asked for. Those files are generated and
// tested (cmd/ocsf-schemagen), so one that is missing or does not decode is
// a broken build, reported by a panic.
func Open(fsys fs.FS) (*Catalog, error) {
	b, err := fs.ReadFile(fsys, "catalog.json")
	if err != nil {
		return nil, err
	}
	var idx index
	if err := json.Unmarshal(b, &idx); err != nil {
		return nil, fmt.Errorf("catalog.json: %w", err)
	}
	if idx.Version == "" || len(idx.Classes) == 0 {
		return nil, fmt.Errorf("catalog.json has no version or no classes")
	}
	c := &Catalog{
		Version: idx.Version, Profiles: idx.Profiles, classUIDs: idx.Classes, types: idx.Types,
		classes: make(map[string]*lazy[Class], len(idx.Classes)), objects: make(map[string]*lazy[Object], len(idx.Objects)),
	}
	c.scalars = map[string]*Scalar{}
	for name, t := range idx.Types {
		s, err := newScalar(idx.Version, name, t)
		if err != nil {
			return nil, err
		}
		if s != nil {
			c.scalars[name] = s
		}
	}
	for _, name := range idx.Classes {
		c.classes[name] = &lazy[Class]{fsys: fsys, file: classFile(name)}
	}
	for _, name := range idx.Objects {
		c.objects[name] = &lazy[Object]{fsys: fsys, file: objectFile(name)}
	}
	return c, nil
}

// lazy is a class or object of a catalog, read on first use.
type lazy[T any] struct {
	once sync.Once
	fsys fs.FS
	file string
	v    *T
}

func (l *lazy[T]) get(version string, fill func(*T)) *T {
	l.once.Do(func() {
		b, err := fs.ReadFile(l.fsys, l.file)
		v := new(T)
		if err == nil {
			err = json.Unmarshal(b, v)
		}
		if err != nil {
			panic(fmt.Sprintf("ocsf %s: catalog file %s (run make schemas): %v", version, l.file, err))
		}
		fill(v)
		l.v, l.fsys = v, nil
	})
	return l.v
}

func fillNames(attrs map[string]*Attr) {
	for n, a := range attrs {
		a.Name = n
	}
}

// Class returns the class with the given name ("security_finding").
func (c *Catalog) Class(name string) (*Class, bool) {
	l, ok := c.classes[name]
	if !ok {
		return nil, false
	}
	return l.get(c.Version, func(cl *Class) { cl.Name = name; fillNames(cl.Attrs) }), true
}

// ClassByUID returns the class with the given class_uid (2001).
func (c *Catalog) ClassByUID(uid int64) (*Class, bool) {
	name, ok := c.classUIDs[uid]
	if !ok {
		return nil, false
	}
	return c.Class(name)
}

// Object returns the object with the given name ("resource_details").
func (c *Catalog) Object(name string) (*Object, bool) {
	l, ok := c.objects[name]
	if !ok {
		return nil, false
	}
	return l.get(c.Version, func(o *Object) { o.Name = name; fillNames(o.Attrs) }), true
}

// ClassNames lists the catalog's classes, sorted.
func (c *Catalog) ClassNames() []string { return sortedNames(c.classes) }

// ObjectNames lists the catalog's objects, sorted.
func (c *Catalog) ObjectNames() []string { return sortedNames(c.objects) }

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
	cl, ok := c.Class(class)
	if !ok {
		return nil
	}
	return filterAttrs(cl.Attrs, profiles)
}

// ObjectAttrs returns the object's attributes under a profile selection (nil:
// every profile), or nil when there is no such object.
func (c *Catalog) ObjectAttrs(object string, profiles []string) map[string]*Attr {
	o, ok := c.Object(object)
	if !ok {
		return nil
	}
	return filterAttrs(o.Attrs, profiles)
}

// ownerAttrs returns the attributes of a class, or else of an object, by name.
func (c *Catalog) ownerAttrs(owner string) (map[string]*Attr, bool) {
	if cl, ok := c.Class(owner); ok {
		return cl.Attrs, true
	}
	if o, ok := c.Object(owner); ok {
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
