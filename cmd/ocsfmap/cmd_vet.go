package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/ocsfmap/ocsfmap/engine"
	"github.com/ocsfmap/ocsfmap/engine/diag"
	"github.com/ocsfmap/ocsfmap/engine/plan"
)

func init() {
	register(command{name: "vet", summary: "compile mappings and print their diagnostics", run: runVet})
}

func runVet(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("vet", "MAPPING|INTEGRATION|DIR…", stderr)
	quiet := fs.Bool("q", false, "print errors only, not warnings")
	files, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(files) == 0 {
		return usagef("name at least one mapping file or folder")
	}
	if files, err = mappingFiles(files); err != nil {
		return usageError{err}
	}
	failed := 0
	for _, f := range files {
		var diags diag.List
		if isIntegrationFile(f) {
			diags = vetIntegration(f)
		} else {
			_, diags = plan.Load(f)
		}
		var shown diag.List
		for _, d := range diags {
			if d.Severity == diag.Error || !*quiet {
				shown = append(shown, d)
			}
		}
		fmt.Fprint(stdout, shown.Render())
		if diags.HasErrors() {
			failed++
			fmt.Fprintf(stdout, "FAIL %s: %d error(s)\n", f, countErrors(diags))
		} else {
			fmt.Fprintf(stdout, "ok   %s\n", f)
		}
	}
	if failed > 0 {
		return exitError{1}
	}
	return nil
}

// isIntegrationFile tells an integration file from a mapping: it names a
// destination at its top level.
func isIntegrationFile(path string) bool {
	src, err := os.ReadFile(path)
	return err == nil && integrationKey.Match(src)
}

var integrationKey = regexp.MustCompile(`(?m)^destination:`)

// vetIntegration checks an integration file, its alert rules (with their
// warnings, such as C123), the mapping it names and where each class the
// mapping emits goes: every problem the loader of serve and the Lambda
// would find, and the warnings.
func vetIntegration(path string) diag.List {
	in, err := engine.LoadIntegration(path)
	var le *engine.LoadError
	switch {
	case err == nil:
		return in.Warnings()
	case errors.As(err, &le) && le.Diags.HasErrors():
		return le.Diags
	case errors.As(err, &le):
		// Not a diagnostic (every rule disabled, a mapping that cannot be
		// read): one error, and the warnings found on the way.
		return append(le.Diags, diag.Diagnostic{Severity: diag.Error, Code: "C100", Message: le.Error(), Pos: diag.Pos{File: path}})
	}
	return diag.List{{Severity: diag.Error, Code: "C100", Message: err.Error(), Pos: diag.Pos{File: path}}}
}

// mappingFiles expands folders to the mapping files in them and leaves out
// mapping tests (*_test.yaml, run by ocsfmap test), so "vet dir/*.yaml" works.
func mappingFiles(args []string) ([]string, error) {
	var out []string
	for _, a := range args {
		st, err := os.Stat(a)
		if err != nil {
			return nil, err
		}
		if !st.IsDir() {
			if !strings.HasSuffix(a, "_test.yaml") {
				out = append(out, a)
			}
			continue
		}
		err = filepath.WalkDir(a, func(p string, d os.DirEntry, err error) error {
			if err == nil && !d.IsDir() && (strings.HasSuffix(p, ".yaml") || strings.HasSuffix(p, ".yml")) && !strings.HasSuffix(p, "_test.yaml") {
				out = append(out, p)
			}
			return err
		})
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}
