package engine

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ocsfmap/ocsfmap/engine/diag"
)

const loadedIntegration = `name: acme
destination: amazon-security-lake
mapping: MAPPING
role_arn: arn:aws:iam::123456789012:role/AmazonSecurityLake-Provider-dspmalerts-us-east-2
external_id: 3f9c0d2a7be14c55
bucket: aws-security-data-lake-us-east-2-o-4g8wg3sx9z
region: us-east-2
prefix: ext/dspmalerts/
rules:
  - name: high
    scope: 'lower(risk) == "high"'
`

// writeLoaded writes an integration file naming mapping (made absolute).
func writeLoaded(t *testing.T, src, mapping string) string {
	t.Helper()
	abs, err := filepath.Abs(mapping)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "acme.yaml")
	if err := os.WriteFile(p, []byte(strings.Replace(src, "MAPPING", abs, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLoadIntegration(t *testing.T) {
	p := writeLoaded(t, loadedIntegration, "../mappings/zscaler-dspm/security_finding_1.1.0.yaml")
	in, err := LoadIntegration(p)
	if err != nil {
		t.Fatal(err)
	}
	if in.Integ.Name != "acme" || in.Mapping.Plan.Class.Name != "security_finding" || in.Rules == nil || in.Rules.Rules() != 1 || len(in.MappingSum) != 64 {
		t.Errorf("loaded %+v", in)
	}
	// The rule's C123 warning, with its line.
	var c123 []diag.Diagnostic
	for _, w := range in.Warnings() {
		if w.Code == "C123" {
			c123 = append(c123, w)
		}
	}
	if len(c123) != 1 || c123[0].Pos.Line != 11 || !strings.Contains(c123[0].Source, "lower(risk)") {
		t.Errorf("warnings %v", in.Warnings())
	}
}

// Every stage that can run does: a rule that does not compile and custom
// sources that name a class the mapping does not emit are reported together,
// each in the integration file, with the source line.
func TestLoadIntegrationEveryProblem(t *testing.T) {
	src := strings.Replace(loadedIntegration, `lower(risk) == "high"`, `lowr(risk) == "high"`, 1)
	src = strings.Replace(src, "prefix: ext/dspmalerts/\n", "custom_sources:\n  security_findng: ext/dspmalerts/\n", 1)
	p := writeLoaded(t, src, "../mappings/zscaler-dspm/security_finding_1.1.0.yaml")
	_, err := LoadIntegration(p)
	var le *LoadError
	if !errors.As(err, &le) {
		t.Fatalf("err %v, want a *LoadError", err)
	}
	var got []string
	for _, d := range le.Diags {
		if d.Severity != diag.Error {
			continue
		}
		got = append(got, d.Code)
		if d.Pos.File != p || d.Source == "" {
			t.Errorf("%s: file %s source %q", d.Header(), d.Pos.File, d.Source)
		}
	}
	if strings.Join(got, " ") != "C119 C119 C201" {
		t.Errorf("errors %v:\n%s", got, le.Error())
	}
	for _, want := range []string{`did you mean "security_finding"`, `did you mean "lower"`} {
		if !strings.Contains(le.Error(), want) {
			t.Errorf("error lacks %q:\n%s", want, le.Error())
		}
	}
}

// A mapping that does not compile is the mapping file's error, with its
// diagnostics; every rule disabled is the integration file's.
func TestLoadIntegrationFailures(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	os.WriteFile(bad, []byte("format: ocsfmap/v1\nmapping: x/y\nocsf: {version: 1.1.0, class: security_findng}\n"), 0o644)
	_, err := LoadIntegration(writeLoaded(t, loadedIntegration, bad))
	var le *LoadError
	if !errors.As(err, &le) || le.File != bad || !le.Diags.HasErrors() || !strings.Contains(le.Error(), bad) {
		t.Errorf("broken mapping: %v", err)
	}

	p := writeLoaded(t, strings.Replace(loadedIntegration, "    scope:", "    enabled: false\n    scope:", 1), "../mappings/zscaler-dspm/security_finding_1.1.0.yaml")
	_, err = LoadIntegration(p)
	var re *RulesError
	if !errors.As(err, &le) || !errors.As(err, &re) || le.Diags.HasErrors() || !strings.Contains(err.Error(), "every alert rule is disabled") ||
		strings.Count(err.Error(), p) != 1 {
		t.Errorf("every rule disabled: %v", err)
	}
}
