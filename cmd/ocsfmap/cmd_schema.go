package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/ocsfmap/ocsfmap/engine/columnar"
	"github.com/ocsfmap/ocsfmap/engine/ocsf"
)

func init() {
	register(command{
		name:    "schema",
		summary: "list OCSF classes, print a class's JSON Schema, or a mapping's Arrow schema / Glue DDL (-m)",
		run:     runSchema,
	})
}

func runSchema(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("schema", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var version, class, profiles, mapping, format, path string
	var list bool
	fs.StringVar(&version, "ocsf", "", "OCSF version, e.g. 1.1.0 (embedded: "+strings.Join(ocsf.Versions(), ", ")+")")
	fs.StringVar(&class, "class", "", "OCSF class name, e.g. security_finding")
	fs.BoolVar(&list, "list", false, "list the classes of --ocsf VERSION (default: of every embedded version): uid, name, caption, category")
	fs.StringVar(&profiles, "profiles", "", "comma-separated profiles to apply (default: every profile, like ocsf-server)")
	fs.StringVar(&mapping, "m", "", "mapping file: print the schema of its output")
	fs.StringVar(&mapping, "mapping", "", "same as -m")
	fs.StringVar(&format, "format", "", "with -m: arrow (the Parquet files' schema, the default), glue (Athena/Glue DDL) or json (the JSON Schema records are validated against); with --class: json (the default) or table (the attributes, their types, requirements and enums)")
	fs.StringVar(&path, "path", "", "with --class --format table: the attributes of the object at this path instead (e.g. finding_info, resources.owner)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: ocsfmap schema --list [--ocsf VERSION]")
		fmt.Fprintln(stderr, "       ocsfmap schema --ocsf VERSION --class CLASS [--profiles p1,p2] [--format json|table [--path OBJECT.PATH]]")
		fmt.Fprintln(stderr, "       ocsfmap schema -m MAPPING [--format arrow|glue|json]")
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
	if list {
		if mapping != "" || class != "" || profiles != "" {
			return usagef("--list cannot be combined with -m, --class or --profiles")
		}
		return listClasses(version, stdout)
	}
	if mapping != "" {
		if version != "" || class != "" || profiles != "" {
			return usagef("-m cannot be combined with --ocsf, --class or --profiles")
		}
		if format == "" {
			format = "arrow"
		}
		return printMappingSchema(mapping, format, stdout, stderr)
	}
	switch {
	case format != "" && format != "json" && format != "table":
		return usagef("--format with --class is json or table, not %q", format)
	case path != "" && format != "table":
		return usagef("--path needs --format table")
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
	if format == "table" {
		return printAttributes(cat, class, path, sel, stdout)
	}
	b, err := cat.JSONSchema(class, sel)
	if err != nil {
		return err
	}
	_, err = stdout.Write(b)
	return err
}

// printAttributes prints, for people writing a mapping, the attributes of a
// class (or of the object at path below it) under the selected profiles
// (nil: every one): required first, then recommended, then the rest.
func printAttributes(cat *ocsf.Catalog, class, path string, profiles []string, stdout io.Writer) error {
	cl, _ := cat.Class(class)
	attrs, constraints, where := cl.Attrs, cl.Constraints, class
	if path != "" {
		for _, name := range strings.Split(path, ".") {
			a, ok := attrs[name]
			if !ok || a.BaseType != ocsf.ObjectType {
				return usagef("%s has no object attribute %q", where, name)
			}
			obj, ok := cat.Object(a.Object)
			if !ok {
				return fmt.Errorf("OCSF %s: object %q not in the catalog", cat.Version, a.Object)
			}
			attrs, constraints, where = obj.Attrs, obj.Constraints, where+"."+name+" ("+obj.Name+")"
		}
	}
	rank := map[ocsf.Requirement]int{ocsf.Required: 0, ocsf.Recommended: 1}
	var list []*ocsf.Attr
	for _, a := range attrs {
		if a.Profile == "" || profiles == nil || slices.Contains(profiles, a.Profile) {
			list = append(list, a)
		}
	}
	sort.Slice(list, func(i, j int) bool {
		ri, ok := rank[list[i].Requirement]
		if !ok {
			ri = 2
		}
		rj, ok := rank[list[j].Requirement]
		if !ok {
			rj = 2
		}
		if ri != rj {
			return ri < rj
		}
		return list[i].Name < list[j].Name
	})
	w := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintf(w, "OCSF %s %s\nATTRIBUTE\tTYPE\tREQUIREMENT\tPROFILE\tVALUES\n", cat.Version, where)
	for _, a := range list {
		typ := a.Type
		if a.IsArray {
			typ += "[]"
		}
		req := string(a.Requirement)
		if a.Deprecated != nil {
			req += " (deprecated)"
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", a.Name, typ, req, a.Profile, enumText(a))
	}
	if constraints != nil && len(constraints.AtLeastOne) > 0 {
		fmt.Fprintf(w, "\nat least one of: %s\n", strings.Join(constraints.AtLeastOne, ", "))
	}
	if constraints != nil && len(constraints.JustOne) > 0 {
		fmt.Fprintf(w, "\njust one of: %s\n", strings.Join(constraints.JustOne, ", "))
	}
	return w.Flush()
}

// enumText is an attribute's allowed values, shortened for a table row.
func enumText(a *ocsf.Attr) string {
	var parts []string
	if len(a.Enum) > 0 {
		ids := make([]int64, 0, len(a.Enum))
		for id := range a.Enum {
			ids = append(ids, id)
		}
		slices.Sort(ids)
		for _, id := range ids {
			parts = append(parts, fmt.Sprintf("%d %s", id, a.Enum[id]))
		}
	}
	parts = append(parts, a.StrEnum...)
	if s := []rune(strings.Join(parts, ", ")); len(s) > 90 {
		return string(s[:87]) + "…"
	}
	return strings.Join(parts, ", ")
}

// listClasses prints the classes of a version (every embedded version when
// version is ""), by class_uid: uid, name, caption and category.
func listClasses(version string, stdout io.Writer) error {
	versions := ocsf.Versions()
	if version != "" {
		versions = []string{version}
	}
	w := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	for i, v := range versions {
		cat, err := ocsf.Load(v)
		if err != nil {
			return usageError{err}
		}
		if i > 0 {
			fmt.Fprintln(w)
		}
		fmt.Fprintf(w, "OCSF %s\nCLASS_UID\tCLASS\tCAPTION\tCATEGORY\n", v)
		var classes []*ocsf.Class
		for _, name := range cat.ClassNames() {
			cl, _ := cat.Class(name)
			classes = append(classes, cl)
		}
		sort.Slice(classes, func(i, j int) bool { return classes[i].UID < classes[j].UID })
		for _, cl := range classes {
			caption := cl.Caption
			if cl.Deprecated != nil {
				caption += " (deprecated)"
			}
			fmt.Fprintf(w, "%d\t%s\t%s\t%d %s\n", cl.UID, cl.Name, caption, cl.CategoryUID, cl.CategoryName)
		}
	}
	return w.Flush()
}

// printMappingSchema prints the schema of what a mapping writes: the Arrow
// schema of its Parquet files, the Glue/Athena DDL over the Security Lake
// layout, or the JSON Schema of its OCSF version, class and profiles. A
// mapping with classes writes each class to a custom source of its own: one
// schema, one table per class.
func printMappingSchema(path, format string, stdout, stderr io.Writer) error {
	m, err := loadMapping(path, stderr)
	if err != nil {
		return err
	}
	routed := len(m.Plans) > 1
	schemas := map[string]json.RawMessage{}
	for _, p := range m.Plans {
		if routed && format != "json" {
			fmt.Fprintf(stdout, "-- class %s (%d)\n", p.Class.Name, p.Class.UID)
		}
		switch format {
		case "arrow":
			fmt.Fprintln(stdout, columnar.ArrowSchema(p.Root))
		case "glue":
			source := strings.SplitN(p.Name, "/", 2)[0]
			table := strings.NewReplacer("-", "_", "/", "_", ".", "_").Replace(p.Name)
			if routed {
				// Security Lake takes one class per custom source; the
				// integration names each class's.
				table += "_" + p.Class.Name
				source = "<custom source of " + p.Class.Name + ">"
			}
			location := "s3://<bucket>/ext/" + source + "/"
			fmt.Fprintln(stdout, columnar.GlueDDL(table, columnar.ArrowSchema(p.Root), []string{"region", "accountid", "eventday"}, location))
		case "json":
			b, err := p.Catalog().JSONSchema(p.Class.Name, p.Profiles)
			if err != nil {
				return err
			}
			if !routed {
				stdout.Write(b)
				return nil
			}
			schemas[p.Class.Name] = b
		default:
			return usagef("--format must be arrow, glue or json, not %q", format)
		}
	}
	if routed && format == "json" {
		// One document: the JSON Schema of each class, by class name.
		b, err := json.MarshalIndent(schemas, "", "  ")
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%s\n", b)
	}
	return nil
}
