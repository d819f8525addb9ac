package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/ocsfmap/ocsfmap/engine/diag"
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

// securityLakeClass is what the custom-source form calls a mapping's class.
type securityLakeClass struct {
	caption string // the console's event class
	uid     int
}

var securityLakeClasses = map[string]securityLakeClass{
	"security_finding":      {"Security Finding", 2001},
	"data_security_finding": {"Data Security Finding", 2006},
}

// classKey turns "Security Finding", "security_finding" or "2001" into a key of securityLakeClasses.
func classKey(s string) (string, bool) {
	k := strings.ToLower(strings.TrimSpace(s))
	k = strings.NewReplacer(" ", "_", "-", "_").Replace(k)
	if _, ok := securityLakeClasses[k]; ok {
		return k, true
	}
	if uid, err := strconv.Atoi(k); err == nil {
		for name, c := range securityLakeClasses {
			if c.uid == uid {
				return name, true
			}
		}
	}
	return "", false
}

// mappingClass reads `ocsf: {class: …}` from a mapping file without compiling it.
func mappingClass(path string) (string, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	var m struct {
		OCSF struct {
			Class string `yaml:"class"`
		} `yaml:"ocsf"`
	}
	if err := yaml.Unmarshal(src, &m); err != nil {
		return "", fmt.Errorf("%s: %w", path, err)
	}
	if m.OCSF.Class == "" {
		return "", fmt.Errorf("%s has no ocsf.class", path)
	}
	return m.OCSF.Class, nil
}

func runIntegrationInit(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("integration init", "--source NAME --region REGION --bucket BUCKET [flags]", stderr)
	name := fs.String("name", "dspm-to-security-lake", "integration `name` (names the state folder)")
	source := fs.String("source", "", "custom source `name` in Security Lake (at most 20 characters); default: from --prefix")
	region := fs.String("region", "", "Security Lake `region`, e.g. us-east-2")
	bucket := fs.String("bucket", "", "Security Lake S3 `bucket`, e.g. aws-security-data-lake-us-east-2-o-…")
	prefix := fs.String("prefix", "", "the custom source's `folder`; default ext/<source>/")
	mapping := fs.String("mapping", "", "mapping `file` whose output is exported (its ocsf.class gives the event class)")
	class := fs.String("class", "", "event `class` when no mapping is given: security_finding or data_security_finding")
	roleARN := fs.String("role-arn", "", "the custom source's role `ARN`, once Security Lake created it")
	lakeAccount := fs.String("lake-account", "", "the Security Lake `account` ID, to spell out the role ARN before it exists")
	externalID := fs.String("external-id", "", "reuse this External `ID` instead of generating one")
	out := fs.String("o", "", "write a starter integration `file`")
	force := fs.Bool("force", false, "overwrite the -o file")
	if _, err := parse(fs, args); err != nil {
		return err
	}

	// Check everything the form needs before calling AWS.
	var problems []string
	if *prefix == "" && *source != "" {
		*prefix = "ext/" + *source + "/"
	}
	if *prefix == "" {
		problems = append(problems, "--source (or --prefix) is required")
	} else if p, err := store.NormalizePrefix(*prefix); err != nil {
		// NormalizePrefix applies the source name rules (≤ 20 characters) too.
		problems = append(problems, fmt.Sprintf("--prefix %q: %v", *prefix, err))
	} else {
		*prefix = p
		got := strings.TrimSuffix(strings.TrimPrefix(p, "ext/"), "/")
		if *source != "" && *source != got {
			problems = append(problems, fmt.Sprintf("--source %q and --prefix %q disagree", *source, *prefix))
		}
		*source = got
	}
	if err := store.CheckRegion(*region); err != nil {
		problems = append(problems, fmt.Sprintf("--region %q: %v", *region, err))
	}
	if err := store.CheckBucket(*bucket); err != nil {
		problems = append(problems, fmt.Sprintf("--bucket %q: %v", *bucket, err))
	}
	if *roleARN == "" && *lakeAccount != "" && *source != "" {
		*roleARN = fmt.Sprintf("arn:aws:iam::%s:role/%s", *lakeAccount, store.ProviderRoleName(*source, *region))
	}
	if *roleARN != "" {
		if err := store.CheckRoleARN(*roleARN); err != nil {
			problems = append(problems, fmt.Sprintf("role ARN %q: %v", *roleARN, err))
		}
	}
	if *externalID != "" {
		if err := store.CheckExternalID(*externalID); err != nil {
			problems = append(problems, fmt.Sprintf("--external-id: %v", err))
		}
	}
	var cls securityLakeClass
	switch {
	case *class != "":
		k, ok := classKey(*class)
		if !ok {
			problems = append(problems, fmt.Sprintf("--class %q: use security_finding or data_security_finding", *class))
		}
		cls = securityLakeClasses[k]
	case *mapping != "":
		c, err := mappingClass(*mapping)
		if err != nil {
			problems = append(problems, fmt.Sprintf("--mapping: %v", err))
			break
		}
		k, ok := classKey(c)
		if !ok {
			problems = append(problems, fmt.Sprintf("--mapping: class %q is not one a DSPM custom source uses", c))
		}
		cls = securityLakeClasses[k]
	default:
		problems = append(problems, "--mapping or --class is required (the custom source's event class)")
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

	fmt.Fprintf(stdout, `In the Security Lake console (%s), Custom sources → Create custom source:
  Data source name   %s
  Event class        %s (OCSF class_uid %d)
  Account ID         %s
  External ID        %s

Security Lake then creates the role %s in the lake's account,
writable under s3://%s/%s. Copy the role's ARN from the custom source into role_arn.
`, *region, *source, cls.caption, cls.uid, account, *externalID, store.ProviderRoleName(*source, *region), *bucket, *prefix)
	if cls.uid == 2006 {
		fmt.Fprintln(stdout, "\nNote: if the console does not offer Data Security Finding, use a security_finding mapping (2001) instead.")
	}

	if *out != "" {
		if err := writeStarter(*out, *force, starter{
			Name: *name, Mapping: *mapping, RoleARN: *roleARN, ExternalID: *externalID, Bucket: *bucket,
			Region: *region, Prefix: *prefix, Source: *source,
		}); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "\nWrote %s. Next: put the role ARN in it, then run 'ocsfmap connect -c %s'.\n", *out, *out)
	}
	if accountErr != nil {
		return fmt.Errorf("writer's account ID: %w", accountErr)
	}
	return nil
}

