package main

import (
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/ocsfmap/ocsfmap/engine/ocsf"
)

// TestConstraintsMatchSource checks, for the eight class schemas the issue
// names, that every object's and class's oneOf/anyOf is what the raw OCSF
// files say, read here without the generator's merge code: the item's own
// "constraints", else its nearest extends ancestor's, restricted to the
// attributes the schema has (ocsf-server drops the others).
func TestConstraintsMatchSource(t *testing.T) {
	src := sourceDir(t)
	cases := []struct {
		version, class string
		profiles       []string
	}{
		{"1.0.0-rc.2", "security_finding", nil},
		{"1.0.0", "security_finding", nil},
		{"1.1.0", "security_finding", nil},
		{"1.3.0", "security_finding", nil},
		{"1.8.0", "security_finding", nil},
		{"1.3.0", "data_security_finding", nil},
		{"1.3.0", "security_finding", []string{"cloud", "datetime"}},
		{"1.3.0", "data_security_finding", []string{"cloud", "datetime"}},
	}
	total := 0
	for _, tc := range cases {
		raw := rawItems(t, filepath.Join(src, tc.version))
		cat, err := ocsf.Load(tc.version)
		if err != nil {
			t.Fatal(err)
		}
		b, err := cat.JSONSchema(tc.class, tc.profiles)
		if err != nil {
			t.Fatal(err)
		}
		var schema map[string]any
		if err := json.Unmarshal(b, &schema); err != nil {
			t.Fatal(err)
		}
		items := map[string]map[string]any{"class " + tc.class: schema}
		for name, d := range schema["$defs"].(map[string]any) {
			items[name] = d.(map[string]any)
		}
		for name, def := range items {
			key := strings.TrimPrefix(name, "class ")
			props, _ := def["properties"].(map[string]any)
			justOne, atLeastOne := raw.constraints(key)
			justOne = present(justOne, props, nil)
			atLeastOne = present(atLeastOne, props, justOne)
			where := tc.version + " " + tc.class + " " + strings.Join(tc.profiles, ",") + ": " + name
			if got := branches(def["oneOf"]); !slices.Equal(got, justOne) {
				t.Errorf("%s: oneOf names %v, the source's just_one %v", where, got, justOne)
			}
			if got := branches(def["anyOf"]); !slices.Equal(got, atLeastOne) {
				t.Errorf("%s: anyOf names %v, the source's at_least_one %v", where, got, atLeastOne)
			}
			for _, a := range append(slices.Clone(justOne), atLeastOne...) {
				if req, _ := def["required"].([]any); slices.Contains(req, any(a)) {
					t.Errorf("%s: %s is both constrained and required", where, a)
				}
			}
			if len(justOne) > 0 || len(atLeastOne) > 0 {
				total++
			}
		}
	}
	// Issue 14: an independent compiler of the same source data found 199
	// objects and classes whose constraints the schemas lacked.
	if total != 199 {
		t.Errorf("%d constrained objects and classes over the eight schemas, want 199", total)
	}
}

// rawSource indexes the raw object and class files of one version by name.
type rawSource map[string]map[string]any

func rawItems(t *testing.T, root string) rawSource {
	t.Helper()
	out := rawSource{}
	for _, dir := range []string{"objects", "events"} {
		err := fs.WalkDir(os.DirFS(root), dir, func(p string, e fs.DirEntry, err error) error {
			if err != nil || e.IsDir() || !strings.HasSuffix(p, ".json") {
				return err
			}
			b, err := os.ReadFile(filepath.Join(root, p))
			if err != nil {
				return err
			}
			var m map[string]any
			if err := json.Unmarshal(b, &m); err != nil {
				return err
			}
			name, _ := m["name"].(string)
			if dir == "events" {
				name = "class:" + name
			}
			out[name] = m
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// constraints follows extends from an object (or, failing that, a class)
// to the nearest item that declares constraints.
func (r rawSource) constraints(name string) (justOne, atLeastOne []string) {
	item, ok := r[name]
	prefix := ""
	if !ok {
		item, prefix = r["class:"+name], "class:"
	}
	for range 10 {
		if item == nil {
			return nil, nil
		}
		if c, ok := item["constraints"].(map[string]any); ok {
			return strList(c["just_one"]), strList(c["at_least_one"])
		}
		parent, _ := item["extends"].(string)
		item = r[prefix+parent]
	}
	return nil, nil
}

func strList(v any) []string {
	var out []string
	for _, s := range asSlice(v) {
		out = append(out, s.(string))
	}
	return out
}

func present(names []string, props map[string]any, skip []string) []string {
	var out []string
	for _, n := range names {
		if _, ok := props[n]; ok && !slices.Contains(skip, n) {
			out = append(out, n)
		}
	}
	sort.Strings(out)
	return out
}

// branches returns the attribute each oneOf/anyOf branch requires, sorted.
func branches(v any) []string {
	var out []string
	for _, b := range asSlice(v) {
		req := asSlice(b.(map[string]any)["required"])
		out = append(out, req[0].(string))
	}
	sort.Strings(out)
	return out
}

// sourceDir is the OCSF source data the tests read: the copy the
// repository carries (schemas/ocsf/source, make schemas' default), or
// OCSF_SCHEMA_SRC.
func sourceDir(t *testing.T) string {
	t.Helper()
	src := os.Getenv("OCSF_SCHEMA_SRC")
	if src == "" {
		src = filepath.Join("..", "..", "schemas", "ocsf", "source")
	}
	if _, err := os.Stat(filepath.Join(src, "1.1.0")); err != nil {
		t.Fatalf("OCSF source data not found (%v): set OCSF_SCHEMA_SRC", err)
	}
	return src
}
