// Package mappingtest runs the tests analysts write beside a mapping
// (<mapping>_test.yaml): an alert in, and what must come out — a subset of
// the OCSF record, the whole record, a dead-letter code — with every record
// also checked against the JSON Schema. `ocsfmap test` and `go test` both
// run them through the production code path.
package mappingtest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/ocsfmap/ocsfmap/engine"
	"github.com/ocsfmap/ocsfmap/engine/plan"
)

// File is one test file.
type File struct {
	Mapping string         `yaml:"mapping"` // relative to the test file
	Base    map[string]any `yaml:"base"`    // an alert every test starts from
	Tests   []Case         `yaml:"tests"`
}

// Case is one test.
type Case struct {
	Name      string         `yaml:"name"`
	Input     map[string]any `yaml:"input"`      // merged over Base; a null value removes the key
	InputRaw  string         `yaml:"input_raw"`  // the alert as raw text, instead of base + input
	InputFile string         `yaml:"input_file"` // the alert from a file, relative to the test file
	Contains  map[string]any `yaml:"contains"`   // the record holds at least this
	Absent    []string       `yaml:"absent"`     // dotted paths that must not be in the record
	Equals    map[string]any `yaml:"equals"`     // the record is exactly this
	Error     string         `yaml:"error"`      // the record is dead-lettered with this code
	Dropped   bool           `yaml:"dropped"`    // the mapping's drop_when leaves the record out
	Class     string         `yaml:"class"`      // the class the mapping's route names for the record
	line      int
}

// Result is the outcome of one case.
type Result struct {
	File     string
	Name     string
	Line     int
	Failures []string
}

// OK reports whether the case passed.
func (r Result) OK() bool { return len(r.Failures) == 0 }

// Find lists the *_test.yaml files under the given files or folders.
func Find(paths []string) ([]string, error) {
	var out []string
	for _, p := range paths {
		st, err := os.Stat(p)
		if err != nil {
			return nil, err
		}
		if !st.IsDir() {
			out = append(out, p)
			continue
		}
		err = filepath.WalkDir(p, func(path string, d os.DirEntry, err error) error {
			if err == nil && !d.IsDir() && strings.HasSuffix(path, "_test.yaml") {
				out = append(out, path)
			}
			return err
		})
		if err != nil {
			return nil, err
		}
	}
	sort.Strings(out)
	return out, nil
}

// Run runs every case of one test file. An error means the file itself (or
// its mapping) could not be loaded.
func Run(path string) ([]Result, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var f File
	dec := yaml.NewDecoder(bytes.NewReader(src))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	var lines yaml.Node
	if err := yaml.Unmarshal(src, &lines); err == nil {
		caseLines(&lines, f.Tests)
	}
	mappingPath := f.Mapping
	if mappingPath == "" {
		mappingPath = strings.TrimSuffix(filepath.Base(path), "_test.yaml") + ".yaml"
	}
	mappingPath = filepath.Join(filepath.Dir(path), mappingPath)
	m, err := engine.Load(mappingPath)
	if err != nil {
		return nil, fmt.Errorf("%s: mapping: %w", path, err)
	}
	mp := m.NewMapper()
	results := make([]Result, 0, len(f.Tests))
	for _, c := range f.Tests {
		results = append(results, runCase(path, m, mp, &f, c))
	}
	return results, nil
}

// caseLines records each test's line for failure messages.
func caseLines(doc *yaml.Node, cases []Case) {
	if len(doc.Content) == 0 {
		return
	}
	top := doc.Content[0]
	for i := 0; i+1 < len(top.Content); i += 2 {
		if top.Content[i].Value != "tests" {
			continue
		}
		for j, n := range top.Content[i+1].Content {
			if j < len(cases) {
				cases[j].line = n.Line
			}
		}
	}
}

