package integration

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/ocsfmap/ocsfmap/engine/diag"
	"github.com/ocsfmap/ocsfmap/engine/exprenv"
	"github.com/ocsfmap/ocsfmap/engine/store"
)

// DestinationSecurityLake is the only destination an integration file names today.
const DestinationSecurityLake = "amazon-security-lake"

// Integration is a loaded integration file: which mapping's output goes to
// which Security Lake custom source, through which role, filtered by which
// alert rules. Paths are resolved against the file's folder.
type Integration struct {
	File        string // the integration file, as given to LoadIntegration
	Name        string
	Destination string
	Mapping     string // mapping file path, resolved against the integration file's folder
	RoleARN     string // the role of every custom source that names none of its own
	ExternalID  string // not a secret to AWS, but kept out of logs all the same
	Bucket      string
	Region      string
	Prefix      string // normalized: "ext/<source>/"; empty with CustomSources
	// CustomSources name one Security Lake custom source per OCSF class,
	// in the file's order: Security Lake takes one class per custom
	// source, so a mapping that emits several classes needs one each.
	// Empty: the file names one source, Prefix, for the mapping's class.
	CustomSources []CustomSource
	SourceVersion string // optional path segment after the prefix
	PathStyle     bool
	// Disabled is `enabled: false`: serve refuses new alerts for the
	// integration (and delivers what it accepted); the console disables.
	Disabled bool
	Rules    []Rule
	// OnScopeError is what happens to an alert no enabled rule exports
	// because a scope failed to evaluate for it: ScopeDeadLetter (the
	// default, so nothing disappears without a trace), ScopeSkip or
	// ScopeExport.
	OnScopeError string
	StateDir     string // status and staging live here unless staging_dir says otherwise
	StagingDir   string

	warnings diag.List
	// For CheckClasses' diagnostics: the file's bytes and where the key
	// that says where the classes go is.
	src        []byte
	sourcesPos diag.Pos // custom_sources, or prefix without it
}

// CustomSource is the custom source one OCSF class is delivered to.
type CustomSource struct {
	Class   string   // the class's name, as the mapping names it: api_activity
	Prefix  string   // normalized: "ext/<source>/"
	RoleARN string   // the source's role; empty: the file's role_arn
	Pos     diag.Pos // the class's key in the file
}

// Source is the custom source's name: the segment after "ext/" in its prefix.
func (cs CustomSource) Source() string { return sourceOf(cs.Prefix) }

// Rule is an alert rule: an alert is exported only when an enabled rule's
// scope (an expr predicate over the source alert) holds. The scope is kept as
// text; the caller compiles it and reports errors at ScopePos.
type Rule struct {
	Name     string
	Enabled  bool
	Scope    string
	Pos      diag.Pos // the rule's "name" key
	ScopePos diag.Pos // where the scope text starts: inside the quotes, or the first line of a block scalar
}

// The values of on_scope_error.
const (
	ScopeDeadLetter = "dead_letter"
	ScopeSkip       = "skip"
	ScopeExport     = "export"
)

// Source is the custom source's name: the segment after "ext/" in the
// prefix (the first custom source's when the file names one per class).
func (in *Integration) Source() string { return sourceOf(in.prefix()) }

func sourceOf(prefix string) string {
	return strings.TrimSuffix(strings.TrimPrefix(prefix, "ext/"), "/")
}

// prefix is Prefix, or the first custom source's.
func (in *Integration) prefix() string {
	if in.Prefix == "" && len(in.CustomSources) > 0 {
		return in.CustomSources[0].Prefix
	}
	return in.Prefix
}

// KeyPrefix is the folder every delivered object goes under: the prefix plus
// the source version segment when one is set. The lake writer lays out its
// staging folder under exactly this prefix. A file that names one custom
// source per class has one per class (ClassKeyPrefix); KeyPrefix is then
// the first class's.
func (in *Integration) KeyPrefix() string { return in.withVersion(in.prefix()) }

