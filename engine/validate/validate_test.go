package validate

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/ocsfmap/ocsfmap/engine/ocsf"
	"github.com/santhosh-tekuri/jsonschema/v6"
)

func TestEverySchemaCompiles(t *testing.T) {
	t.Run("versions", func(t *testing.T) {
		for _, version := range ocsf.Versions() {
			t.Run(version, func(t *testing.T) {
				t.Parallel() // hundreds of classes: use the cores there are
				cat, err := ocsf.Load(version)
				if err != nil {
					t.Fatal(err)
				}
				for _, class := range cat.ClassNames() {
					// Every class with every attribute; the profile selections,
					// which only leave attributes out, on the Findings classes.
					selections := [][]string{nil}
					if cl, _ := cat.Class(class); cl.CategoryUID == 2 {
						selections = append(selections, []string{}, []string{"cloud", "datetime"})
					}
					for _, profiles := range selections {
						if _, err := For(version, class, profiles); err != nil {
							t.Errorf("%s %s %v: %v", version, class, profiles, err)
						}
					}
				}
			})
		}
	})
	for _, tt := range []struct{ version, class string }{
		{"1.0.0-rc.2", "security_finding"}, {"1.0.0", "security_finding"}, {"1.1.0", "security_finding"},
		{"1.3.0", "security_finding"}, {"1.8.0", "security_finding"},
		{"1.3.0", "data_security_finding"}, {"1.8.0", "data_security_finding"},
	} {
		if _, err := For(tt.version, tt.class, nil); err != nil {
			t.Errorf("%s %s: %v", tt.version, tt.class, err)
		}
	}
	if _, err := For("1.1.0", "data_security_finding", nil); err == nil {
		t.Error("1.1.0 data_security_finding compiled: the class arrived in 1.2.0")
	}
}

func TestForCachesPerProfileSet(t *testing.T) {
	a, _ := For("1.3.0", "security_finding", []string{"datetime", "cloud"})
	b, _ := For("1.3.0", "security_finding", []string{"cloud", "datetime", "cloud"})
	c, _ := For("1.3.0", "security_finding", nil)
	if a != b || a == c || a == nil {
		t.Fatalf("cache: %p %p %p", a, b, c)
	}
}

func decodeFile(t testing.TB, path string) any {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return doc
}

// The samples in testdata/ocsf-examples come from the public ocsf/examples
// repository. Each is valid against the schema of the profiles it declares
// in metadata.profiles, which is how OCSF tools validate. Against the
// all-profiles schema (ocsf-server's default) two fail, and there the
// schema, not the sample, is the strict side:
//   - guardduty (1.1.0 detection_finding) lacks action_id: required by the
//     security_control profile (1.1.0 profiles/security_control.json,
//     "action_id": requirement required), which detection_finding includes
//     but the sample does not declare. Its declared "linux" profile does not
//     exist before 1.2.0 and selects nothing.
//   - Okta (1.3.0 detection_finding) lacks cloud and osint: required by the
//     cloud and osint profiles that base_event includes (1.3.0
//     profiles/cloud.json and osint.json), neither declared by the sample.
func TestExamples(t *testing.T) {
	tests := []struct {
		file        string
		version     string
		class       string
		allProfiles []string // violations against the all-profiles schema
	}{
		{"AWS_v1.0.0-rc.2_Security_Hub__Security_Hub.ocsf.json", "1.0.0-rc.2", "security_finding", nil},
		{"AWS_v1.1.0_Security_Hub_Compliance_Finding__sechub-pci.ocsf.json", "1.1.0", "compliance_finding", nil},
		{"AWS_v1.1.0_Security_Hub_Detection_Finding__sechub-guardduty.ocsf.json", "1.1.0", "detection_finding",
			[]string{"/action_id: missing required attribute action_id [required]"}},
		{"AWS_v1.1.0_Security_Hub_Vulnerability_Finding__inspector.ocsf.json", "1.1.0", "vulnerability_finding", nil},
		{"Okta_v1.3.0_System_Logs_Detection_Finding__detection_finding.ocsf.json", "1.3.0", "detection_finding",
			[]string{"/cloud: missing required attribute cloud [required]", "/osint: missing required attribute osint [required]"}},
	}
	files, _ := filepath.Glob(filepath.Join("..", "..", "testdata", "ocsf-examples", "*.json"))
	if len(files) != len(tests) {
		t.Fatalf("%d sample files, %d in the table: update the table", len(files), len(tests))
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			doc := decodeFile(t, filepath.Join("..", "..", "testdata", "ocsf-examples", tt.file))
			v, err := ForRecord(doc)
			if err != nil {
				t.Fatal(err)
			}
			if v.Version != tt.version || v.Class != tt.class {
				t.Fatalf("ForRecord chose %s %s, want %s %s", v.Version, v.Class, tt.version, tt.class)
			}
			if got := v.Validate(doc); got != nil {
				t.Errorf("declared profiles %v: %v", v.Profiles, got)
			}
			all, err := For(tt.version, tt.class, nil)
			if err != nil {
				t.Fatal(err)
			}
			if got := strs(all.Validate(doc)); !slices.Equal(got, tt.allProfiles) {
				t.Errorf("all profiles: got %q, want %q", got, tt.allProfiles)
			}
		})
	}
}

