package main

import (
	"bytes"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

// TestCommittedUpToDate fails when schemas/ocsf differs from what the
// generator produces now: nobody hand-edits generated files, and a change
// to the generator or the engine's JSON Schema encoder needs `make schemas`.
func TestCommittedUpToDate(t *testing.T) {
	src := sourceDir(t)
	committed := filepath.Join("..", "..", "schemas", "ocsf")
	for _, v := range defaultVersions {
		files, err := generate(src, v)
		if err != nil {
			t.Fatal(err)
		}
		dir := filepath.Join(committed, v)
		err = filepath.WalkDir(dir, func(p string, e fs.DirEntry, err error) error {
			if err != nil || e.IsDir() {
				return err
			}
			rel, _ := filepath.Rel(dir, p)
			if _, ok := files[filepath.ToSlash(rel)]; !ok {
				t.Errorf("%s/%s is committed but not generated (run make schemas)", v, filepath.ToSlash(rel))
			}
			return nil
		})
		if err != nil {
			t.Fatalf("%s: %v (run make schemas)", v, err)
		}
		for name, want := range files {
			got, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(name)))
			if err != nil {
				t.Errorf("%s/%s: %v (run make schemas)", v, name, err)
				continue
			}
			if !bytes.Equal(got, want) {
				t.Errorf("%s/%s differs from the generator's output (run make schemas; never edit it by hand)", v, name)
			}
		}
	}
}

func TestDeepMerge(t *testing.T) {
	base := jmap{"a": jmap{"x": 1.0, "y": 2.0}, "b": "keep", "c": jmap{"k": 1.0}}
	over := jmap{"a": jmap{"y": 3.0}, "c": jmap{}, "d": nil}
	got := deepMerge(base, over)
	a := got["a"].(jmap)
	if a["x"] != 1.0 || a["y"] != 3.0 || got["b"] != "keep" || got["c"].(jmap)["k"] != 1.0 {
		t.Fatalf("deepMerge = %v", got)
	}
	if v, ok := got["d"]; !ok || v != nil {
		t.Fatalf("explicit null not kept: %v", got)
	}
	if base["a"].(jmap)["y"] != 2.0 {
		t.Fatal("deepMerge modified its input")
	}
	m := mergeAttrs(jmap{"p": jmap{"requirement": "required"}, "q": jmap{}}, jmap{"q": nil, "p": jmap{"requirement": "optional"}})
	if _, ok := m["q"]; ok || m["p"].(jmap)["requirement"] != "optional" {
		t.Fatalf("mergeAttrs = %v", m)
	}
}
