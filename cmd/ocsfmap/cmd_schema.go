package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/ocsfmap/ocsfmap/engine/ocsf"
)

func init() {
	register(command{
		name:    "schema",
		summary: "print the JSON Schema of an OCSF class (--ocsf, --class, --profiles)",
		run:     runSchema,
	})
}

// mappingSchema prints the schema of a mapping's output (-m MAPPING
// --format arrow|glue|json). It is set by the file that implements it; while
// nil, -m is a usage error.
var mappingSchema func(path, format string, w io.Writer) error

func runSchema(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("schema", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var version, class, profiles, mapping, format string
	fs.StringVar(&version, "ocsf", "", "OCSF version, e.g. 1.1.0 (embedded: "+strings.Join(ocsf.Versions(), ", ")+")")
	fs.StringVar(&class, "class", "", "OCSF class name, e.g. security_finding")
	fs.StringVar(&profiles, "profiles", "", "comma-separated profiles to apply (default: every profile, like ocsf-server)")
	fs.StringVar(&mapping, "m", "", "mapping file: print the schema of its output")
	fs.StringVar(&mapping, "mapping", "", "same as -m")
	fs.StringVar(&format, "format", "", "with -m: output format (arrow, glue)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: ocsfmap schema --ocsf VERSION --class CLASS [--profiles p1,p2]")
		fmt.Fprintln(stderr, "       ocsfmap schema -m MAPPING [--format arrow|glue]")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return usageError{err}
	}
	if fs.NArg() > 0 {
		return usagef("unexpected argument %q", fs.Arg(0))
	}
	if mapping != "" {
		if version != "" || class != "" || profiles != "" {
			return usagef("-m cannot be combined with --ocsf, --class or --profiles")
		}
		if mappingSchema == nil {
			return usagef("schema -m: not yet available in this build")
		}
		return mappingSchema(mapping, format, stdout)
	}
	if format != "" {
		return usagef("--format needs -m MAPPING")
	}
	if version == "" || class == "" {
		return usagef("--ocsf and --class are required")
	}
	cat, err := ocsf.Load(version)
	if err != nil {
		return usageError{err}
	}
	if _, ok := cat.Class(class); !ok {
		msg := fmt.Sprintf("OCSF %s has no class %q (have %s)", version, class, strings.Join(cat.ClassNames(), ", "))
		return usagef("%s", msg)
	}
	var sel []string // nil: every profile
	if profiles != "" {
		known := map[string]bool{}
		for _, p := range cat.Profiles {
			known[p] = true
		}
		for _, p := range strings.Split(profiles, ",") {
			p = strings.TrimSpace(p)
			if p == "" {
				continue
			}
			if !known[p] {
				return usagef("OCSF %s has no profile %q (have %s)", version, p, strings.Join(cat.Profiles, ", "))
			}
			sel = append(sel, p)
		}
		if sel == nil {
			sel = []string{}
		}
	}
	b, err := cat.JSONSchema(class, sel)
	if err != nil {
		return err
	}
	_, err = stdout.Write(b)
	return err
}
