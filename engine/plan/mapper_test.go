package plan

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/ocsfmap/ocsfmap/engine/alertgen"
	"github.com/ocsfmap/ocsfmap/engine/exprenv"
	"github.com/ocsfmap/ocsfmap/engine/spec"
)

func compileWithTemplates(t *testing.T, top, fields string, templates map[string]string) *Plan {
	t.Helper()
	dir := t.TempDir()
	for name, text := range templates {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	src := strings.Replace(header, "%s", top, 1) + fields
	m, diags := spec.Parse(filepath.Join(dir, "m.yaml"), []byte(src))
	if diags.HasErrors() {
		t.Fatalf("%s", diags.Render())
	}
	p, diags := Compile(m)
	if diags.HasErrors() {
		t.Fatalf("%s", diags.Render())
	}
	return p
}

// TestTemplateFallsBackToVM: a hole the native evaluator gives up on (+ on
// numbers, join of a non-string) renders the whole template on the VM, with
// the VM's value or the VM's error message.
func TestTemplateFallsBackToVM(t *testing.T) {
	p := compileWithTemplates(t, "on_error: null_field", `  status_detail: {template: sum.txt}
  message: {template: join.txt}
`, map[string]string{
		"sum.txt":  "{{ a + b }} and {{ name ?? \"x\" }}{{ c != nil ? \", c \" + str(c) : \"\" }}\n",
		"join.txt": "  {{ join([a, b], \"-\") }}\n\n",
	})
	m := p.NewMapper()
	for _, tc := range []struct {
		name, in    string
		detail, msg string // "" when absent
		joinErr     string // the code of the message rule's error
	}{
		{"native", `{"t": 1793528130, "id": "i", "a": "x", "b": "y", "c": 7}`, "xy and x, c 7", "x-y", ""},
		{"numbers add on the VM", `{"t": 1793528130, "id": "i", "a": 1, "b": 2, "name": "n"}`, "3 and n", "", "R401"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := m.Map([]byte(tc.in)); err != nil {
				t.Fatal(err)
			}
			got := map[string]string{}
			for _, r := range p.rules {
				if v := m.rec.Values[r.target.Slot]; v.Kind == String {
					got[r.path] = v.Str
				}
			}
			if got["status_detail"] != tc.detail || got["message"] != tc.msg {
				t.Fatalf("status_detail %q, message %q; want %q, %q", got["status_detail"], got["message"], tc.detail, tc.msg)
			}
			errs := m.SoftErrors()
			if tc.joinErr == "" {
				if len(errs) != 0 {
					t.Fatalf("soft errors %v", errs)
				}
				// And it rendered without the VM.
				for _, r := range p.rules {
					for _, seg := range r.template {
						if seg.prog == nil {
							continue
						}
						if _, _, ok := m.runner.Append(nil, seg.prog, m.src); !ok {
							t.Errorf("%s: hole %q ran on the VM", r.path, seg.prog.Text)
						}
					}
				}
				return
			}
			if len(errs) != 1 || errs[0].Code != tc.joinErr || errs[0].Path != "message" {
				t.Fatalf("soft errors %v", errs)
			}
			// The message is the one of the template's own VM program.
			var join *rule
			for _, r := range p.rules {
				if r.path == "message" {
					join = r
				}
			}
			vm := exprenv.NewRunner()
			vm.Env["a"], vm.Env["b"] = 1.0, 2.0
			_, want := vm.Run(join.templateProg)
			if want == nil || errs[0].Msg != firstLine(want.Error()) {
				t.Fatalf("message %q, want the VM's %v", errs[0].Msg, want)
			}
		})
	}
}

func TestLookupKeys(t *testing.T) {
	p := compileString(t, `lookups:
  sev: {high: 4, "in progress": 3, "ünï": 2, _default: 99}`, `  impact_id: {lookup: sev, from: level}
`)
	m := p.NewMapper()
	for _, tc := range []struct {
		level string
		want  string
	}{
		{`"HIGH"`, `"impact_id":4`},
		{`" \tHigh\n"`, `"impact_id":4`},
		{`" In Progress "`, `"impact_id":3`},
		{`"ÜNÏ"`, `"impact_id":2`},
		{`"\u00a0high"`, `"impact_id":4`}, // a non-ASCII blank, trimmed by the slow path
		{`"` + strings.Repeat("h", 100) + `"`, `"impact_id":99`},
		{`4`, `"impact_id":99`},
	} {
		// 99 is outside impact_id's enum: the lookup is what is tested here.
		if _, err := m.MapUnchecked([]byte(`{"t": 1793528130, "id": "a", "level": ` + tc.level + `}`)); err != nil {
			t.Fatalf("%s: %v", tc.level, err)
		}
		if out := string(m.AppendJSON(nil)); !strings.Contains(out, tc.want) {
			t.Errorf("level %s: want %s in %s", tc.level, tc.want, out)
		}
	}
}

// TestMappersShareAPlan maps one corpus with a mapper per goroutine over one
// plan: every goroutine must write exactly what a lone mapper writes. Run
// with -race.
func TestMappersShareAPlan(t *testing.T) {
	sm, diags := spec.Load("../../mappings/zscaler-dspm/security_finding_1.1.0.yaml")
	if diags.HasErrors() {
		t.Fatalf("%s", diags.Render())
	}
	p, diags := Compile(sm)
	if diags.HasErrors() {
		t.Fatalf("%s", diags.Render())
	}
	g := alertgen.New(7, alertgen.Options{Accounts: 5})
	alerts := make([][]byte, 300)
	for i := range alerts {
		alerts[i] = bytes.TrimSpace(g.AppendNDJSON(nil))
	}
	render := func(m *Mapper) []byte {
		var out []byte
		for _, a := range alerts {
			if _, err := m.Map(a); err != nil {
				var pe *Error
				if !errors.As(err, &pe) {
					t.Errorf("%v", err)
				}
				out = append(out, err.Error()...)
			} else {
				out = m.AppendJSON(out)
			}
			out = append(out, '\n')
		}
		return out
	}
	want := render(p.NewMapper())
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			if got := render(p.NewMapper()); !bytes.Equal(got, want) {
				t.Errorf("a concurrent mapper wrote different output")
			}
		})
	}
	wg.Wait()
}
