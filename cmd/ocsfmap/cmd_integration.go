package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/ocsfmap/ocsfmap/engine"
	"github.com/ocsfmap/ocsfmap/engine/diag"
	"github.com/ocsfmap/ocsfmap/engine/integration"
	"github.com/ocsfmap/ocsfmap/engine/ocsf"
	"github.com/ocsfmap/ocsfmap/engine/store"
)

func init() {
	register(command{name: "integration", summary: "set up an Amazon Security Lake integration (integration init)", run: runIntegration})
}

func runIntegration(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "init" {
		fmt.Fprintln(stderr, "usage: ocsfmap integration init [flags]")
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help") {
			return nil
		}
		return exitError{2}
	}
	return runIntegrationInit(args[1:], stdout, stderr)
}

// lakeClass is an OCSF class as Security Lake's custom-source form names it.
type lakeClass struct {
	name    string // as mappings name it: security_finding
	caption string // the form's event class: Security Finding
	uid     int64
}

// mappingClasses returns the classes of the mapping at path: every class a
// compiled mapping routes to, or, for a mapping still being written that
// does not compile, the ocsf.class it names.
func mappingClasses(path string) ([]lakeClass, error) {
	if m, err := engine.Load(path); err == nil {
		out := make([]lakeClass, len(m.Plans))
		for i, p := range m.Plans {
			out[i] = lakeClass{p.Class.Name, p.Class.Caption, p.Class.UID}
		}
		return out, nil
	}
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var m struct {
		OCSF struct {
			Version string `yaml:"version"`
			Class   string `yaml:"class"`
		} `yaml:"ocsf"`
	}
	if err := yaml.Unmarshal(src, &m); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if m.OCSF.Class == "" {
		return nil, fmt.Errorf("%s has no ocsf.class", path)
	}
	c, ok := lookupClass(m.OCSF.Class, m.OCSF.Version)
	if !ok {
		return nil, fmt.Errorf("%s: OCSF %s has no class %q", path, m.OCSF.Version, m.OCSF.Class)
	}
	return []lakeClass{c}, nil
}

// lookupClass finds "API Activity", "api_activity" or "6003" in OCSF
// version (empty: the newest version that has it).
func lookupClass(s, version string) (lakeClass, bool) {
	k := strings.NewReplacer(" ", "_", "-", "_").Replace(strings.ToLower(strings.TrimSpace(s)))
	versions := ocsf.Versions()
	if version != "" {
		versions = []string{version}
	}
	for i := len(versions) - 1; i >= 0; i-- {
		cat, err := ocsf.Load(versions[i])
		if err != nil {
			continue
		}
		c, ok := cat.Class(k)
		if uid, err := strconv.ParseInt(k, 10, 64); err == nil {
			c, ok = cat.ClassByUID(uid)
		}
		if ok {
			return lakeClass{c.Name, c.Caption, c.UID}, true
		}
	}
	return lakeClass{}, false
}

// sourceFlags is --source, given once (NAME, for a mapping's one class) or
// once per class (CLASS=NAME).
type sourceFlags []string

func (f *sourceFlags) String() string     { return strings.Join(*f, ",") }
func (f *sourceFlags) Set(s string) error { *f = append(*f, s); return nil }

// initSource is one custom source to create: a class and its folder.
type initSource struct {
	class  lakeClass
	source string
	prefix string
}

