package plan

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/tools/txtar"
)

// TestDiagnostics compiles each broken mapping under testdata/diag and checks
// that exactly the wanted diagnostics come out: position, severity, code, and
// words the message must hold (a suggestion is written `did you mean "x"`).
func TestDiagnostics(t *testing.T) {
	files, _ := filepath.Glob("testdata/diag/*.txtar")
	if len(files) == 0 {
		t.Fatal("no testdata/diag/*.txtar")
	}
	for _, file := range files {
		t.Run(strings.TrimSuffix(filepath.Base(file), ".txtar"), func(t *testing.T) {
			ar, err := txtar.ParseFile(file)
			if err != nil {
				t.Fatal(err)
			}
			dir := t.TempDir()
			var want []string
			for _, f := range ar.Files {
				if f.Name == "want" {
					for _, l := range strings.Split(strings.TrimSpace(string(f.Data)), "\n") {
						want = append(want, l)
					}
					continue
				}
				if err := os.WriteFile(filepath.Join(dir, f.Name), f.Data, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			wd, _ := os.Getwd()
			if err := os.Chdir(dir); err != nil {
				t.Fatal(err)
			}
			defer os.Chdir(wd)
			_, diags := Load("mapping.yaml")
			var errs []string
			for _, d := range diags {
				if d.Severity.String() == "error" {
					errs = append(errs, d.Header())
				}
			}
			if len(errs) != len(want) {
				t.Fatalf("got %d errors, want %d:\n%s", len(errs), len(want), diags.Render())
			}
			for _, w := range want {
				fields := strings.SplitN(w, " ", 3)
				prefix := fields[0] + " " + fields[1]
				found := false
				for _, got := range errs {
					if strings.HasPrefix(got, prefix) && (len(fields) < 3 || strings.Contains(got, fields[2])) {
						found = true
						break
					}
				}
				if !found {
					t.Errorf("want %q; got:\n%s", w, diags.Render())
				}
			}
		})
	}
}