func (in *Integration) withVersion(prefix string) string {
	if in.SourceVersion == "" {
		return prefix
	}
	return prefix + in.SourceVersion + "/"
}

// ClassKeyPrefix is the folder the records of one OCSF class (its name, as
// in plan.Plan.Class.Name) go under: its custom source's, or KeyPrefix
// when the file names one source for the mapping's single class.
func (in *Integration) ClassKeyPrefix(class string) string {
	if cs, ok := in.customSource(class); ok {
		return in.withVersion(cs.Prefix)
	}
	return in.KeyPrefix()
}

func (in *Integration) customSource(class string) (CustomSource, bool) {
	for _, cs := range in.CustomSources {
		if cs.Class == class {
			return cs, true
		}
	}
	return CustomSource{}, false
}

// S3Options returns the options to reach this integration's bucket (as the
// first class's custom source role when each class has its own).
func (in *Integration) S3Options() store.S3Options {
	if len(in.CustomSources) > 0 {
		return in.ClassS3Options(in.CustomSources[0].Class)
	}
	return in.s3Options(in.RoleARN)
}

// ClassS3Options returns the options to reach the bucket as the role of
// class's custom source.
func (in *Integration) ClassS3Options(class string) store.S3Options {
	role := in.RoleARN
	if cs, ok := in.customSource(class); ok && cs.RoleARN != "" {
		role = cs.RoleARN
	}
	return in.s3Options(role)
}

// Target is one custom source an integration delivers to.
type Target struct {
	Class     string // the OCSF class it takes; empty for the one prefix of a single-class file
	KeyPrefix string
	S3        store.S3Options // through the source's role
}

// Targets lists the custom sources the integration delivers to: one per
// class with custom_sources, else the one prefix. Test Connection checks
// each.
func (in *Integration) Targets() []Target {
	if len(in.CustomSources) == 0 {
		return []Target{{KeyPrefix: in.KeyPrefix(), S3: in.S3Options()}}
	}
	out := make([]Target, len(in.CustomSources))
	for i, cs := range in.CustomSources {
		out[i] = Target{Class: cs.Class, KeyPrefix: in.ClassKeyPrefix(cs.Class), S3: in.ClassS3Options(cs.Class)}
	}
	return out
}

// KeyPrefixes are the folders of the integration's custom sources, one per
// class the mapping emits (Targets' order).
func (in *Integration) KeyPrefixes() []string {
	var out []string
	for _, t := range in.Targets() {
		out = append(out, t.KeyPrefix)
	}
	return out
}

func (in *Integration) s3Options(role string) store.S3Options {
	return store.S3Options{
		Bucket:      in.Bucket,
		Region:      in.Region,
		RoleARN:     role,
		ExternalID:  in.ExternalID,
		PathStyle:   in.PathStyle,
		SessionName: sessionName(in.Name),
	}
}

// LoadIntegration reads and checks an integration file. Every problem is
// reported at once: the error is a diag.List when the file is invalid (it may
// hold warnings too, which are returned with a nil error through Warnings).
func LoadIntegration(path string) (*Integration, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("load integration: %w", err)
	}
	return ParseIntegration(path, src)
}

// ParseIntegration is LoadIntegration of src, the bytes of the file at
// path (relative paths in it resolve against path's folder): for a caller
// that keeps the bytes it loaded, to load them again later as they were.
func ParseIntegration(path string, src []byte) (*Integration, error) {
	in, diags := parseIntegration(path, src)
	diags.Sort()
	if err := diags.Err(); err != nil {
		return nil, err
	}
	in.warnings = diags
	return in, nil
}

// Warnings returns the warnings found while loading (a normalized prefix,
// every rule disabled, …).
func (in *Integration) Warnings() diag.List { return in.warnings }

type fieldKind uint8

const (
	kString fieldKind = iota
	kBool
	kRules
	kSources
)