// planSources pairs each class with its custom source from --source (and
// --prefix, for one class), returning the problems found.
func planSources(classes []lakeClass, sources []string, prefix string) ([]initSource, []string) {
	var problems []string
	if len(classes) == 1 {
		src := ""
		for _, s := range sources {
			class, name, paired := strings.Cut(s, "=")
			if paired && class != classes[0].name {
				problems = append(problems, fmt.Sprintf("--source %s: the mapping's class is %s", s, classes[0].name))
			}
			if !paired {
				name = class
			}
			if src != "" && src != name {
				problems = append(problems, "--source given twice")
			}
			src = name
		}
		if prefix == "" && src != "" {
			prefix = "ext/" + src + "/"
		}
		if prefix == "" {
			return nil, append(problems, "--source (or --prefix) is required")
		}
		p, err := store.NormalizePrefix(prefix)
		if err != nil {
			// NormalizePrefix applies the source name rules (≤ 20 characters) too.
			return nil, append(problems, fmt.Sprintf("--prefix %q: %v", prefix, err))
		}
		got := strings.TrimSuffix(strings.TrimPrefix(p, "ext/"), "/")
		if src != "" && src != got {
			problems = append(problems, fmt.Sprintf("--source %q and --prefix %q disagree", src, prefix))
		}
		return []initSource{{classes[0], got, p}}, problems
	}

	// Several classes: Security Lake takes one class per custom source.
	names := make([]string, len(classes))
	for i, c := range classes {
		names[i] = c.name
	}
	if prefix != "" {
		problems = append(problems, "--prefix names one custom source; the mapping emits "+strings.Join(names, ", ")+": give --source CLASS=NAME for each")
	}
	byClass := map[string]string{}
	classOf := map[string]string{}
	for _, s := range sources {
		class, name, paired := strings.Cut(s, "=")
		switch {
		case !paired:
			problems = append(problems, fmt.Sprintf("--source %s: the mapping emits %d classes (%s), and Security Lake takes one class per custom source: give --source CLASS=NAME for each", s, len(classes), strings.Join(names, ", ")))
			continue
		case !slices.Contains(names, class):
			msg := fmt.Sprintf("--source %s: the mapping emits no class %q (it emits %s)", s, class, strings.Join(names, ", "))
			if sug := diag.Suggest(class, names); len(sug) > 0 {
				msg += fmt.Sprintf("; did you mean %q?", sug[0])
			}
			problems = append(problems, msg)
			continue
		case byClass[class] != "":
			problems = append(problems, fmt.Sprintf("--source %s: class %s given twice", s, class))
			continue
		case classOf[name] != "":
			problems = append(problems, fmt.Sprintf("--source %s: %s is already the source of %s; Security Lake takes one class per custom source", s, name, classOf[name]))
			continue
		}
		if err := store.CheckSourceName(name); err != nil {
			problems = append(problems, fmt.Sprintf("--source %s: %v", s, err))
			continue
		}
		byClass[class], classOf[name] = name, class
	}
	var out []initSource
	for _, c := range classes {
		name, ok := byClass[c.name]
		if !ok {
			problems = append(problems, fmt.Sprintf("--source %s=NAME is missing: each class the mapping emits needs its custom source", c.name))
			continue
		}
		out = append(out, initSource{c, name, "ext/" + name + "/"})
	}
	return out, problems
}

