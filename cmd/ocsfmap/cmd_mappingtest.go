package main

import (
	"fmt"
	"io"

	"github.com/ocsfmap/ocsfmap/engine/mappingtest"
)

func init() {
	register(command{name: "test", summary: "run the mapping tests (*_test.yaml) beside mappings", run: runTest})
}

func runTest(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("test", "[-v] [PATH…] (default: mappings)", stderr)
	verbose := fs.Bool("v", false, "print every test, not only failures")
	paths, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(paths) == 0 {
		paths = []string{"mappings"}
	}
	files, err := mappingtest.Find(paths)
	if err != nil {
		return usageError{err}
	}
	if len(files) == 0 {
		return usagef("no *_test.yaml under %v", paths)
	}
	var passed, failed int
	for _, f := range files {
		results, err := mappingtest.Run(f)
		if err != nil {
			fmt.Fprintf(stdout, "FAIL %s\n    %v\n", f, err)
			failed++
			continue
		}
		fileFailed := 0
		for _, r := range results {
			if r.OK() {
				passed++
				if *verbose {
					fmt.Fprintf(stdout, "ok   %s:%d %s\n", r.File, r.Line, r.Name)
				}
				continue
			}
			failed++
			fileFailed++
			fmt.Fprintf(stdout, "FAIL %s:%d %s\n", r.File, r.Line, r.Name)
			for _, msg := range r.Failures {
				fmt.Fprintf(stdout, "    %s\n", msg)
			}
		}
		if fileFailed == 0 {
			fmt.Fprintf(stdout, "ok   %s (%d tests)\n", f, len(results))
		}
	}
	fmt.Fprintf(stdout, "%d passed, %d failed\n", passed, failed)
	if failed > 0 {
		return exitError{1}
	}
	return nil
}