func runCase(path string, m *engine.Mapping, mp *engine.Mapper, f *File, c Case) Result {
	res := Result{File: path, Name: c.Name, Line: c.line}
	fail := func(format string, args ...any) { res.Failures = append(res.Failures, fmt.Sprintf(format, args...)) }
	if c.Class != "" && !slices.Contains(m.Classes(), c.Class) {
		fail("class %s is not a class of the mapping (%s)", c.Class, strings.Join(m.Classes(), ", "))
		return res
	}
	input, err := caseInput(path, f, c)
	if err != nil {
		fail("input: %v", err)
		return res
	}
	out, violations, err := mp.MapValidated(input)
	if dropped := errors.Is(err, plan.ErrDropped); dropped || c.Dropped {
		if !dropped {
			fail("want the record dropped by drop_when, got %s", describeOutcome("", err, out))
		} else if c.Class != "" {
			fail("want class %s, got the record dropped by drop_when", c.Class)
		}
		return res
	}
	class := ""
	if k := mp.Class(); k >= 0 {
		class = m.Classes()[k]
	}
	switch {
	case c.Class == "" || class == c.Class:
	case class == "":
		fail("want class %s, got none: %v", c.Class, err)
	default:
		fail("want class %s, got %s (route: %s)", c.Class, class, m.Plan.Route)
	}
	if c.Error != "" {
		code := ""
		if pe, ok := err.(*plan.Error); ok {
			code = pe.Code
		} else if err != nil {
			code = "R400"
		} else if len(violations) > 0 {
			code = "V500"
		}
		if code != c.Error {
			fail("want dead letter %s, got %s", c.Error, describeOutcome(code, err, out))
		}
		return res
	}
	if err != nil {
		fail("mapping failed: %v", err)
		return res
	}
	for _, v := range violations {
		fail("not valid OCSF %s %s: %s", m.Plan.OCSFVersion, class, v)
	}
	var got map[string]any
	d := json.NewDecoder(bytes.NewReader(out))
	d.UseNumber()
	if err := d.Decode(&got); err != nil {
		fail("output is not JSON: %v", err)
		return res
	}
	if c.Equals != nil {
		for _, diff := range compare("", got, normalize(c.Equals), true) {
			fail("%s", diff)
		}
	}
	if c.Contains != nil {
		for _, diff := range compare("", got, normalize(c.Contains), false) {
			fail("%s", diff)
		}
	}
	for _, p := range c.Absent {
		if v, ok := dig(got, p); ok {
			fail("%s: want absent, got %s", p, show(v))
		}
	}
	return res
}

func describeOutcome(code string, err error, out []byte) string {
	switch {
	case err != nil:
		return fmt.Sprintf("%s (%v)", code, err)
	case code != "":
		return code
	}
	return "a valid record: " + string(out)
}

func caseInput(path string, f *File, c Case) ([]byte, error) {
	switch {
	case c.InputRaw != "":
		return []byte(c.InputRaw), nil
	case c.InputFile != "":
		return os.ReadFile(filepath.Join(filepath.Dir(path), c.InputFile))
	}
	alert := map[string]any{}
	for k, v := range f.Base {
		alert[k] = v
	}
	for k, v := range c.Input {
		if v == nil {
			delete(alert, k)
			continue
		}
		alert[k] = v
	}
	return json.Marshal(normalize(alert))
}

// normalize turns YAML-decoded values into what encoding/json decodes with
// UseNumber, so expected and actual values compare directly.
func normalize(v any) any {
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = normalize(e)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = normalize(e)
		}
		return out
	case int:
		return json.Number(fmt.Sprint(x))
	case int64:
		return json.Number(fmt.Sprint(x))
	case float64:
		return json.Number(fmt.Sprint(x))
	}
	return v
}

// compare lists the differences between got and want. With exact false,
// want is a subset: extra keys in got are fine; lists must match in length.
func compare(path string, got, want any, exact bool) []string {
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			return []string{fmt.Sprintf("%s: want an object, got %s", orRoot(path), show(got))}
		}
		var diffs []string
		keys := sortedKeys(w)
		for _, k := range keys {
			gv, ok := g[k]
			if !ok {
				diffs = append(diffs, fmt.Sprintf("%s: missing, want %s", join(path, k), show(w[k])))
				continue
			}
			diffs = append(diffs, compare(join(path, k), gv, w[k], exact)...)
		}
		if exact {
			for _, k := range sortedKeys(g) {
				if _, ok := w[k]; !ok {
					diffs = append(diffs, fmt.Sprintf("%s: unexpected, got %s", join(path, k), show(g[k])))
				}
			}
		}
		return diffs
	case []any:
		g, ok := got.([]any)
		if !ok || len(g) != len(w) {
			return []string{fmt.Sprintf("%s: got %s, want %s", orRoot(path), show(got), show(want))}
		}
		var diffs []string
		for i := range w {
			diffs = append(diffs, compare(fmt.Sprintf("%s[%d]", path, i), g[i], w[i], exact)...)
		}
		return diffs
	}
	if show(got) != show(want) {
		return []string{fmt.Sprintf("%s: got %s, want %s", orRoot(path), show(got), show(want))}
	}
	return nil
}

// dig follows a dotted path; a numeric part indexes a list (resources.0.uid).
func dig(v any, path string) (any, bool) {
	for _, part := range strings.Split(path, ".") {
		switch x := v.(type) {
		case map[string]any:
			var ok bool
			if v, ok = x[part]; !ok {
				return nil, false
			}
		case []any:
			i, err := strconv.Atoi(part)
			if err != nil || i < 0 || i >= len(x) {
				return nil, false
			}
			v = x[i]
		default:
			return nil, false
		}
	}
	return v, true
}

func show(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

func join(path, k string) string {
	if path == "" {
		return k
	}
	return path + "." + k
}

func orRoot(p string) string {
	if p == "" {
		return "record"
	}
	return p
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