func runIntegrationInit(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("integration init", "--source NAME --region REGION --bucket BUCKET [flags]", stderr)
	name := fs.String("name", "dspm-to-security-lake", "integration `name` (names the state folder)")
	var sources sourceFlags
	fs.Var(&sources, "source", "custom source `name` in Security Lake (at most 20 characters); default: from --prefix.\n"+
		"For a mapping that emits several classes, CLASS=NAME once per class (Security Lake takes one class per custom source)")
	region := fs.String("region", "", "Security Lake `region`, e.g. us-east-2")
	bucket := fs.String("bucket", "", "Security Lake S3 `bucket`, e.g. aws-security-data-lake-us-east-2-o-…")
	prefix := fs.String("prefix", "", "the custom source's `folder`; default ext/<source>/")
	mapping := fs.String("mapping", "", "mapping `file` whose output is exported (its classes give the event classes)")
	class := fs.String("class", "", "event `class` when no mapping is given: its name (security_finding) or class_uid")
	roleARN := fs.String("role-arn", "", "the custom source's role `ARN`, once Security Lake created it (one class)")
	lakeAccount := fs.String("lake-account", "", "the Security Lake `account` ID, to spell out the role ARNs before they exist")
	externalID := fs.String("external-id", "", "reuse this External `ID` instead of generating one")
	out := fs.String("o", "", "write a starter integration `file`")
	force := fs.Bool("force", false, "overwrite the -o file")
	if _, err := parse(fs, args); err != nil {
		return err
	}

	// Check everything the form needs before calling AWS.
	var problems []string
	var classes []lakeClass
	switch {
	case *class != "":
		c, ok := lookupClass(*class, "")
		if !ok {
			problems = append(problems, fmt.Sprintf("--class %q: no OCSF class has this name or class_uid", *class))
		}
		classes = []lakeClass{c}
	case *mapping != "":
		cs, err := mappingClasses(*mapping)
		if err != nil {
			problems = append(problems, fmt.Sprintf("--mapping: %v", err))
		}
		classes = cs
	default:
		problems = append(problems, "--mapping or --class is required (the custom source's event class)")
	}
	var plan []initSource
	if len(classes) > 0 {
		var p []string
		plan, p = planSources(classes, sources, *prefix)
		problems = append(problems, p...)
	}
	if err := store.CheckRegion(*region); err != nil {
		problems = append(problems, fmt.Sprintf("--region %q: %v", *region, err))
	}
	if err := store.CheckBucket(*bucket); err != nil {
		problems = append(problems, fmt.Sprintf("--bucket %q: %v", *bucket, err))
	}
	if *roleARN != "" && len(classes) > 1 {
		problems = append(problems, "--role-arn: each custom source has a role of its own; give --lake-account, or paste each ARN into the file")
	}
	roles := make([]string, len(plan))
	for i, p := range plan {
		switch {
		case *roleARN != "":
			roles[i] = *roleARN
		case *lakeAccount != "":
			roles[i] = fmt.Sprintf("arn:aws:iam::%s:role/%s", *lakeAccount, store.ProviderRoleName(p.source, *region))
		}
		if roles[i] != "" {
			if err := store.CheckRoleARN(roles[i]); err != nil {
				problems = append(problems, fmt.Sprintf("role ARN %q: %v", roles[i], err))
			}
		}
	}
	if *externalID != "" {
		if err := store.CheckExternalID(*externalID); err != nil {
			problems = append(problems, fmt.Sprintf("--external-id: %v", err))
		}
	}
	if len(problems) > 0 {
		return usageError{errors.New(strings.Join(problems, "\n  "))}
	}

	if *externalID == "" {
		id, err := store.NewExternalID()
		if err != nil {
			return err
		}
		*externalID = id
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	account, accountErr := store.CallerAccount(ctx, *region)
	if accountErr != nil {
		account = "(unknown: see the error below)"
	}

	if len(plan) == 1 {
		fmt.Fprintf(stdout, "In the Security Lake console (%s), Custom sources → Create custom source:\n", *region)
	} else {
		fmt.Fprintf(stdout, "The mapping emits %d classes, and Security Lake takes one class per custom source.\n"+
			"In the Security Lake console (%s), Custom sources → Create custom source, once for each:\n", len(plan), *region)
	}
	for i, p := range plan {
		if i > 0 {
			fmt.Fprintln(stdout)
		}
		fmt.Fprintf(stdout, `  Data source name   %s
  Event class        %s (OCSF class_uid %d)
  Account ID         %s
  External ID        %s
`, p.source, p.class.caption, p.class.uid, account, *externalID)
	}
	if len(plan) == 1 {
		fmt.Fprintf(stdout, `
Security Lake then creates the role %s in the lake's account,
writable under s3://%s/%s. Copy the role's ARN from the custom source into role_arn.
`, store.ProviderRoleName(plan[0].source, *region), *bucket, plan[0].prefix)
	} else {
		fmt.Fprintf(stdout, "\nSecurity Lake then creates a role per custom source in the lake's account:\n")
		for _, p := range plan {
			fmt.Fprintf(stdout, "  %s, writable under s3://%s/%s\n", store.ProviderRoleName(p.source, *region), *bucket, p.prefix)
		}
		fmt.Fprintln(stdout, "Copy each role's ARN from its custom source into the file's custom_sources.")
	}
	for _, p := range plan {
		if p.class.uid == 2006 {
			fmt.Fprintln(stdout, "\nNote: if the console does not offer Data Security Finding, use a security_finding mapping (2001) instead.")
		}
	}

	if *out != "" {
		if err := writeStarter(*out, *force, starter{
			Name: *name, Mapping: *mapping, ExternalID: *externalID, Bucket: *bucket, Region: *region,
			Sources: plan, Roles: roles,
		}); err != nil {
			return err
		}
		what := "the role ARN"
		if len(plan) > 1 {
			what = "each custom source's role ARN"
		}
		fmt.Fprintf(stdout, "\nWrote %s. Next: put %s in it, then run 'ocsfmap connect -c %s'.\n", *out, what, *out)
	}
	if accountErr != nil {
		return fmt.Errorf("writer's account ID: %w", accountErr)
	}
	return nil
}

type starter struct {
	Name, Mapping, ExternalID, Bucket, Region string
	Sources                                   []initSource // one per class
	Roles                                     []string     // each source's role ARN, "" when not known yet
}

func writeStarter(path string, force bool, s starter) error {
	f := integration.IntegrationFile{
		Comment: fmt.Sprintf("Amazon Security Lake integration (ocsfmap integration init, %s).", time.Now().UTC().Format("2006-01-02")),
		Name:    s.Name, ExternalID: s.ExternalID, Bucket: s.Bucket, Region: s.Region,
	}
	fields := []string{"risk"} // the placeholder mapping's: Zscaler DSPM's rules
	if s.Mapping != "" {
		// The file names its mapping relative to itself.
		f.Mapping = integration.RelativeMapping(path, s.Mapping)
		fields = nil
		if m, err := engine.Load(s.Mapping); err == nil {
			fields = m.Plan.Fields
		}
	} else {
		f.Mapping, f.MappingNote = "mappings/zscaler-dspm/security_finding_1.1.0.yaml", "edit: the mapping to export with"
	}
	f.Rules = integration.StarterRules(fields)
	placeholder := false
	roleOf := func(i int) string {
		if s.Roles[i] != "" {
			return s.Roles[i]
		}
		placeholder = true
		return "arn:aws:iam::LAKE_ACCOUNT_ID:role/" + store.ProviderRoleName(s.Sources[i].source, s.Region)
	}
	if len(s.Sources) == 1 {
		f.Prefix, f.RoleARN = s.Sources[0].prefix, roleOf(0)
		if placeholder {
			f.RoleNote = "edit: copy the ARN from the custom source"
		}
	} else {
		for i, src := range s.Sources {
			f.CustomSources = append(f.CustomSources, integration.CustomSource{Class: src.class.name, Prefix: src.prefix, RoleARN: roleOf(i)})
		}
		if placeholder {
			f.SourcesNote = "edit: copy each role ARN from its custom source"
		}
	}
	err := integration.WriteIntegrationFile(path, f, force)
	if errors.Is(err, integration.ErrIntegrationExists) {
		return usagef("%s exists (use --force to overwrite)", path)
	}
	return err
}

// loadIntegration loads -c FILE, printing its diagnostics (warnings too).
// parseIntegration parses the flags of a command that takes only -c
// INTEGRATION, and loads the integration file.
func parseIntegration(fs *flag.FlagSet, args []string, file *string, stderr io.Writer) (*integration.Integration, error) {
	rest, err := parse(fs, args)
	if err != nil {
		return nil, err
	}
	if len(rest) > 0 {
		return nil, usagef("unexpected arguments %q", rest)
	}
	return loadIntegration(*file, stderr)
}

func loadIntegration(path string, stderr io.Writer) (*integration.Integration, error) {
	if path == "" {
		return nil, usagef("-c INTEGRATION is required")
	}
	in, err := integration.LoadIntegration(path)
	var list diag.List
	if errors.As(err, &list) {
		fmt.Fprint(stderr, list.Render())
		return nil, usageError{fmt.Errorf("%s: %d error(s)", path, countErrors(list))}
	}
	if err != nil {
		return nil, usageError{err}
	}
	fmt.Fprint(stderr, in.Warnings().Render())
	return in, nil
}