var integrationKeys = []struct {
	name     string
	kind     fieldKind
	required bool
}{
	{"name", kString, true},
	{"destination", kString, true},
	{"mapping", kString, true},
	{"role_arn", kString, false}, // required unless every custom source names its role
	{"external_id", kString, true},
	{"bucket", kString, true},
	{"region", kString, true},
	{"prefix", kString, false}, // or custom_sources
	{"custom_sources", kSources, false},
	{"path_style", kBool, false},
	{"enabled", kBool, false},
	{"source_version", kString, false},
	{"rules", kRules, false},
	{"on_scope_error", kString, false},
	{"state_dir", kString, false},
	{"staging_dir", kString, false},
}

// loader collects diagnostics for one file.
type loader struct {
	file  string
	src   []byte
	diags diag.List
}

func (l *loader) add(sev diag.Severity, code string, n *yaml.Node, format string, args ...any) *diag.Diagnostic {
	d := diag.Diagnostic{Severity: sev, Code: code, Pos: diag.Pos{File: l.file}, Message: fmt.Sprintf(format, args...)}
	if n != nil {
		d.Pos.Line, d.Pos.Column = n.Line, n.Column
		d.Source = diag.SourceLine(l.src, n.Line)
	}
	l.diags = append(l.diags, d)
	return &l.diags[len(l.diags)-1]
}

func (l *loader) errorf(code string, n *yaml.Node, format string, args ...any) *diag.Diagnostic {
	return l.add(diag.Error, code, n, format, args...)
}

var yamlLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

func parseIntegration(path string, src []byte) (*Integration, diag.List) {
	l := &loader{file: path, src: src}
	in := &Integration{File: path, src: src}
	var doc yaml.Node
	if err := yaml.Unmarshal(src, &doc); err != nil {
		d := l.errorf("C100", nil, "not valid YAML: %v", err)
		if m := yamlLine.FindStringSubmatch(err.Error()); m != nil {
			n, _ := strconv.Atoi(m[1])
			if strings.HasPrefix(m[2], "did not find expected") {
				// yaml.v3 numbers parser errors (not scanner ones) from 0, at
				// the line where the unfinished construct began.
				n++
			}
			d.Pos.Line, d.Message, d.Source = n, "not valid YAML: "+m[2], diag.SourceLine(src, n)
		}
		return in, l.diags
	}
	if len(doc.Content) == 0 || doc.Content[0].Kind != yaml.MappingNode {
		var n *yaml.Node
		if len(doc.Content) > 0 {
			n = doc.Content[0]
		}
		l.errorf("C100", n, "an integration file is a mapping of keys (name, destination, role_arn, …)")
		return in, l.diags
	}
	root := doc.Content[0]
	dir := filepath.Dir(path)

	names := make([]string, len(integrationKeys))
	for i, k := range integrationKeys {
		names[i] = k.name
	}
	seen := map[string]kv{}
	for i := 0; i+1 < len(root.Content); i += 2 {
		key, val := root.Content[i], root.Content[i+1]
		idx := -1
		for j, k := range integrationKeys {
			if k.name == key.Value {
				idx = j
			}
		}
		if idx < 0 {
			d := l.errorf("C101", key, "unknown key %q", key.Value)
			d.Suggest = diag.Suggest(key.Value, names)
			if d.Suggest == nil {
				d.Detail = "keys: " + strings.Join(names, ", ")
			}
			continue
		}
		if first, dup := seen[key.Value]; dup {
			l.errorf("C104", key, "key %q given twice (first at line %d)", key.Value, first.key.Line)
			continue
		}
		ok := l.field(in, integrationKeys[idx].name, integrationKeys[idx].kind, val)
		seen[key.Value] = kv{key, val, ok}
	}
	for _, k := range integrationKeys {
		if _, ok := seen[k.name]; k.required && !ok {
			l.errorf("C102", root, "missing required key %q", k.name)
		}
	}

	l.check(in, root, seen, dir)
	return in, l.diags
}

