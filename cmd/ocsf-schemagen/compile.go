package main

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/ocsfmap/ocsfmap/engine/ocsf"
)

// The merge rules follow the source data's README
// (schemas/ocsf/source/README.md), which restates what ocsf-server
// (lib/schema/cache.ex, json_reader.ex, utils.ex) does. Source
// items are kept as generic JSON maps until the end, because the rules are
// deep merges of arbitrary keys; only the final attributes are typed.

type jmap = map[string]any

// source is one OCSF version folder being compiled.
type source struct {
	root       string // the version folder
	version    string
	dict       jmap            // dictionary.attributes
	types      jmap            // dictionary.types.attributes
	categories jmap            // categories.attributes
	objects    map[string]jmap // raw object files by name
	classes    map[string]jmap // raw event files by name
	profiles   map[string]jmap // raw profile files by name
	files      map[string]jmap // every file read, by path relative to root

	resolvedObjects map[string]jmap
	resolvedClasses map[string]jmap
	resolving       map[string]bool
}

// compileVersion reads one version folder and returns its catalog: every
// concrete event class and every object they reach.
func compileVersion(root string) (*ocsf.File, error) {
	s := &source{
		root: root, objects: map[string]jmap{}, classes: map[string]jmap{}, profiles: map[string]jmap{},
		files: map[string]jmap{}, resolvedObjects: map[string]jmap{}, resolvedClasses: map[string]jmap{},
		resolving: map[string]bool{},
	}
	if err := s.read(); err != nil {
		return nil, err
	}
	return s.catalog()
}

func (s *source) readJSON(rel string) (jmap, error) {
	if m, ok := s.files[rel]; ok {
		return m, nil
	}
	b, err := os.ReadFile(filepath.Join(s.root, filepath.FromSlash(rel)))
	if err != nil {
		return nil, err
	}
	var m jmap
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("parse %s: %w", rel, err)
	}
	s.files[rel] = m
	return m, nil
}

func (s *source) read() error {
	v, err := s.readJSON("version.json")
	if err != nil {
		return err
	}
	s.version, _ = v["version"].(string)
	if s.version == "" {
		return fmt.Errorf("version.json: no version")
	}
	d, err := s.readJSON("dictionary.json")
	if err != nil {
		return err
	}
	s.dict = asMap(d["attributes"])
	s.types = asMap(asMap(d["types"])["attributes"])
	c, err := s.readJSON("categories.json")
	if err != nil {
		return err
	}
	s.categories = asMap(c["attributes"])
	load := func(dir string, into map[string]jmap) error {
		return fs.WalkDir(os.DirFS(s.root), dir, func(p string, e fs.DirEntry, err error) error {
			if err != nil || e.IsDir() || !strings.HasSuffix(p, ".json") {
				return err
			}
			m, err := s.readJSON(p)
			if err != nil {
				return err
			}
			name, _ := m["name"].(string)
			if name == "" {
				name = strings.TrimSuffix(path.Base(p), ".json")
			}
			if _, dup := into[name]; dup {
				return fmt.Errorf("%s: duplicate name %q", p, name)
			}
			into[name] = m
			return nil
		})
	}
	for dir, into := range map[string]map[string]jmap{"objects": s.objects, "events": s.classes, "profiles": s.profiles} {
		if err := load(dir, into); err != nil {
			return fmt.Errorf("read %s: %w", dir, err)
		}
	}
	return nil
}

func asMap(v any) jmap {
	m, _ := v.(jmap)
	return m
}

// deepMerge returns base with over merged on top: over's keys win, nested maps
// merge recursively, and an empty map in over does not erase base's value.
// Neither input is modified.
func deepMerge(base, over jmap) jmap {
	out := make(jmap, len(base)+len(over))
	for k, v := range base {
		out[k] = v
	}
	for k, v := range over {
		om, oIsMap := v.(jmap)
		bm, bIsMap := out[k].(jmap)
		switch {
		case oIsMap && bIsMap:
			out[k] = deepMerge(bm, om)
		case oIsMap && len(om) == 0 && out[k] != nil:
			// keep base
		default:
			out[k] = v
		}
	}
	return out
}

