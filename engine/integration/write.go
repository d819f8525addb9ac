package integration

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/ocsfmap/ocsfmap/engine/internal/atomicfile"
)

// IntegrationFile is what an integration file says, to write one: `ocsfmap
// integration init` and the console both write through it, so the files
// (the source of truth, readable in git) look the same whoever made them.
type IntegrationFile struct {
	Comment     string // the first line's comment, without "# "
	Name        string
	Destination string // default DestinationSecurityLake
	Mapping     string // as written: relative to the file's folder (see RelativeMapping)
	MappingNote string // a line comment after the mapping
	RoleARN     string
	RoleNote    string // a line comment after the role ARN
	ExternalID  string
	Bucket      string
	Region      string
	Prefix      string // the custom source of the mapping's one class; or:
	// CustomSources, one per class (Class, Prefix, and RoleARN when it is
	// not the file's RoleARN).
	CustomSources []CustomSource
	SourcesNote   string // a comment above custom_sources
	SourceVersion string
	PathStyle     bool
	Disabled      bool   // written as enabled: false
	Rules         []Rule // Name, Enabled and Scope are written
	OnScopeError  string // written when set and not the default
}

// FileOf returns what in's file says, its mapping relative to the file's
// folder again, to write it back after a change (the console's edits).
// Comments and explicit state_dir / staging_dir are not kept.
func FileOf(in *Integration) IntegrationFile {
	f := IntegrationFile{
		Name: in.Name, Destination: in.Destination, Mapping: in.Mapping,
		RoleARN: in.RoleARN, ExternalID: in.ExternalID, Bucket: in.Bucket, Region: in.Region,
		Prefix: in.Prefix, SourceVersion: in.SourceVersion, PathStyle: in.PathStyle, Disabled: in.Disabled,
		Rules: append([]Rule(nil), in.Rules...), OnScopeError: in.OnScopeError,
	}
	for _, cs := range in.CustomSources {
		f.CustomSources = append(f.CustomSources, CustomSource{Class: cs.Class, Prefix: cs.Prefix, RoleARN: cs.RoleARN})
	}
	if in.File != "" {
		f.Mapping = RelativeMapping(in.File, in.Mapping)
	}
	return f
}

// RelativeMapping is mapping as a path relative to the folder of the
// integration file at file (the loader resolves it against that folder),
// so a repository of integrations and mappings moves as one. When the two
// share no folder but the root (/tmp/… and /srv/…), a relative path would
// only climb to / and down again: the absolute path is clearer.
func RelativeMapping(file, mapping string) string {
	abs, err := filepath.Abs(mapping)
	if err != nil {
		return mapping
	}
	dir, err := filepath.Abs(filepath.Dir(file))
	if err != nil {
		return mapping
	}
	rel, err := filepath.Rel(dir, abs)
	if err != nil {
		return mapping
	}
	if top := strings.SplitN(strings.TrimPrefix(abs, string(filepath.Separator)), string(filepath.Separator), 2)[0]; top != "" &&
		!strings.HasPrefix(dir+string(filepath.Separator), string(filepath.Separator)+top+string(filepath.Separator)) {
		return abs
	}
	return filepath.ToSlash(rel)
}

