package main

import (
	"fmt"
	"io"

	"github.com/ocsfmap/ocsfmap/engine/diag"
	"github.com/ocsfmap/ocsfmap/engine/plan"
)

func init() {
	register(command{name: "vet", summary: "compile mappings and print their diagnostics", run: runVet})
}

func runVet(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("vet", "MAPPING…", stderr)
	quiet := fs.Bool("q", false, "print errors only, not warnings")
	files, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(files) == 0 {
		return usagef("name at least one mapping file")
	}
	failed := 0
	for _, f := range files {
		_, diags := plan.Load(f)
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