// field decodes one key's value into in, reporting type errors.
func (l *loader) field(in *Integration, name string, kind fieldKind, val *yaml.Node) bool {
	switch kind {
	case kString:
		s, ok := l.str(name, val)
		if !ok {
			return false
		}
		switch name {
		case "name":
			in.Name = s
		case "destination":
			in.Destination = s
		case "mapping":
			in.Mapping = s
		case "role_arn":
			in.RoleARN = s
		case "external_id":
			in.ExternalID = s
		case "bucket":
			in.Bucket = s
		case "region":
			in.Region = s
		case "prefix":
			in.Prefix = s
		case "source_version":
			in.SourceVersion = s
		case "state_dir":
			in.StateDir = s
		case "staging_dir":
			in.StagingDir = s
		case "on_scope_error":
			in.OnScopeError = s
		}
	case kBool:
		b, ok := l.boolean(name, val)
		if name == "enabled" {
			in.Disabled = !b
		} else {
			in.PathStyle = b
		}
		return ok
	case kRules:
		in.Rules = l.rules(val)
	case kSources:
		in.CustomSources = l.customSources(val)
		return in.CustomSources != nil
	}
	return true
}

func (l *loader) str(name string, val *yaml.Node) (string, bool) {
	if val.Kind != yaml.ScalarNode || val.Tag == "!!null" {
		l.errorf("C103", val, "%s: a string is expected", name)
		return "", false
	}
	return val.Value, true
}

func (l *loader) boolean(name string, val *yaml.Node) (bool, bool) {
	var b bool
	if val.Kind != yaml.ScalarNode || val.Tag != "!!bool" || val.Decode(&b) != nil {
		l.errorf("C103", val, "%s: true or false is expected", name)
		return false, false
	}
	return b, true
}

func (l *loader) rules(val *yaml.Node) []Rule {
	if val.Kind != yaml.SequenceNode {
		l.errorf("C103", val, "rules: a list of {name, enabled, scope} is expected")
		return nil
	}
	var rules []Rule
	byName := map[string]int{}
	ruleKeys := []string{"name", "enabled", "scope"}
	for _, item := range val.Content {
		if item.Kind != yaml.MappingNode {
			l.errorf("C103", item, "a rule is a mapping of name, enabled and scope")
			continue
		}
		r := Rule{Enabled: true, Pos: l.pos(item)}
		var nameNode, scopeNode *yaml.Node
		seen := map[string]bool{}
		for i := 0; i+1 < len(item.Content); i += 2 {
			k, v := item.Content[i], item.Content[i+1]
			if seen[k.Value] {
				l.errorf("C104", k, "rule key %q given twice", k.Value)
				continue
			}
			seen[k.Value] = true
			switch k.Value {
			case "name":
				nameNode = k
				r.Name, _ = l.str("rule name", v)
				r.Pos = l.pos(k)
			case "enabled":
				if b, ok := l.boolean("enabled", v); ok {
					r.Enabled = b
				}
			case "scope":
				scopeNode = k
				if s, ok := l.str("scope", v); ok {
					r.Scope = s
					r.ScopePos = l.scalarStart(v)
				}
			default:
				d := l.errorf("C101", k, "unknown rule key %q", k.Value)
				d.Suggest = diag.Suggest(k.Value, ruleKeys)
			}
		}
		switch {
		case nameNode == nil:
			l.errorf("C120", item, "a rule needs a name")
		case strings.TrimSpace(r.Name) == "":
			l.errorf("C120", nameNode, "a rule name cannot be empty")
		case byName[r.Name] > 0:
			l.errorf("C120", nameNode, "rule name %q already used at line %d", r.Name, byName[r.Name])
		default:
			byName[r.Name] = nameNode.Line
		}
		if scopeNode == nil {
			l.errorf("C120", item, "rule %q needs a scope (an expression over the alert; use 'true' to export every alert)", r.Name)
		} else if strings.TrimSpace(r.Scope) == "" && r.ScopePos.Line > 0 {
			l.errorf("C120", scopeNode, "rule %q has an empty scope", r.Name)
		} else if r.Enabled {
			l.missingFieldCalls(r)
		}
		rules = append(rules, r)
	}
	if len(rules) > 0 {
		enabled := false
		for _, r := range rules {
			enabled = enabled || r.Enabled
		}
		if !enabled {
			d := l.add(diag.Warning, "C121", val, "every rule is disabled: no alert will be exported")
			d.Detail = "set enabled: true on the rules whose alerts should reach Security Lake"
		}
	}
	return rules
}

