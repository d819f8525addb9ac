package integration

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/ocsfmap/ocsfmap/engine/diag"
)

const goodIntegration = `name: dspm-to-security-lake
destination: amazon-security-lake
mapping: mappings/security_finding.yaml   # relative to this file
role_arn: arn:aws:iam::123456789012:role/AmazonSecurityLake-Provider-dspmalerts-us-east-2
external_id: 3f9c0d2a7be14c55
bucket: aws-security-data-lake-us-east-2-o-4g8wg3sx9z
region: us-east-2
prefix: ext/dspm-security-alerts/
path_style: false
rules:
  - name: high-and-critical
    enabled: true
    scope: 'lower(risk ?? "") in ["critical", "high"]'
  - name: everything-else
    enabled: false
    scope: |
      true
`

// writeIntegration writes src as dir/integration.yaml beside an empty mapping.
func writeIntegration(t *testing.T, src string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "mappings"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "mappings", "security_finding.yaml"), []byte("ocsf: {class: security_finding}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "integration.yaml")
	if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLoadIntegration(t *testing.T) {
	p := writeIntegration(t, goodIntegration)
	in, err := LoadIntegration(p)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Dir(p)
	if in.Name != "dspm-to-security-lake" || in.Bucket != "aws-security-data-lake-us-east-2-o-4g8wg3sx9z" || in.Region != "us-east-2" ||
		in.Prefix != "ext/dspm-security-alerts/" || in.PathStyle || in.ExternalID != "3f9c0d2a7be14c55" {
		t.Errorf("loaded %+v", in)
	}
	if in.Mapping != filepath.Join(dir, "mappings", "security_finding.yaml") {
		t.Errorf("mapping %q not resolved against the file's folder", in.Mapping)
	}
	if in.StateDir != filepath.Join(dir, ".ocsfmap-state", "dspm-to-security-lake") || in.StagingDir != filepath.Join(in.StateDir, "staging") {
		t.Errorf("state %q staging %q", in.StateDir, in.StagingDir)
	}
	if in.Source() != "dspm-security-alerts" || in.KeyPrefix() != "ext/dspm-security-alerts/" {
		t.Errorf("source %q key prefix %q", in.Source(), in.KeyPrefix())
	}
	if len(in.Rules) != 2 {
		t.Fatalf("rules %+v", in.Rules)
	}
	r := in.Rules[0]
	if r.Name != "high-and-critical" || !r.Enabled || r.Scope != `lower(risk ?? "") in ["critical", "high"]` ||
		r.Pos != (diag.Pos{File: p, Line: 11, Column: 5}) || r.ScopePos != (diag.Pos{File: p, Line: 13, Column: 13}) {
		t.Errorf("rule 0 %+v", r)
	}
	// The scope position points at its first character, inside the quotes.
	if line := diag.SourceLine([]byte(goodIntegration), r.ScopePos.Line); line[r.ScopePos.Column-1:][:5] != "lower" {
		t.Errorf("scope position points at %q", line[r.ScopePos.Column-1:])
	}
	if r := in.Rules[1]; r.Enabled || r.Scope != "true\n" || r.ScopePos.Line != 17 || r.ScopePos.Column != 7 {
		t.Errorf("rule 1 %+v", r)
	}
	if len(in.Warnings()) != 0 {
		t.Errorf("warnings %v", in.Warnings())
	}
	if in.OnScopeError != ScopeDeadLetter {
		t.Errorf("on_scope_error %q, want the default %q", in.OnScopeError, ScopeDeadLetter)
	}
}

// TestScopeOnMissingField: lower/upper/trim on a bare field warns (C123)
// at the call, with the fix; a guarded call, a call in a string literal or
// a disabled rule does not.
func TestScopeOnMissingField(t *testing.T) {
	src := strings.Replace(goodIntegration, `lower(risk ?? "") in ["critical", "high"]`, `csp == "lower(x)" && (upper( risk ) == "HIGH" || trim(owner.name) != "")`, 1)
	src = strings.Replace(src, "    scope: |\n      true\n", "    scope: |\n      lower(ignored) == \"x\"\n", 1)
	in, err := LoadIntegration(writeIntegration(t, src))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, w := range in.Warnings() {
		got = append(got, fmt.Sprintf("%d:%d %s %s | %s", w.Pos.Line, w.Pos.Column, w.Code, w.Message, w.Detail))
	}
	want := []string{
		`13:35 C123 rule "high-and-critical": upper(risk) fails on an alert without risk; the alert then goes to on_scope_error (dead_letter by default) | write upper(risk ?? "") to treat a missing risk as empty`,
		`13:62 C123 rule "high-and-critical": trim(owner.name) fails on an alert without owner.name; the alert then goes to on_scope_error (dead_letter by default) | write trim(owner.name ?? "") to treat a missing owner.name as empty`,
	}
	if !slices.Equal(got, want) {
		t.Errorf("warnings:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestOnScopeError(t *testing.T) {
	for _, v := range []string{"skip", "export", "dead_letter"} {
		in, err := LoadIntegration(writeIntegration(t, goodIntegration+"on_scope_error: "+v+"\n"))
		if err != nil || in.OnScopeError != v {
			t.Errorf("%s: %v %+v", v, err, in)
		}
	}
	_, err := LoadIntegration(writeIntegration(t, goodIntegration+"on_scope_error: drop\n"))
	var list diag.List
	if !errors.As(err, &list) || len(list) != 1 || list[0].Code != "C122" || list[0].Pos.Line != 18 {
		t.Errorf("on_scope_error: drop: %v", err)
	}
}

func TestLoadIntegrationOptional(t *testing.T) {
	src := strings.Replace(goodIntegration, "path_style: false\n", "path_style: true\nsource_version: \"1.0\"\nstate_dir: /var/lib/ocsfmap\nstaging_dir: spool\n", 1)
	src = strings.Replace(src, "prefix: ext/dspm-security-alerts/", "prefix: /ext/dspm-security-alerts", 1)
	p := writeIntegration(t, src)
	in, err := LoadIntegration(p)
	if err != nil {
		t.Fatal(err)
	}
	if !in.PathStyle || in.KeyPrefix() != "ext/dspm-security-alerts/1.0/" || in.StateDir != "/var/lib/ocsfmap" ||
		in.StagingDir != filepath.Join(filepath.Dir(p), "spool") {
		t.Errorf("loaded %+v", in)
	}
	w := in.Warnings()
	if len(w) != 1 || w[0].Code != "C115" || w[0].Severity != diag.Warning || w[0].Pos.Line != 8 {
		t.Errorf("warnings %v, want the normalized prefix", w)
	}
}

// Each case edits the good file; want lists "line:col code" of every
// diagnostic, in order.
func TestLoadIntegrationDiagnostics(t *testing.T) {
	for _, tc := range []struct {
		name     string
		old, new string
		want     []string
		contains string
	}{
		{"unknown key", "region: us-east-2", "regoin: us-east-2", []string{"1:1 C102", "7:1 C101"}, `did you mean "region"`},
		{"duplicate key", "path_style: false", "path_style: false\nbucket: other-bucket", []string{"10:1 C104"}, "given twice"},
		{"wrong destination", "amazon-security-lake", "amazon-s3", []string{"2:14 C110"}, `did you mean "amazon-security-lake"`},
		{"role arn", "arn:aws:iam::123456789012:role/", "arn:aws:iam::12345:role/", []string{"4:11 C111"}, "not an IAM role ARN"},
		{"role arn user", ":role/AmazonSecurityLake", ":user/AmazonSecurityLake", []string{"4:11 C111"}, ""},
		{"empty external id", "external_id: 3f9c0d2a7be14c55", "external_id: ''", []string{"5:14 C112"}, "empty"},
		{"bad external id", "external_id: 3f9c0d2a7be14c55", "external_id: 'has space'", []string{"5:14 C112"}, "only letters"},
		{"bucket upper", "bucket: aws-security", "bucket: AWS-security", []string{"6:9 C113"}, "lowercase"},
		{"bucket ip", "bucket: aws-security-data-lake-us-east-2-o-4g8wg3sx9z", "bucket: 192.168.5.4", []string{"6:9 C113"}, "IP address"},
		{"bucket short", "bucket: aws-security-data-lake-us-east-2-o-4g8wg3sx9z", "bucket: ab", []string{"6:9 C113"}, "3 to 63"},
		{"region", "region: us-east-2", "region: Ohio", []string{"7:9 C114"}, "region name"},
		{"prefix not ext", "prefix: ext/dspm-security-alerts/", "prefix: dspm/", []string{"8:9 C115"}, "must start with ext/"},
		{"source too long", "prefix: ext/dspm-security-alerts/", "prefix: ext/dspm-security-alerts-all/", []string{"8:9 C115"}, "at most 20"},
		{"nested prefix", "prefix: ext/dspm-security-alerts/", "prefix: ext/dspm/1.0/", []string{"8:9 C115"}, "source_version"},
		{"path_style not bool", "path_style: false", "path_style: nope", []string{"9:13 C103"}, "true or false"},
		{"mapping missing", "mappings/security_finding.yaml", "mappings/nope.yaml", []string{"3:10 C117"}, "not found"},
		{"name with slash", "name: dspm-to-security-lake", "name: a/b", []string{"1:7 C118"}, ""},
		{"rules not a list", "rules:\n", "rules: {}\nx:\n", []string{"10:8 C103", "11:1 C101"}, ""},
		{"rule without scope", "    scope: 'lower(risk ?? \"\") in [\"critical\", \"high\"]'\n", "", []string{"11:5 C120"}, "needs a scope"},
		{"rule duplicate name", "name: everything-else", "name: high-and-critical", []string{"14:5 C120"}, "already used at line 11"},
		{"rule unknown key", "    enabled: true\n", "    enable: true\n", []string{"12:5 C101"}, `did you mean "enabled"`},
		{"string as list", "region: us-east-2", "region: [us-east-2]", []string{"7:9 C103"}, "a string is expected"},
		{"all problems at once", "region: us-east-2\nprefix: ext/dspm-security-alerts/", "region: x\nprefix: y", []string{"7:9 C114", "8:9 C115"}, ""},
		{"yaml syntax", "region: us-east-2", "region: [us-east-2", []string{"7:0 C100"}, "not valid YAML"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if !strings.Contains(goodIntegration, tc.old) {
				t.Fatalf("case edits text not in the file: %q", tc.old)
			}
			p := writeIntegration(t, strings.Replace(goodIntegration, tc.old, tc.new, 1))
			_, err := LoadIntegration(p)
			var list diag.List
			if !errors.As(err, &list) {
				t.Fatalf("err = %v, want a diag.List", err)
			}
			var got []string
			for _, d := range list {
				if d.Severity == diag.Error {
					got = append(got, strings.TrimPrefix(d.Pos.String(), p+":")+" "+d.Code)
				}
				if d.Pos.File != p {
					t.Errorf("diagnostic file %q", d.Pos.File)
				}
				if d.Pos.Line > 0 && d.Source == "" {
					t.Errorf("%s: no source line", d.Header())
				}
			}
			// YAML syntax errors carry a line only.
			for i, g := range got {
				if !strings.Contains(g, ":") {
					got[i] = strings.Replace(g, " ", ":0 ", 1)
				}
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("diagnostics %q, want %q\n%s", got, tc.want, list.Render())
			}
			if tc.contains != "" && !strings.Contains(list.Render(), tc.contains) {
				t.Errorf("rendered diagnostics lack %q:\n%s", tc.contains, list.Render())
			}
		})
	}
}

func TestLoadIntegrationAllRulesDisabled(t *testing.T) {
	p := writeIntegration(t, strings.Replace(goodIntegration, "enabled: true", "enabled: false", 1))
	in, err := LoadIntegration(p)
	if err != nil {
		t.Fatal(err)
	}
	if w := in.Warnings(); len(w) != 1 || w[0].Code != "C121" {
		t.Errorf("warnings %v", w)
	}
}

func TestLoadIntegrationNotAMapping(t *testing.T) {
	for _, src := range []string{"", "- a\n- b\n", "just text\n"} {
		p := writeIntegration(t, src)
		_, err := LoadIntegration(p)
		var list diag.List
		if !errors.As(err, &list) || list[0].Code != "C100" {
			t.Errorf("%q: %v", src, err)
		}
	}
	if _, err := LoadIntegration(filepath.Join(t.TempDir(), "missing.yaml")); err == nil || errors.As(err, new(diag.List)) {
		t.Errorf("missing file: %v", err)
	}
}

// The loader reads files users write: whatever the bytes, it answers with
// an Integration or diagnostics, never a panic, and every diagnostic is coded.
func FuzzParseIntegration(f *testing.F) {
	f.Add([]byte(goodIntegration))
	f.Add([]byte("rules: [{name: a, scope: |\n  x\n}]"))
	f.Add([]byte("name: [\nbucket: {a: b}\n"))
	f.Add([]byte("rules:\n  - scope: >\n\n      x\n"))
	f.Add([]byte("custom_sources:\n  a: ext/x/\n  b: {prefix: ext/x/, role_arn: [1]}\n  a: 3\n"))
	f.Fuzz(func(t *testing.T, src []byte) {
		in, diags := parseIntegration("fuzz.yaml", src)
		if in == nil {
			t.Fatal("nil integration")
		}
		for _, d := range diags {
			if len(d.Code) != 4 || d.Code[0] != 'C' || d.Message == "" {
				t.Fatalf("bad diagnostic %+v", d)
			}
		}
		for _, r := range in.Rules {
			if r.ScopePos.Line < 0 || r.ScopePos.Column < 0 {
				t.Fatalf("rule position %+v", r.ScopePos)
			}
		}
	})
}

// C123 reads the scope's syntax tree: a call in a block scope's later line
// is placed on that line, at the block's indentation plus its column; look-
// alikes (a string, a method, a guarded call, a let-variable) do not warn.
func TestScopeOnMissingFieldTree(t *testing.T) {
	src := strings.Replace(goodIntegration, `lower(risk ?? "") in ["critical", "high"]`,
		`note == "trim(x)" && meta.lower(y) == "" && (risk == nil || let r = risk; lower(r) != "")`, 1)
	src = strings.Replace(src, "    enabled: false\n    scope: |\n      true\n",
		"    enabled: true\n    scope: |\n      owner != nil && lower(owner) == \"x\" &&\n        upper(csp) == \"AWS\"\n", 1)
	p := writeIntegration(t, src)
	in, err := LoadIntegration(p)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, w := range in.Warnings() {
		got = append(got, fmt.Sprintf("%d:%d %s %s", w.Pos.Line, w.Pos.Column, w.Code, w.Source[w.Pos.Column-1:]))
	}
	want := []string{`18:9 C123 upper(csp) == "AWS"`}
	if !slices.Equal(got, want) {
		t.Errorf("warnings:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