// includes returns the item's attributes with every $include merged in
// (rule 1), profile attributes tagged (rule 2) and attribute-level enum
// fragments applied.
func (s *source) includes(item jmap, where string) (jmap, error) {
	own := asMap(item["attributes"])
	var paths []string
	switch inc := own["$include"].(type) {
	case nil:
	case string:
		paths = []string{inc}
	case []any:
		for _, p := range inc {
			ps, ok := p.(string)
			if !ok {
				return nil, fmt.Errorf("%s: $include: not a string: %v", where, p)
			}
			paths = append(paths, ps)
		}
	default:
		return nil, fmt.Errorf("%s: $include: unexpected %T", where, inc)
	}
	merged := jmap{}
	for _, p := range paths {
		f, err := s.readJSON(p)
		if err != nil {
			return nil, fmt.Errorf("%s: $include: %w", where, err)
		}
		attrs, err := s.includes(f, p)
		if err != nil {
			return nil, err
		}
		ann := asMap(f["annotations"])
		profile := ""
		if f["meta"] == "profile" || strings.HasPrefix(p, "profiles/") {
			profile, _ = f["name"].(string)
			if profile == "" {
				profile = strings.TrimSuffix(path.Base(p), ".json")
			}
		}
		tagged := make(jmap, len(attrs))
		for name, a := range attrs {
			am := asMap(a)
			if am == nil {
				continue
			}
			am = deepMerge(ann, am)
			if profile != "" {
				am["profile"] = profile
			}
			tagged[name] = am
		}
		merged = deepMerge(merged, tagged)
	}
	out := deepMerge(merged, own)
	delete(out, "$include")
	for name, a := range out {
		am := asMap(a)
		inc, ok := am["$include"].(string)
		if !ok {
			continue
		}
		frag, err := s.readJSON(inc)
		if err != nil {
			return nil, fmt.Errorf("%s: attribute %s: $include: %w", where, name, err)
		}
		am = deepMerge(frag, am)
		delete(am, "$include")
		out[name] = am
	}
	return out, nil
}

// resolve applies extends (rule 3) to an object or class, memoized.
func (s *source) resolve(kind, name string) (jmap, error) {
	raw, done := s.objects, s.resolvedObjects
	if kind == "class" {
		raw, done = s.classes, s.resolvedClasses
	}
	if r, ok := done[name]; ok {
		return r, nil
	}
	item, ok := raw[name]
	if !ok {
		return nil, fmt.Errorf("%s %q not found", kind, name)
	}
	key := kind + ":" + name
	if s.resolving[key] {
		return nil, fmt.Errorf("%s %q: extends cycle", kind, name)
	}
	s.resolving[key] = true
	defer delete(s.resolving, key)

	attrs, err := s.includes(item, kind+" "+name)
	if err != nil {
		return nil, err
	}
	out := jmap{}
	for k, v := range item {
		out[k] = v
	}
	if parent, _ := item["extends"].(string); parent != "" {
		p, err := s.resolve(kind, parent)
		if err != nil {
			return nil, fmt.Errorf("%s %q extends: %w", kind, name, err)
		}
		for k, v := range p {
			switch k {
			case "attributes", "uid", "name", "caption", "description", "extends":
			case "profiles":
				out[k] = append(append([]any{}, asSlice(v)...), asSlice(item[k])...)
			default:
				if _, own := item[k]; !own {
					out[k] = v
				}
			}
		}
		attrs = mergeAttrs(asMap(p["attributes"]), attrs)
	}
	out["attributes"] = attrs
	done[name] = out
	return out, nil
}

// mergeAttrs merges child attributes over the parent's; a child attribute
// set to null removes the parent's.
func mergeAttrs(parent, child jmap) jmap {
	out := make(jmap, len(parent)+len(child))
	for k, v := range parent {
		out[k] = v
	}
	for k, v := range child {
		if v == nil {
			delete(out, k)
			continue
		}
		if pm := asMap(out[k]); pm != nil {
			out[k] = deepMerge(pm, asMap(v))
		} else {
			out[k] = v
		}
	}
	return out
}