// missingFieldCalls warns (C123) about a scope that calls lower, upper or
// trim on a field an alert may lack: the scope then fails to evaluate and
// the alert takes on_scope_error's way instead of being matched or not.
func (l *loader) missingFieldCalls(r Rule) {
	for _, c := range exprenv.StringCallsOnFields(r.Scope) {
		pos := scopeOffset(r.ScopePos, r.Scope, c.Offset)
		d := diag.Diagnostic{Severity: diag.Warning, Code: "C123", Pos: pos, Source: diag.SourceLine(l.src, pos.Line),
			Message: fmt.Sprintf("rule %q: %s(%s) fails on an alert without %s; the alert then goes to on_scope_error (%s by default)", r.Name, c.Func, c.Field, c.Field, ScopeDeadLetter)}
		d.Detail = fmt.Sprintf("write %s(%s ?? \"\") to treat a missing %s as empty", c.Func, c.Field, c.Field)
		l.diags = append(l.diags, d)
	}
}

// scopeOffset is the position in the file of the rune at offset in a scope
// whose text starts at start. Every line of a block scalar starts at the
// block's indentation, the first one's column.
func scopeOffset(start diag.Pos, scope string, offset int) diag.Pos {
	pos, col := start, 0
	for i, c := range []rune(scope) {
		if i == offset {
			break
		}
		col++
		if c == '\n' {
			pos.Line++
			col = 0
		}
	}
	pos.Column += col
	return pos
}

func (l *loader) pos(n *yaml.Node) diag.Pos {
	return diag.Pos{File: l.file, Line: n.Line, Column: n.Column}
}

// scalarStart is where a scalar's text begins, so an expression error at
// offset k of the text lands on the right column: one past the opening quote
// of a quoted scalar, the first content line of a block scalar.
func (l *loader) scalarStart(n *yaml.Node) diag.Pos {
	p := l.pos(n)
	switch n.Style {
	case yaml.SingleQuotedStyle, yaml.DoubleQuotedStyle:
		p.Column++
	case yaml.LiteralStyle, yaml.FoldedStyle:
		p.Line++
		line := diag.SourceLine(l.src, p.Line)
		p.Column = len(line) - len(strings.TrimLeft(line, " ")) + 1
	}
	return p
}

