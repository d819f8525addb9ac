// Command ocsf-schemagen compiles the OCSF source data (the ocsf-schema
// repository's files for each version, given with -src; the repository
// carries them in schemas/ocsf/source) into the artifacts the engine
// embeds: per version, schemas/ocsf/<version>/ catalog.json with
// classes/<class>.json and objects/<object>.json (the compact catalog
// engine/ocsf loads: every event class, every object they reach, the
// scalar types) and one <class>.schema.json per event class (every profile
// applied).
//
//	make schemas   # go run ./cmd/ocsf-schemagen -src schemas/ocsf/source -out schemas
package main

import (
	"flag"
	"fmt"
	"log/slog"
	"os"
	"path"
	"path/filepath"
	"strings"
	"testing/fstest"

	"github.com/ocsfmap/ocsfmap/engine/ocsf"
)

// defaultVersions are the OCSF versions the project ships.
var defaultVersions = []string{"1.0.0-rc.2", "1.0.0", "1.1.0", "1.3.0", "1.8.0"}

func main() {
	src := flag.String("src", "", "folder holding one OCSF source folder per version (required; make schemas passes it)")
	out := flag.String("out", "schemas", "output folder (files go to <out>/ocsf/<version>/)")
	versions := flag.String("versions", strings.Join(defaultVersions, ","), "comma-separated versions to compile")
	flag.Parse()
	if *src == "" {
		fmt.Fprintln(os.Stderr, "ocsf-schemagen: -src is required")
		os.Exit(2)
	}
	if err := run(*src, *out, strings.Split(*versions, ",")); err != nil {
		fmt.Fprintln(os.Stderr, "ocsf-schemagen:", err)
		os.Exit(1)
	}
}

func run(src, out string, versions []string) error {
	for _, v := range versions {
		files, err := generate(src, v)
		if err != nil {
			return err
		}
		dir := filepath.Join(out, "ocsf", v)
		// Start from an empty folder so a class that disappears leaves no stale file.
		if err := os.RemoveAll(dir); err != nil {
			return err
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
		for _, name := range sortedKeys(files) {
			file := filepath.Join(dir, filepath.FromSlash(name))
			if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
				return err
			}
			if err := os.WriteFile(file, files[name], 0o644); err != nil {
				return err
			}
		}
		slog.Info("compiled", "version", v, "files", len(files), "dir", dir)
	}
	return nil
}

// generate compiles one version and returns its files by name.
func generate(src, version string) (map[string][]byte, error) {
	f, err := compileVersion(filepath.Join(src, version))
	if err != nil {
		return nil, fmt.Errorf("compile %s: %w", version, err)
	}
	if f.Version != version {
		return nil, fmt.Errorf("compile %s: version.json says %s", version, f.Version)
	}
	files, err := f.Encode()
	if err != nil {
		return nil, err
	}
	// The schemas come from the catalog as the engine reads it, so they are
	// what the engine validates against.
	fsys := fstest.MapFS{}
	for name, b := range files {
		fsys[name] = &fstest.MapFile{Data: b}
	}
	cat, err := ocsf.Open(fsys)
	if err != nil {
		return nil, fmt.Errorf("read %s catalog: %w", version, err)
	}
	for _, name := range cat.ClassNames() {
		s, err := cat.JSONSchema(name, nil)
		if err != nil {
			return nil, err
		}
		files[path.Base(name)+".schema.json"] = s
	}
	return files, nil
}