func asSlice(v any) []any {
	s, _ := v.([]any)
	return s
}

// baseType reduces a declared type to its primitive (rc.2 lists a few
// derived types without a base: those are strings).
func (s *source) baseType(t string) (string, bool) {
	for range 8 {
		switch t {
		case ocsf.StringType, ocsf.IntegerType, ocsf.LongType, ocsf.FloatType, ocsf.BooleanType, ocsf.JSONType, ocsf.ObjectType:
			return t, true
		}
		def := asMap(s.types[t])
		if def == nil {
			return "", false
		}
		next, _ := def["type"].(string)
		if next == "" {
			return ocsf.StringType, true
		}
		t = next
	}
	return "", false
}

// attrs turns an item's merged attributes into catalog attributes, merging
// each on top of its dictionary entry (rule 4).
func (s *source) attrs(owner string, raw jmap) (map[string]*ocsf.Attr, []string, error) {
	out := map[string]*ocsf.Attr{}
	var objs []string
	names := sortedKeys(raw)
	for _, name := range names {
		am := asMap(raw[name])
		if am == nil {
			continue
		}
		d := asMap(s.dict[name])
		if d == nil {
			return nil, nil, fmt.Errorf("%s.%s: not in the dictionary", owner, name)
		}
		m := deepMerge(d, am)
		a, err := s.attr(owner, name, m)
		if err != nil {
			return nil, nil, err
		}
		out[name] = a
		if a.BaseType == ocsf.ObjectType {
			objs = append(objs, a.Object)
		}
	}
	// Rule 7: every timestamp_t X gets an optional X_dt (datetime profile).
	if _, ok := s.profiles["datetime"]; ok {
		for _, name := range names {
			a := out[name]
			if a == nil || a.Type != "timestamp_t" {
				continue
			}
			dt := name + "_dt"
			if _, exists := out[dt]; exists {
				continue
			}
			out[dt] = &ocsf.Attr{
				Name: dt, Caption: a.Caption, Type: "datetime_t", BaseType: ocsf.StringType,
				IsArray: a.IsArray, Requirement: ocsf.Optional, Profile: "datetime", Deprecated: a.Deprecated,
			}
		}
	}
	return out, objs, nil
}

func (s *source) attr(owner, name string, m jmap) (*ocsf.Attr, error) {
	t, _ := m["type"].(string)
	if t == "" {
		return nil, fmt.Errorf("%s.%s: no type", owner, name)
	}
	a := &ocsf.Attr{Name: name, Type: t, Requirement: ocsf.Optional}
	a.Caption, _ = m["caption"].(string)
	a.IsArray, _ = m["is_array"].(bool)
	a.Sibling, _ = m["sibling"].(string)
	a.Profile, _ = m["profile"].(string)
	if r, _ := m["requirement"].(string); r != "" {
		switch ocsf.Requirement(r) {
		case ocsf.Required, ocsf.Recommended, ocsf.Optional:
			a.Requirement = ocsf.Requirement(r)
		default:
			return nil, fmt.Errorf("%s.%s: unknown requirement %q", owner, name, r)
		}
	}
	a.Deprecated = deprecation(m)
	if base, ok := s.baseType(t); ok {
		a.BaseType = base
	} else if _, isObj := s.objects[t]; isObj {
		a.BaseType, a.Object = ocsf.ObjectType, t
	} else {
		return nil, fmt.Errorf("%s.%s: unknown type %q", owner, name, t)
	}
	if e := asMap(m["enum"]); len(e) > 0 {
		switch a.BaseType {
		case ocsf.IntegerType, ocsf.LongType:
			a.Enum = map[int64]string{}
			for k, v := range e {
				id, err := strconv.ParseInt(k, 10, 64)
				if err != nil {
					return nil, fmt.Errorf("%s.%s: enum key %q: %w", owner, name, k, err)
				}
				a.Enum[id], _ = asMap(v)["caption"].(string)
			}
		case ocsf.StringType:
			a.StrEnum = sortedKeys(e)
		}
	}
	return a, nil
}

