// Command ocsf-schemagen compiles the OCSF source data (the ocsf-schema
// repository's files for each version, given with -src)
// into the artifacts the engine embeds: per version, schemas/ocsf/<version>/
// catalog.json (the compact catalog engine/ocsf loads) and one
// <class>.schema.json per Findings class (every profile applied).
//
//	make schemas   # go run ./cmd/ocsf-schemagen -src <ocsf source folder> -out schemas
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"path"
	"path/filepath"
	"strings"

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
			if err := os.WriteFile(filepath.Join(dir, name), files[name], 0o644); err != nil {
				return err
			}
		}
		slog.Info("compiled", "version", v, "files", len(files), "dir", dir)
	}
	return nil
}

// generate compiles one version and returns its files by name.
func generate(src, version string) (map[string][]byte, error) {
	cat, err := compileVersion(filepath.Join(src, version))
	if err != nil {
		return nil, fmt.Errorf("compile %s: %w", version, err)
	}
	if cat.Version != version {
		return nil, fmt.Errorf("compile %s: version.json says %s", version, cat.Version)
	}
	files := map[string][]byte{}
	b, err := encodeCatalog(cat)
	if err != nil {
		return nil, fmt.Errorf("encode %s catalog: %w", version, err)
	}
	files["catalog.json"] = b
	for _, name := range cat.ClassNames() {
		s, err := cat.JSONSchema(name, nil)
		if err != nil {
			return nil, err
		}
		files[path.Base(name)+".schema.json"] = s
	}
	return files, nil
}

// encodeCatalog writes the catalog with sorted keys (encoding/json sorts map
// keys) and one level of indentation per nesting, without HTML escaping.
func encodeCatalog(c *ocsf.Catalog) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", " ")
	if err := enc.Encode(c); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