func strs(vs []Violation) []string {
	var out []string
	for _, v := range vs {
		out = append(out, v.String())
	}
	return out
}

func validRecord(t testing.TB) map[string]any {
	return decodeFile(t, filepath.Join("testdata", "security_finding_1.1.0.json")).(map[string]any)
}

func TestValidRecord(t *testing.T) {
	for _, profiles := range [][]string{nil, {"cloud", "datetime"}} {
		v, err := For("1.1.0", "security_finding", profiles)
		if err != nil {
			t.Fatal(err)
		}
		if got := v.Validate(validRecord(t)); got != nil {
			t.Errorf("profiles %v: %v", profiles, got)
		}
	}
	// The same record with float64 numbers (encoding/json's default).
	b, _ := os.ReadFile(filepath.Join("testdata", "security_finding_1.1.0.json"))
	var doc any
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	v, _ := For("1.1.0", "security_finding", nil)
	if got := v.Validate(doc); got != nil {
		t.Errorf("float64 numbers: %v", got)
	}
}

func TestInvalidRecords(t *testing.T) {
	tests := []struct {
		name     string
		profiles []string
		mutate   func(m map[string]any)
		want     []string
	}{
		{"wrong type", nil, func(m map[string]any) { m["severity_id"] = "5" },
			[]string{"/severity_id: got string, want integer [type]"}},
		{"wrong nested type", nil, func(m map[string]any) { m["resources"].([]any)[0].(map[string]any)["labels"] = "env:prod" },
			[]string{"/resources/0/labels: got string, want array [type]"}},
		{"missing required", nil, func(m map[string]any) { delete(m, "state_id") },
			[]string{"/state_id: missing required attribute state_id [required]"}},
		{"missing nested required", nil, func(m map[string]any) { delete(m["finding"].(map[string]any), "title") },
			[]string{"/finding/title: missing required attribute title [required]"}},
		{"unknown attribute", nil, func(m map[string]any) { m["activity"] = "Open" },
			[]string{"/activity: unknown attribute activity [additionalProperties]"}},
		{"unknown nested attribute", nil, func(m map[string]any) { m["cloud"].(map[string]any)["account_uid"] = "1" },
			[]string{"/cloud/account_uid: unknown attribute account_uid [additionalProperties]"}},
		{"enum outside the set", nil, func(m map[string]any) { m["state_id"] = json.Number("7") },
			[]string{"/state_id: value must be one of 0, 1, 2, 3, 4, 99 [enum]"}},
		{"nested enum outside the set", nil, func(m map[string]any) {
			m["resources"].([]any)[0].(map[string]any)["owner"].(map[string]any)["type_id"] = 4.0
		}, []string{"/resources/0/owner/type_id: value must be one of 0, 1, 2, 3, 99 [enum]"}},
		{"wrong class_uid", nil, func(m map[string]any) { m["class_uid"] = 2004.0 },
			[]string{"/class_uid: value must be 2001 [const]"}},
		{"profile not selected", []string{"cloud"}, func(m map[string]any) {},
			[]string{"/time_dt: unknown attribute time_dt [additionalProperties]"}},
		{"profile attribute required", []string{"cloud", "datetime"}, func(m map[string]any) { delete(m, "cloud") },
			[]string{"/cloud: missing required attribute cloud [required]"}},
		{"every problem at once", nil, func(m map[string]any) {
			m["class_uid"] = 1.0
			m["time"] = "2024-06-01"
			delete(m, "metadata")
		}, []string{
			"/class_uid: value must be 2001 [const]",
			"/metadata: missing required attribute metadata [required]",
			"/time: got string, want integer [type]",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := For("1.1.0", "security_finding", tt.profiles)
			if err != nil {
				t.Fatal(err)
			}
			m := validRecord(t)
			tt.mutate(m)
			if got := strs(v.Validate(m)); !slices.Equal(got, tt.want) {
				t.Errorf("got %q\nwant %q", got, tt.want)
			}
		})
	}
}