// Render returns the file's YAML.
func (f IntegrationFile) Render() ([]byte, error) {
	doc := &yaml.Node{Kind: yaml.MappingNode}
	str := func(s string) *yaml.Node { return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: s} }
	add := func(key string, val *yaml.Node, comment string) {
		k := str(key)
		if comment != "" {
			val.LineComment = "# " + comment
		}
		doc.Content = append(doc.Content, k, val)
	}
	dest := f.Destination
	if dest == "" {
		dest = DestinationSecurityLake
	}
	add("name", str(f.Name), "")
	if f.Disabled {
		add("enabled", &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!bool", Value: "false"}, "serve refuses new alerts (409) until enabled")
	}
	add("destination", str(dest), "")
	add("mapping", str(f.Mapping), f.MappingNote)
	if f.RoleARN != "" || len(f.CustomSources) == 0 {
		add("role_arn", str(f.RoleARN), f.RoleNote)
	}
	add("external_id", str(f.ExternalID), "")
	add("bucket", str(f.Bucket), "")
	add("region", str(f.Region), "")
	if len(f.CustomSources) == 0 {
		add("prefix", str(f.Prefix), "")
	} else {
		sources := &yaml.Node{Kind: yaml.MappingNode}
		for _, cs := range f.CustomSources {
			var v *yaml.Node
			if cs.RoleARN == "" || cs.RoleARN == f.RoleARN {
				v = str(cs.Prefix)
			} else {
				v = &yaml.Node{Kind: yaml.MappingNode, Content: []*yaml.Node{str("prefix"), str(cs.Prefix), str("role_arn"), str(cs.RoleARN)}}
			}
			sources.Content = append(sources.Content, str(cs.Class), v)
		}
		k := str("custom_sources")
		k.HeadComment = "# One Security Lake custom source per OCSF class the mapping emits."
		if f.SourcesNote != "" {
			k.HeadComment += "\n# " + f.SourcesNote
		}
		doc.Content = append(doc.Content, k, sources)
	}
	if f.SourceVersion != "" {
		add("source_version", str(f.SourceVersion), "")
	}
	add("path_style", &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!bool", Value: fmt.Sprint(f.PathStyle)}, "")
	if f.OnScopeError != "" && f.OnScopeError != ScopeDeadLetter {
		add("on_scope_error", str(f.OnScopeError), "")
	}
	if len(f.Rules) > 0 {
		rules := &yaml.Node{Kind: yaml.SequenceNode}
		for _, r := range f.Rules {
			rules.Content = append(rules.Content, &yaml.Node{Kind: yaml.MappingNode, Content: []*yaml.Node{
				str("name"), str(r.Name),
				str("enabled"), {Kind: yaml.ScalarNode, Tag: "!!bool", Value: fmt.Sprint(r.Enabled)},
				str("scope"), {Kind: yaml.ScalarNode, Tag: "!!str", Value: r.Scope, Style: scopeStyle(r.Scope)},
			}})
		}
		k := str("rules")
		k.HeadComment = "# Alert rules: an alert is exported only when an enabled rule's scope holds."
		doc.Content = append(doc.Content, k, rules)
	}
	root := &yaml.Node{Kind: yaml.DocumentNode, Content: []*yaml.Node{doc}}
	if f.Comment != "" {
		root.HeadComment = "# " + f.Comment
	}
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(root); err != nil {
		return nil, fmt.Errorf("render integration file: %w", err)
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// scopeStyle single-quotes one-line scopes (expressions are full of
// characters YAML would otherwise have to think about) and writes the
// others as literal blocks.
func scopeStyle(s string) yaml.Style {
	if strings.Contains(s, "\n") {
		return yaml.LiteralStyle
	}
	return yaml.SingleQuotedStyle
}

// ErrIntegrationExists is WriteIntegrationFile refusing to replace a file.
var ErrIntegrationExists = errors.New("integration file exists")

// WriteIntegrationFile writes f at path: into a temporary file beside it,
// synced, then renamed over path, so a reader (serve's reload) never sees
// half a file. Without replace, an existing path is ErrIntegrationExists.
// The file is 0600: the External ID is not a secret to AWS, but no one
// else needs it.
func WriteIntegrationFile(path string, f IntegrationFile, replace bool) error {
	text, err := f.Render()
	if err != nil {
		return err
	}
	if !replace {
		if _, err := os.Lstat(path); err == nil {
			return fmt.Errorf("%s: %w", path, ErrIntegrationExists)
		}
	}
	err = atomicfile.WriteFile(path, text, atomicfile.Options{NoReplace: !replace})
	switch {
	case errors.Is(err, atomicfile.ErrExists):
		// path appeared meanwhile: never replace by accident.
		return fmt.Errorf("%s: %w", path, ErrIntegrationExists)
	case err != nil:
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// StarterRules are the alert rules a new integration file starts with, for
// a mapping that reads the given source fields. Zscaler DSPM's integration
// exports high and critical alerts by default, so a mapping that reads
// `risk` starts there with "everything" beside it, disabled; for any other
// source a rule over `risk` would export nothing, so it starts with
// "everything" enabled.
func StarterRules(fields []string) []Rule {
	if slices.Contains(fields, "risk") {
		return []Rule{
			{Name: "high-and-critical", Enabled: true, Scope: `lower(risk ?? "") in ["critical", "high"]`},
			{Name: "everything", Enabled: false, Scope: "true"},
		}
	}
	return []Rule{{Name: "everything", Enabled: true, Scope: "true"}}
}
