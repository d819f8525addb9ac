package store

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/ocsfmap/ocsfmap/engine/diag"
)

// DestinationSecurityLake is the only destination an integration file names today.
const DestinationSecurityLake = "amazon-security-lake"

// Integration is a loaded integration file: which mapping's output goes to
// which Security Lake custom source, through which role, filtered by which
// alert rules. Paths are resolved against the file's folder.
type Integration struct {
	File          string // the integration file, as given to LoadIntegration
	Name          string
	Destination   string
	Mapping       string // mapping file path, resolved against the integration file's folder
	RoleARN       string
	ExternalID    string // not a secret to AWS, but kept out of logs all the same
	Bucket        string
	Region        string
	Prefix        string // normalized: "ext/<source>/"
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
}

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

// Source is the custom source name: the segment after "ext/" in the prefix.
func (in *Integration) Source() string {
	return strings.TrimSuffix(strings.TrimPrefix(in.Prefix, "ext/"), "/")
}

// KeyPrefix is the folder every delivered object goes under: the prefix plus
// the source version segment when one is set. The lake writer lays out its
// staging folder under exactly this prefix.
func (in *Integration) KeyPrefix() string {
	if in.SourceVersion == "" {
		return in.Prefix
	}
	return in.Prefix + in.SourceVersion + "/"
}

// S3Options returns the options to reach this integration's bucket.
func (in *Integration) S3Options() S3Options {
	return S3Options{
		Bucket:      in.Bucket,
		Region:      in.Region,
		RoleARN:     in.RoleARN,
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
)

var integrationKeys = []struct {
	name     string
	kind     fieldKind
	required bool
}{
	{"name", kString, true},
	{"destination", kString, true},
	{"mapping", kString, true},
	{"role_arn", kString, true},
	{"external_id", kString, true},
	{"bucket", kString, true},
	{"region", kString, true},
	{"prefix", kString, true},
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
	in := &Integration{File: path}
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

	l.check(in, seen, dir)
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

// stringCall finds lower(x), upper(x) and trim(x) on a bare field outside
// string literals: they fail on an alert without x.
var stringCall = regexp.MustCompile(`\b(lower|upper|trim)\(\s*([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)\s*\)`)

// missingFieldCalls warns (C123) about a scope that calls lower, upper or
// trim on a field an alert may lack: the scope then fails to evaluate and
// the alert takes on_scope_error's way instead of being matched or not.
func (l *loader) missingFieldCalls(r Rule) {
	for _, m := range stringCall.FindAllStringSubmatchIndex(r.Scope, -1) {
		if inString(r.Scope[:m[0]]) {
			continue
		}
		fn, field := r.Scope[m[2]:m[3]], r.Scope[m[4]:m[5]]
		pos := r.ScopePos
		if nl := strings.LastIndexByte(r.Scope[:m[0]], '\n'); nl >= 0 {
			pos.Line += strings.Count(r.Scope[:m[0]], "\n")
			pos.Column = m[0] - nl
		} else {
			pos.Column += m[0]
		}
		d := diag.Diagnostic{Severity: diag.Warning, Code: "C123", Pos: pos, Source: diag.SourceLine(l.src, pos.Line),
			Message: fmt.Sprintf("rule %q: %s(%s) fails on an alert without %s; the alert then goes to on_scope_error (%s by default)", r.Name, fn, field, field, ScopeDeadLetter)}
		d.Detail = fmt.Sprintf("write %s(%s ?? \"\") to treat a missing %s as empty", fn, field, field)
		l.diags = append(l.diags, d)
	}
}

// inString tells whether text ends inside a quoted string literal.
func inString(text string) bool {
	var quote rune
	escaped := false
	for _, c := range text {
		switch {
		case escaped:
			escaped = false
		case c == '\\' && quote != 0:
			escaped = true
		case quote != 0 && c == quote:
			quote = 0
		case quote == 0 && (c == '"' || c == '\'' || c == '`'):
			quote = c
		}
	}
	return quote != 0
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
func (l *loader) check(in *Integration, seen map[string]kv, dir string) {
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
		if err := CheckRoleARN(in.RoleARN); err != nil {
			l.errorf("C111", val("role_arn"), "role_arn: %v", err)
		}
	}
	if has("external_id") {
		if err := CheckExternalID(in.ExternalID); err != nil {
			d := l.errorf("C112", val("external_id"), "external_id: %v", err)
			d.Detail = "run 'ocsfmap integration init' to generate one, and paste the same value into the Security Lake custom source"
		}
	}
	if has("bucket") {
		if err := CheckBucket(in.Bucket); err != nil {
			l.errorf("C113", val("bucket"), "bucket %q: %v", in.Bucket, err)
		}
	}
	if has("region") {
		if err := CheckRegion(in.Region); err != nil {
			l.errorf("C114", val("region"), "region %q: %v", in.Region, err)
		}
	}
	if has("prefix") {
		norm, err := NormalizePrefix(in.Prefix)
		switch {
		case err != nil:
			d := l.errorf("C115", val("prefix"), "prefix %q: %v", in.Prefix, err)
			d.Detail = "Security Lake writes a custom source under ext/<source name>/, e.g. ext/dspm-security-alerts/"
		case norm != in.Prefix:
			d := l.add(diag.Warning, "C115", val("prefix"), "prefix %q read as %q", in.Prefix, norm)
			d.Detail = "object keys never start with '/'; the prefix is a folder and ends with '/'"
		}
		in.Prefix = norm
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
// keys outside KeyPrefix. o's other fields tune retries and logging.
func (in *Integration) Deliverer(ctx context.Context, o DeliverOptions) (*Deliverer, error) {
	dst, err := NewS3(ctx, in.S3Options())
	if err != nil {
		return nil, err
	}
	o.KeyPrefix, o.StateDir = in.KeyPrefix(), in.StateDir
	return NewDeliverer(dst, o), nil
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