func TestValidateJSON(t *testing.T) {
	v, _ := For("1.1.0", "security_finding", nil)
	b, _ := os.ReadFile(filepath.Join("testdata", "security_finding_1.1.0.json"))
	if got, err := v.ValidateJSON(b); err != nil || got != nil {
		t.Fatalf("valid: %v %v", got, err)
	}
	// An integer beyond float64 precision stays exact: still an integer.
	big := bytes.Replace(b, []byte(`"time": 1717258117000`), []byte(`"time": 9007199254740993`), 1)
	if got, err := v.ValidateJSON(big); err != nil || got != nil {
		t.Fatalf("big integer: %v %v", got, err)
	}
	frac := bytes.Replace(b, []byte(`"time": 1717258117000`), []byte(`"time": 1717258117000.5`), 1)
	if got, _ := v.ValidateJSON(frac); !slices.Equal(strs(got), []string{"/time: got number, want integer [type]"}) {
		t.Fatalf("fraction: %v", got)
	}
	if _, err := v.ValidateJSON([]byte(`{"a":`)); err == nil {
		t.Fatal("no error for malformed JSON")
	}
}

func TestPointerEscaping(t *testing.T) {
	v, _ := For("1.1.0", "security_finding", nil)
	m := validRecord(t)
	m["finding"].(map[string]any)["a/b~c"] = true
	want := []string{"/finding/a~1b~0c: unknown attribute a/b~c [additionalProperties]"}
	if got := strs(v.Validate(m)); !slices.Equal(got, want) {
		t.Fatalf("got %q, want %q", got, want)
	}
}

func TestForRecordErrors(t *testing.T) {
	for _, doc := range []any{
		map[string]any{"class_uid": 2001.0},
		map[string]any{"metadata": map[string]any{"version": "1.1.0"}},
		map[string]any{"class_uid": 9999.0, "metadata": map[string]any{"version": "1.1.0"}},
		map[string]any{"class_uid": 2001.0, "metadata": map[string]any{"version": "0.9"}},
		"not an object",
	} {
		if _, err := ForRecord(doc); err == nil {
			t.Errorf("ForRecord(%v): no error", doc)
		}
	}
}

