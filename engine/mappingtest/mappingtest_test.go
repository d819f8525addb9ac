package mappingtest

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestShippedMappings runs every *_test.yaml beside the shipped mappings, the
// same way `ocsfmap test` does.
func TestShippedMappings(t *testing.T) {
	files, err := Find([]string{"../../mappings"})
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 3 {
		t.Fatalf("found %d mapping test files, want one per shipped mapping", len(files))
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			results, err := Run(f)
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range results {
				if !r.OK() {
					t.Errorf("%s:%d %s:\n  %s", r.File, r.Line, r.Name, strings.Join(r.Failures, "\n  "))
				}
			}
		})
	}
}

// TestEveryMappingHasTests keeps a shipped mapping from going untested.
func TestEveryMappingHasTests(t *testing.T) {
	mappings, _ := filepath.Glob("../../mappings/*/*.yaml")
	for _, m := range mappings {
		if strings.HasSuffix(m, "_test.yaml") {
			continue
		}
		test := strings.TrimSuffix(m, ".yaml") + "_test.yaml"
		if _, err := os.Stat(test); err != nil {
			t.Errorf("%s has no %s", m, filepath.Base(test))
		}
	}
}

// TestFailuresAreReported proves a wrong expectation fails: a runner that
// passes everything would pass the shipped tests too.
func TestFailuresAreReported(t *testing.T) {
	dir := t.TempDir()
	mapping, err := os.ReadFile("../../mappings/zscaler-dspm/security_finding_1.1.0.yaml")
	if err != nil {
		t.Fatal(err)
	}
	tmpl, _ := filepath.Abs("../../mappings/zscaler-dspm/templates")
	if err := os.Symlink(tmpl, filepath.Join(dir, "templates")); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "m.yaml"), mapping, 0o644)
	os.WriteFile(filepath.Join(dir, "m_test.yaml"), []byte(`
tests:
  - name: wrong severity
    input_raw: '{"alert_id":"a","risk":"High","alert_status":"Open","csp_event_timestamp":1793528130}'
    contains: {severity_id: 3}
  - name: wrong error code
    input_raw: '{"risk":"High"}'
    error: R404
  - name: unexpected key under equals
    input_raw: '{"alert_id":"a","csp_event_timestamp":1793528130}'
    equals: {class_uid: 2001}
  - name: passes
    input_raw: '{"alert_id":"a","risk":"High","csp_event_timestamp":1793528130}'
    contains: {severity_id: 4, finding: {uid: a}}
    absent: [compliance, resources.0.owner.email_addr]
  - name: present where absent is wanted
    input_raw: '{"alert_id":"a","identity_name":"j@example.com","csp_event_timestamp":1793528130}'
    absent: [resources.0.owner.email_addr]
`), 0o644)
	results, err := Run(filepath.Join(dir, "m_test.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	want := []bool{false, false, false, true, false}
	for i, r := range results {
		if r.OK() != want[i] {
			t.Errorf("%s: ok=%v, want %v (%v)", r.Name, r.OK(), want[i], r.Failures)
		}
	}
	if len(results[0].Failures) == 0 || !strings.Contains(results[0].Failures[0], "severity_id: got 4, want 3") {
		t.Errorf("failure text: %v", results[0].Failures)
	}
}