// check validates values once every key is decoded, and fills defaults.
func (l *loader) check(in *Integration, root *yaml.Node, seen map[string]kv, dir string) {
	val := func(key string) *yaml.Node { return seen[key].val }
	has := func(key string) bool { e, ok := seen[key]; return ok && e.ok }

	switch {
	case !has("on_scope_error"):
		in.OnScopeError = ScopeDeadLetter
	case in.OnScopeError != ScopeDeadLetter && in.OnScopeError != ScopeSkip && in.OnScopeError != ScopeExport:
		d := l.errorf("C122", val("on_scope_error"), "on_scope_error %q: one of dead_letter (the default), skip, export", in.OnScopeError)
		d.Suggest = diag.Suggest(in.OnScopeError, []string{ScopeDeadLetter, ScopeSkip, ScopeExport})
	}
	if has("name") && !validName(in.Name) {
		l.errorf("C118", val("name"), "name %q: use letters, digits, '.', '_' and '-' (it names the state folder)", in.Name)
	}
	if has("destination") && in.Destination != DestinationSecurityLake {
		d := l.errorf("C110", val("destination"), "destination %q is not supported", in.Destination)
		d.Suggest = []string{DestinationSecurityLake}
	}
	if has("role_arn") {
		if err := store.CheckRoleARN(in.RoleARN); err != nil {
			l.errorf("C111", val("role_arn"), "role_arn: %v", err)
		}
	}
	if has("external_id") {
		if err := store.CheckExternalID(in.ExternalID); err != nil {
			d := l.errorf("C112", val("external_id"), "external_id: %v", err)
			d.Detail = "run 'ocsfmap integration init' to generate one, and paste the same value into the Security Lake custom source"
		}
	}
	if has("bucket") {
		if err := store.CheckBucket(in.Bucket); err != nil {
			l.errorf("C113", val("bucket"), "bucket %q: %v", in.Bucket, err)
		}
	}
	if has("region") {
		if err := store.CheckRegion(in.Region); err != nil {
			l.errorf("C114", val("region"), "region %q: %v", in.Region, err)
		}
	}
	if has("prefix") {
		in.Prefix = l.prefix("prefix", val("prefix"), in.Prefix)
	}
	_, sources := seen["custom_sources"]
	_, prefix := seen["prefix"]
	switch {
	case sources && prefix:
		d := l.errorf("C119", seen["custom_sources"].key, "give prefix or custom_sources, not both")
		d.Detail = "prefix names the custom source of a mapping's one class; custom_sources names one per class"
	case sources:
		in.sourcesPos = l.pos(seen["custom_sources"].key)
	case prefix:
		in.sourcesPos = l.pos(val("prefix"))
	default:
		d := l.errorf("C102", root, "missing required key %q", "prefix")
		d.Detail = "prefix: ext/<source name>/ names the Security Lake custom source; a mapping that emits several classes names one per class under custom_sources"
	}
	if _, ok := seen["role_arn"]; !ok {
		// Required unless every custom source names its own role.
		need := !sources
		for _, cs := range in.CustomSources {
			need = need || cs.RoleARN == ""
		}
		if need {
			l.errorf("C102", root, "missing required key %q", "role_arn")
		}
	}
	if has("source_version") && !sourceVersionRE.MatchString(in.SourceVersion) {
		l.errorf("C116", val("source_version"), "source_version %q: 1 to 32 letters, digits, '.', '_' or '-'", in.SourceVersion)
	}
	if has("mapping") && in.Mapping != "" {
		in.Mapping = resolve(dir, in.Mapping)
		if _, err := os.Stat(in.Mapping); err != nil {
			l.errorf("C117", val("mapping"), "mapping file %s not found (paths are relative to the integration file)", in.Mapping)
		}
	} else if has("mapping") {
		l.errorf("C117", val("mapping"), "mapping cannot be empty")
	}
	if in.StateDir == "" {
		in.StateDir = filepath.Join(dir, ".ocsfmap-state", in.Name)
	} else {
		in.StateDir = resolve(dir, in.StateDir)
	}
	if in.StagingDir == "" {
		in.StagingDir = filepath.Join(in.StateDir, "staging")
	} else {
		in.StagingDir = resolve(dir, in.StagingDir)
	}
}

// prefix checks a custom source's folder and returns it normalized.
func (l *loader) prefix(what string, n *yaml.Node, p string) string {
	norm, err := store.NormalizePrefix(p)
	switch {
	case err != nil:
		d := l.errorf("C115", n, "%s %q: %v", what, p, err)
		d.Detail = "Security Lake writes a custom source under ext/<source name>/, e.g. ext/dspm-security-alerts/"
	case norm != p:
		d := l.add(diag.Warning, "C115", n, "%s %q read as %q", what, p, norm)
		d.Detail = "object keys never start with '/'; the prefix is a folder and ends with '/'"
	}
	return norm
}