func deprecation(m jmap) *ocsf.Deprecation {
	d := asMap(m["@deprecated"])
	if d == nil {
		return nil
	}
	out := &ocsf.Deprecation{}
	out.Message, _ = d["message"].(string)
	out.Since, _ = d["since"].(string)
	return out
}

func constraints(m jmap) *ocsf.Constraints {
	c := asMap(m["constraints"])
	if c == nil {
		return nil
	}
	out := &ocsf.Constraints{}
	for _, v := range asSlice(c["at_least_one"]) {
		out.AtLeastOne = append(out.AtLeastOne, fmt.Sprint(v))
	}
	for _, v := range asSlice(c["just_one"]) {
		out.JustOne = append(out.JustOne, fmt.Sprint(v))
	}
	if out.AtLeastOne == nil && out.JustOne == nil {
		return nil
	}
	return out
}

func profileList(m jmap) []string {
	seen := map[string]bool{}
	var out []string
	for _, p := range asSlice(m["profiles"]) {
		if ps, ok := p.(string); ok && !seen[ps] {
			seen[ps] = true
			out = append(out, ps)
		}
	}
	sort.Strings(out)
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// catalog builds the compact catalog of every concrete event class (those
// with a uid, and base_event: ocsf-server's class 0 of category "other")
// and every object they reach.
func (s *source) catalog() (*ocsf.File, error) {
	cat := &ocsf.File{Version: s.version, Classes: map[string]*ocsf.Class{}, Objects: map[string]*ocsf.Object{}}
	cat.Profiles = sortedKeys(s.profiles)
	types, err := s.scalarTypes()
	if err != nil {
		return nil, err
	}
	cat.Types = types
	var pending []string
	for _, name := range sortedKeys(s.classes) {
		uid, ok := s.classes[name]["uid"]
		if (!ok || uid == nil) && name != baseEvent {
			continue // abstract (finding, findings, the category bases)
		}
		r, err := s.resolve("class", name)
		if err != nil {
			return nil, err
		}
		catName, _ := r["category"].(string)
		catUID, catCaption, err := s.category(catName)
		if err != nil {
			return nil, fmt.Errorf("class %s: %w", name, err)
		}
		cls := &ocsf.Class{
			Name: name, UID: catUID*1000 + toInt(uid), CategoryUID: catUID, CategoryName: catCaption,
			Profiles: profileList(r), Constraints: constraints(r), Deprecated: deprecation(r),
		}
		cls.Caption, _ = r["caption"].(string)
		attrs, objs, err := s.attrs("class "+name, asMap(r["attributes"]))
		if err != nil {
			return nil, err
		}
		cls.Attrs = attrs
		s.classifyUIDs(cls)
		cat.Classes[name] = cls
		pending = append(pending, objs...)
	}
	if len(cat.Classes) == 0 {
		return nil, fmt.Errorf("no event classes")
	}
	for len(pending) > 0 {
		name := pending[len(pending)-1]
		pending = pending[:len(pending)-1]
		if _, done := cat.Objects[name]; done {
			continue
		}
		r, err := s.resolve("object", name)
		if err != nil {
			return nil, err
		}
		obj := &ocsf.Object{Name: name, Profiles: profileList(r), Constraints: constraints(r), Deprecated: deprecation(r)}
		obj.Caption, _ = r["caption"].(string)
		attrs, objs, err := s.attrs("object "+name, asMap(r["attributes"]))
		if err != nil {
			return nil, err
		}
		obj.Attrs = attrs
		cat.Objects[name] = obj
		pending = append(pending, objs...)
	}
	if obs := cat.Objects["observable"]; obs != nil {
		if err := s.observableTypes(obs); err != nil {
			return nil, err
		}
	}
	return cat, nil
}

// scalarTypes returns dictionary.json's scalar types with what each
// constrains (regex, max_len, range), as the version writes them.
func (s *source) scalarTypes() (map[string]*ocsf.Type, error) {
	out := map[string]*ocsf.Type{}
	for _, name := range sortedKeys(s.types) {
		m := asMap(s.types[name])
		t := &ocsf.Type{}
		t.Base, _ = m["type"].(string)
		t.Regex, _ = m["regex"].(string)
		if n, ok := m["max_len"]; ok {
			t.MaxLen = int(toInt(n))
		}
		if r := asSlice(m["range"]); r != nil {
			if len(r) != 2 {
				return nil, fmt.Errorf("type %s: range %v is not [low, high]", name, r)
			}
			t.Range = []int64{toInt(r[0]), toInt(r[1])}
		}
		out[name] = t
	}
	return out, nil
}

// baseEvent is the generic event class: it has no uid in the source and
// belongs to no category of categories.json; ocsf-server lists it as class 0
// of category 0, "Other".
const baseEvent = "base_event"

// category returns a category's uid and caption.
func (s *source) category(name string) (int64, string, error) {
	if name == "other" {
		if _, defined := s.categories[name]; !defined {
			return 0, "Other", nil
		}
	}
	c := asMap(s.categories[name])
	if c == nil {
		return 0, "", fmt.Errorf("category %q is not in categories.json", name)
	}
	caption, _ := c["caption"].(string)
	return toInt(c["uid"]), caption, nil
}

// classifyUIDs applies rule 6: class_uid and category_uid become the single
// computed value, type_uid enumerates class_uid*100 + activity_id.
func (s *source) classifyUIDs(c *ocsf.Class) {
	if a := c.Attrs["class_uid"]; a != nil {
		a.Enum = map[int64]string{c.UID: c.Caption}
	}
	if a := c.Attrs["category_uid"]; a != nil {
		a.Enum = map[int64]string{c.CategoryUID: c.CategoryName}
	}
	act, typ := c.Attrs["activity_id"], c.Attrs["type_uid"]
	if act != nil && typ != nil {
		typ.Enum = map[int64]string{}
		for id, caption := range act.Enum {
			typ.Enum[c.UID*100+id] = c.Caption + ": " + caption
		}
	}
}

// observableTypes builds the observable.type_id enum (rule 9) from the
// dictionary types, dictionary attributes, objects and classes that declare
// an observable type id.
func (s *source) observableTypes(obs *ocsf.Object) error {
	a := obs.Attrs["type_id"]
	if a == nil {
		return fmt.Errorf("object observable: no type_id")
	}
	if a.Enum == nil {
		a.Enum = map[int64]string{}
	}
	add := func(v any, caption string) {
		if v == nil {
			return
		}
		id := toInt(v)
		if _, ok := a.Enum[id]; !ok {
			a.Enum[id] = caption
		}
	}
	for _, group := range []jmap{s.types, s.dict} {
		for _, name := range sortedKeys(group) {
			m := asMap(group[name])
			caption, _ := m["caption"].(string)
			add(m["observable"], caption)
		}
	}
	items := func(raw map[string]jmap) {
		for _, name := range sortedKeys(raw) {
			m := raw[name]
			caption, _ := m["caption"].(string)
			add(m["observable"], caption)
			attrs := asMap(m["attributes"])
			for _, an := range sortedKeys(attrs) {
				am := asMap(attrs[an])
				add(am["observable"], caption+": "+an)
			}
			obsMap := asMap(m["observables"])
			for _, p := range sortedKeys(obsMap) {
				add(obsMap[p], caption+": "+p)
			}
		}
	}
	items(s.objects)
	items(s.classes)
	return nil
}

func toInt(v any) int64 {
	switch n := v.(type) {
	case float64:
		return int64(n)
	case json.Number:
		i, _ := n.Int64()
		return i
	case string:
		i, _ := strconv.ParseInt(n, 10, 64)
		return i
	}
	return 0
}
