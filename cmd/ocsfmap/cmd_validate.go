package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/ocsfmap/ocsfmap/engine/conformance"
)

func init() {
	register(command{name: "validate", summary: "check OCSF records from any producer (NDJSON, Parquet, a Security Lake folder)", run: runValidate})
}

// runValidate prints one line per problem on stdout and a summary on
// stderr (with --json: one JSON object per problem, then {"summary": …},
// all on stdout). Exit status 1 when anything is wrong.
func runValidate(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("validate", "[--ocsf V] [--class C] [--profiles P] [--json] FILE|DIR|-…", stderr)
	version := fs.String("ocsf", "", "OCSF version of every record (default: each record's metadata.version)")
	class := fs.String("class", "", "class name or uid of every record (default: each record's class_uid)")
	profiles := fs.String("profiles", "", "comma-separated profiles of every record, \"\" for none when given (default: each record's metadata.profiles)")
	asJSON := fs.Bool("json", false, "print problems and the summary as JSON lines")
	paths, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(paths) == 0 {
		return usagef("name at least one file or folder (NDJSON, .gz, Parquet, or a Security Lake folder), or - for NDJSON on stdin")
	}
	for _, p := range paths {
		if p == "-" {
			continue // NDJSON on stdin
		}
		if _, err := os.Stat(p); err != nil {
			return usageError{err}
		}
	}
	opts := conformance.Options{Version: *version, Class: *class}
	profilesSet := false
	fs.Visit(func(f *flag.Flag) { profilesSet = profilesSet || f.Name == "profiles" })
	if profilesSet {
		opts.Profiles = []string{}
		for _, p := range strings.Split(*profiles, ",") {
			if p = strings.TrimSpace(p); p != "" {
				opts.Profiles = append(opts.Profiles, p)
			}
		}
	}
	out := bufio.NewWriterSize(stdout, 64<<10)
	defer out.Flush()
	enc := json.NewEncoder(out)
	enc.SetEscapeHTML(false)
	report := func(p conformance.Problem) {
		if *asJSON {
			enc.Encode(p)
			return
		}
		fmt.Fprintln(out, p.String())
	}
	c, err := conformance.New(opts, report)
	if err != nil {
		return usageError{err}
	}
	start := time.Now()
	for _, p := range paths {
		if p == "-" {
			c.CheckNDJSON("<stdin>", stdin)
			continue
		}
		if err := c.Check(p); err != nil {
			return err
		}
	}
	s := c.Summary()
	elapsed := time.Since(start)
	if *asJSON {
		enc.Encode(map[string]any{"summary": s})
	} else {
		out.Flush()
		fmt.Fprint(stderr, summaryText(s, elapsed))
	}
	if s.Problems > 0 {
		return exitError{1}
	}
	return nil
}

func summaryText(s conformance.Summary, elapsed time.Duration) string {
	var b strings.Builder
	rate := float64(s.Records) / max(elapsed.Seconds(), 1e-9)
	fmt.Fprintf(&b, "%d files, %d records, %d invalid, %d problems in %.2fs (%.0f records/s)\n",
		s.Files, s.Records, s.Invalid, s.Problems, elapsed.Seconds(), rate)
	for _, r := range s.SortedRules() {
		fmt.Fprintf(&b, "  %-22s %d\n", r, s.Rules[r])
	}
	if s.Problems == 0 {
		b.WriteString("ok\n")
	}
	return b.String()
}