// customSources reads custom_sources: OCSF class name → the custom
// source's prefix, or → {prefix, role_arn} for a source whose role is not
// the file's role_arn (Security Lake makes one role per custom source).
func (l *loader) customSources(val *yaml.Node) []CustomSource {
	if val.Kind != yaml.MappingNode {
		d := l.errorf("C103", val, "custom_sources: a mapping of OCSF class to custom source prefix is expected")
		d.Detail = "custom_sources:\n  api_activity: ext/cloudtrail_api/\n  authentication:\n    prefix: ext/cloudtrail_auth/\n    role_arn: arn:aws:iam::…:role/AmazonSecurityLake-Provider-cloudtrail_auth-…"
		return nil
	}
	if len(val.Content) == 0 {
		l.errorf("C119", val, "custom_sources is empty: name one custom source per class the mapping emits")
		return nil
	}
	out := []CustomSource{}
	classLine := map[string]int{}
	prefixClass := map[string]string{}
	for i := 0; i+1 < len(val.Content); i += 2 {
		k, v := val.Content[i], val.Content[i+1]
		if line, dup := classLine[k.Value]; dup {
			l.errorf("C104", k, "custom_sources: class %q given twice (first at line %d)", k.Value, line)
			continue
		}
		classLine[k.Value] = k.Line
		cs := CustomSource{Class: k.Value, Pos: l.pos(k)}
		if k.Kind != yaml.ScalarNode || k.Value == "" {
			l.errorf("C103", k, "custom_sources: an OCSF class name is expected, like api_activity")
			continue
		}
		var prefixNode *yaml.Node
		switch v.Kind {
		case yaml.ScalarNode:
			prefixNode = v
		case yaml.MappingNode:
			for j := 0; j+1 < len(v.Content); j += 2 {
				kk, vv := v.Content[j], v.Content[j+1]
				switch kk.Value {
				case "prefix":
					prefixNode = vv
				case "role_arn":
					if r, ok := l.str("role_arn", vv); ok {
						if err := store.CheckRoleARN(r); err != nil {
							l.errorf("C111", vv, "role_arn: %v", err)
						}
						cs.RoleARN = r
					}
				default:
					d := l.errorf("C101", kk, "unknown custom source key %q", kk.Value)
					d.Suggest = diag.Suggest(kk.Value, []string{"prefix", "role_arn"})
				}
			}
			if prefixNode == nil {
				l.errorf("C102", k, "the custom source of %q needs a prefix", k.Value)
			}
		default:
			l.errorf("C103", v, "custom_sources: %s: a prefix (ext/<source>/) or {prefix, role_arn} is expected", k.Value)
		}
		if prefixNode != nil {
			if p, ok := l.str(k.Value, prefixNode); ok {
				cs.Prefix = l.prefix(k.Value, prefixNode, p)
			}
		}
		if cs.Prefix != "" {
			if other, dup := prefixClass[cs.Prefix]; dup {
				d := l.errorf("C119", prefixNode, "classes %q and %q share the custom source %s", other, cs.Class, cs.Prefix)
				d.Detail = "Security Lake takes one OCSF class per custom source: create one for each class"
			}
			prefixClass[cs.Prefix] = cs.Class
		}
		out = append(out, cs)
	}
	return out
}

// CheckClasses checks where the classes the mapping emits go (their names,
// in the mapping's order): Security Lake takes one class per custom source,
// so a mapping that emits several classes needs custom_sources, with a
// source for each class and for no other. The diagnostics are C119 errors.
func (in *Integration) CheckClasses(classes []string) diag.List {
	var out diag.List
	add := func(pos diag.Pos, format string, args ...any) *diag.Diagnostic {
		out = append(out, diag.Diagnostic{Severity: diag.Error, Code: "C119", Pos: pos,
			Source: diag.SourceLine(in.src, pos.Line), Message: fmt.Sprintf(format, args...)})
		return &out[len(out)-1]
	}
	if len(in.CustomSources) == 0 {
		if len(classes) > 1 {
			d := add(in.sourcesPos, "the mapping emits %d classes (%s) and Security Lake takes one class per custom source: "+
				"name one per class under custom_sources instead of prefix", len(classes), strings.Join(classes, ", "))
			d.Detail = "custom_sources:"
			for _, c := range classes {
				d.Detail += "\n  " + c + ": ext/<source for " + c + ">/"
			}
		}
		return out
	}
	for _, cs := range in.CustomSources {
		if !slices.Contains(classes, cs.Class) {
			d := add(cs.Pos, "custom_sources: the mapping emits no class %q (it emits %s)", cs.Class, strings.Join(classes, ", "))
			d.Suggest = diag.Suggest(cs.Class, classes)
		}
	}
	for _, c := range classes {
		if _, ok := in.customSource(c); !ok {
			add(in.sourcesPos, "custom_sources: class %q, which the mapping emits, has no custom source", c)
		}
	}
	out.Sort()
	return out
}