func TestNoNetwork(t *testing.T) {
	c := newCompiler()
	doc := map[string]any{"$ref": "https://example.com/remote.json"}
	if err := c.AddResource("urn:test", doc); err != nil {
		t.Fatal(err)
	}
	_, err := c.Compile("urn:test")
	if err == nil || !strings.Contains(err.Error(), "refusing to load https://example.com/remote.json") {
		t.Fatalf("remote $ref: %v", err)
	}
}

func TestConcurrent(t *testing.T) {
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for i := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			profiles := [][]string{nil, {"cloud", "datetime"}}[i%2]
			v, err := For("1.1.0", "security_finding", profiles)
			if err != nil {
				errs <- err
				return
			}
			m := validRecord(t)
			if i%4 == 0 {
				m["state_id"] = 42.0
			}
			got := v.Validate(m)
			if (i%4 == 0) != (len(got) == 1) {
				errs <- fmt.Errorf("goroutine %d: %v", i, got)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// BenchmarkValidateSecurityFinding validates one realistic Security Finding
// 1.1.0 record (the DSPM vendor table's fields) against the cached schema.
func BenchmarkValidateSecurityFinding(b *testing.B) {
	v, err := For("1.1.0", "security_finding", []string{"cloud", "datetime"})
	if err != nil {
		b.Fatal(err)
	}
	doc := validRecord(b)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if got := v.Validate(doc); got != nil {
			b.Fatal(got)
		}
	}
}

func BenchmarkValidateInvalid(b *testing.B) {
	v, _ := For("1.1.0", "security_finding", nil)
	doc := validRecord(b)
	doc["state_id"] = 42.0
	doc["bogus"] = true
	b.ReportAllocs()
	for b.Loop() {
		if got := v.Validate(doc); len(got) != 2 {
			b.Fatal(got)
		}
	}
}

// FuzzValidateJSON: any input gives an error or a sorted violation list,
// never a panic.
func FuzzValidateJSON(f *testing.F) {
	b, err := os.ReadFile(filepath.Join("testdata", "security_finding_1.1.0.json"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	f.Add([]byte(`{"class_uid": 2001, "resources": [{"owner": {"type_id": 1e400}}]}`))
	f.Add([]byte(`[1, "a", null]`))
	v, err := For("1.1.0", "security_finding", nil)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		got, err := v.ValidateJSON(data)
		if err != nil {
			return
		}
		if !slices.IsSortedFunc(got, func(a, b Violation) int { return strings.Compare(a.Pointer, b.Pointer) }) {
			t.Fatalf("unsorted: %v", got)
		}
	})
}

// TestConstraintViolations: a failed OCSF constraint is one violation that
// names the constraint and its attributes, at the object's pointer.
func TestConstraintViolations(t *testing.T) {
	v, err := For("1.1.0", "security_finding", []string{"cloud", "datetime"})
	if err != nil {
		t.Fatal(err)
	}
	doc := validRecord(t)
	if got := v.Validate(doc); got != nil {
		t.Fatalf("sample invalid: %v", got)
	}
	res := doc["resources"].([]any)[0].(map[string]any)
	res["owner"] = map[string]any{"type_id": json.Number("0")}
	want := []Violation{{Pointer: "/resources/0/owner", Keyword: "at_least_one",
		Message: "constraint at_least_one: needs at least one of account, name, uid; has none"}}
	if got := v.Validate(doc); !slices.Equal(got, want) {
		t.Errorf("owner {type_id: 0}:\n got %v\nwant %v", got, want)
	}
	res["owner"] = map[string]any{"name": ""}
	if got := v.Validate(doc); got != nil {
		t.Errorf("owner {name: \"\"}: %v (OCSF constraints are about presence)", got)
	}

	v8, err := For("1.8.0", "security_finding", []string{"cloud", "datetime"})
	if err != nil {
		t.Fatal(err)
	}
	rec := map[string]any{"vulnerabilities": []any{map[string]any{
		"cve": map[string]any{"uid": "CVE-2024-0001"}, "cwe": map[string]any{"uid": "CWE-79"}}}}
	var got []Violation
	for _, vi := range v8.Validate(rec) {
		if strings.HasPrefix(vi.Pointer, "/vulnerabilities") {
			got = append(got, vi)
		}
	}
	want = []Violation{{Pointer: "/vulnerabilities/0", Keyword: "just_one",
		Message: "constraint just_one: needs exactly one of advisory, cve, cwe; has cve, cwe"}}
	if !slices.Equal(got, want) {
		t.Errorf("vulnerability with cve and cwe:\n got %v\nwant %v", got, want)
	}
}

func TestClassConstraintViolation(t *testing.T) {
	v, err := For("1.1.0", "incident_finding", []string{})
	if err != nil {
		t.Fatal(err)
	}
	var got []Violation
	for _, vi := range v.Validate(map[string]any{}) {
		if vi.Pointer == "" {
			got = append(got, vi)
		}
	}
	want := []Violation{{Pointer: "", Keyword: "at_least_one",
		Message: "constraint at_least_one: needs at least one of assignee, assignee_group; has none"}}
	if !slices.Equal(got, want) {
		t.Errorf("got %v\nwant %v", got, want)
	}
}

// TestIntegerKeywordAgrees: the compiled integer check (integer.go) reports
// exactly what the library's own type/enum/const keywords report, on the
// values a record can hold.
func TestIntegerKeywordAgrees(t *testing.T) {
	lib, ours := &Validator{schema: libSchema(t, false)}, &Validator{schema: libSchema(t, true)}
	values := []any{json.Number("5"), json.Number("42"), json.Number("1.5"), json.Number("5.0"), json.Number("1e2"),
		json.Number("99999999999999999999"), 5.0, 42.0, 2.5, int64(5), int64(-1), "5", true, nil, []any{}, map[string]any{}}
	for _, attr := range []string{"severity_id", "class_uid", "time", "count"} {
		for _, val := range values {
			doc := validRecord(t)
			doc[attr] = val
			if a, b := strs(lib.Validate(doc)), strs(ours.Validate(doc)); !slices.Equal(a, b) {
				t.Errorf("%s = %#v:\nlibrary %q\nours    %q", attr, val, a, b)
			}
		}
	}
	doc := validRecord(t)
	doc["resources"].([]any)[0].(map[string]any)["owner"].(map[string]any)["type_id"] = json.Number("7")
	if a, b := strs(lib.Validate(doc)), strs(ours.Validate(doc)); !slices.Equal(a, b) || len(a) != 1 {
		t.Errorf("nested enum:\nlibrary %q\nours    %q", a, b)
	}
}

// libSchema compiles the 1.1.0 security_finding schema with or without the
// integer keyword rewrite.
func libSchema(t testing.TB, rewrite bool) *jsonschema.Schema {
	cat, err := ocsf.Load("1.1.0")
	if err != nil {
		t.Fatal(err)
	}
	src, err := cat.JSONSchema("security_finding", []string{"cloud", "datetime"})
	if err != nil {
		t.Fatal(err)
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(src))
	if err != nil {
		t.Fatal(err)
	}
	if rewrite {
		rewriteIntegers(doc)
	}
	c := newCompiler()
	if err := c.AddResource("urn:t", doc); err != nil {
		t.Fatal(err)
	}
	sch, err := c.Compile("urn:t")
	if err != nil {
		t.Fatal(err)
	}
	return sch
}

// BenchmarkIntegerKeyword: one valid record through the library's own
// integer keywords and through ours.
func BenchmarkIntegerKeyword(b *testing.B) {
	doc := validRecord(b)
	for _, tc := range []struct {
		name    string
		rewrite bool
	}{{"library", false}, {"ours", true}} {
		v := &Validator{schema: libSchema(b, tc.rewrite)}
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if vs := v.Validate(doc); vs != nil {
					b.Fatal(vs)
				}
			}
		})
	}
}