type starter struct {
	Name, Mapping, RoleARN, ExternalID, Bucket, Region, Prefix, Source string
}

func writeStarter(path string, force bool, s starter) error {
	f := store.IntegrationFile{
		Comment: fmt.Sprintf("Amazon Security Lake integration (ocsfmap integration init, %s).", time.Now().UTC().Format("2006-01-02")),
		Name:    s.Name, RoleARN: s.RoleARN, ExternalID: s.ExternalID, Bucket: s.Bucket, Region: s.Region, Prefix: s.Prefix,
		Rules: []store.Rule{
			{Name: "high-and-critical", Enabled: true, Scope: `lower(risk ?? "") in ["critical", "high"]`},
			{Name: "everything", Enabled: false, Scope: "true"},
		},
	}
	if s.Mapping != "" {
		// The file names its mapping relative to itself.
		f.Mapping = store.RelativeMapping(path, s.Mapping)
	} else {
		f.Mapping, f.MappingNote = "mappings/zscaler-dspm/security_finding_1.1.0.yaml", "edit: the mapping to export with"
	}
	if f.RoleARN == "" {
		f.RoleARN = "arn:aws:iam::LAKE_ACCOUNT_ID:role/" + store.ProviderRoleName(s.Source, s.Region)
		f.RoleNote = "edit: copy the ARN from the custom source"
	}
	err := store.WriteIntegrationFile(path, f, force)
	if errors.Is(err, store.ErrIntegrationExists) {
		return usagef("%s exists (use --force to overwrite)", path)
	}
	return err
}

// loadIntegration loads -c FILE, printing its diagnostics (warnings too).
// parseIntegration parses the flags of a command that takes only -c
// INTEGRATION, and loads the integration file.
func parseIntegration(fs *flag.FlagSet, args []string, file *string, stderr io.Writer) (*store.Integration, error) {
	rest, err := parse(fs, args)
	if err != nil {
		return nil, err
	}
	if len(rest) > 0 {
		return nil, usagef("unexpected arguments %q", rest)
	}
	return loadIntegration(*file, stderr)
}

func loadIntegration(path string, stderr io.Writer) (*store.Integration, error) {
	if path == "" {
		return nil, usagef("-c INTEGRATION is required")
	}
	in, err := store.LoadIntegration(path)
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
