package plan

import (
	"os"
	"regexp"
	"testing"

	"github.com/ocsfmap/ocsfmap/engine/spec"
)

// knownCode is every diagnostic code the loader may produce.
var knownCode = regexp.MustCompile(`^M(10[0-9]|20[1-4]|30[1-9]|31[012])$`)

// FuzzLoad feeds arbitrary bytes to the loader and compiler: no panic, only
// known diagnostic codes, and a plan exactly when there is no error.
func FuzzLoad(f *testing.F) {
	for _, name := range []string{
		"../../mappings/zscaler-dspm/security_finding_1.1.0.yaml",
		"../../mappings/zscaler-dspm/security_finding_1.0.0-rc.2.yaml",
		"../../mappings/zscaler-dspm/data_security_finding_1.3.0.yaml",
	} {
		src, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(src)
	}
	f.Add([]byte("format: ocsfmap/v1\nfields: {time: {expr: '1 +'}}"))
	f.Add([]byte("ocsf: {version: 1.3.0, class: data_security_finding}\nfields:\n  resources[0].data: {value: 1}\n  resources[0].data.x: {value: 2}"))
	f.Fuzz(func(t *testing.T, src []byte) {
		// Templates resolve relative to the file: load from the mappings folder.
		m, diags := spec.Parse("../../mappings/zscaler-dspm/fuzz.yaml", src)
		for _, d := range diags {
			if !knownCode.MatchString(d.Code) {
				t.Fatalf("unknown code %s: %s", d.Code, d.Header())
			}
		}
		if m == nil {
			return
		}
		p, more := Compile(m)
		for _, d := range more {
			if !knownCode.MatchString(d.Code) {
				t.Fatalf("unknown code %s: %s", d.Code, d.Header())
			}
		}
		if p != nil && more.HasErrors() || p == nil && !more.HasErrors() && !diags.HasErrors() {
			t.Fatalf("plan %v with errors %v / %v", p != nil, diags.HasErrors(), more.HasErrors())
		}
		if p != nil && !diags.HasErrors() {
			// A plan that compiled must map an empty record without panicking.
			p.NewMapper().Map([]byte(`{}`))
		}
	})
}