// kv is a key node and its value node: diagnostics about a value point at
// the value, those about the key (unknown, duplicate) at the key.
type kv struct {
	key, val *yaml.Node
	ok       bool // the value had the right type
}

func resolve(dir, p string) string {
	if filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(dir, p)
}

func validName(s string) bool {
	return s != "" && s != "." && s != ".." && nameRE.MatchString(s)
}

var (
	nameRE          = regexp.MustCompile(`^[A-Za-z0-9._-]+$`)
	sourceVersionRE = regexp.MustCompile(`^[A-Za-z0-9._-]{1,32}$`)
)

// Deliverer opens the integration's bucket (through the custom source role)
// and returns a Deliverer that keeps this integration's status and refuses
// keys outside its custom sources' prefixes. With one custom source per
// class, each key goes up as the role of the source whose prefix it is
// under. o's other fields tune retries and logging.
func (in *Integration) Deliverer(ctx context.Context, o store.DeliverOptions) (*store.Deliverer, error) {
	o.StateDir = in.StateDir
	if len(in.CustomSources) <= 1 {
		dst, err := store.NewS3(ctx, in.S3Options())
		if err != nil {
			return nil, err
		}
		o.KeyPrefix = in.KeyPrefix()
		return store.NewDeliverer(dst, o), nil
	}
	r := &bySource{}
	byRole := map[string]*store.S3{} // sources that share a role share its credentials
	for _, t := range in.Targets() {
		dst, ok := byRole[t.S3.RoleARN]
		if !ok {
			var err error
			if dst, err = store.NewS3(ctx, t.S3); err != nil {
				return nil, err
			}
			byRole[t.S3.RoleARN] = dst
		}
		r.routes = append(r.routes, route{prefix: t.KeyPrefix, dst: dst})
	}
	o.KeyPrefix = "ext/" // every source's; bySource refuses a key under none
	return store.NewDeliverer(r, o), nil
}

// bySource sends each key to the destination of the custom source whose
// prefix it is under.
type bySource struct {
	routes []route
}

type route struct {
	prefix string
	dst    store.Destination
}

func (b *bySource) Put(ctx context.Context, key, localPath string) (int64, error) {
	prefixes := make([]string, len(b.routes))
	for i, r := range b.routes {
		if strings.HasPrefix(key, r.prefix) {
			return r.dst.Put(ctx, key, localPath)
		}
		prefixes[i] = r.prefix
	}
	return 0, fmt.Errorf("%s is under no custom source's prefix (%s): the lake writer must stage each class's files under its own", key, strings.Join(prefixes, ", "))
}

func (b *bySource) String() string {
	s := make([]string, len(b.routes))
	for i, r := range b.routes {
		s[i] = r.prefix
	}
	return fmt.Sprintf("%s (custom sources %s)", b.routes[0].dst, strings.Join(s, ", "))
}

// sessionName is the AssumeRole session name, which CloudTrail shows: STS
// caps it at 64 characters.
func sessionName(name string) string {
	s := "ocsfmap-" + name
	if len(s) > 64 {
		s = s[:64]
	}
	return s
}
