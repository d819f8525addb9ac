package spec

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"gopkg.in/yaml.v3"
)

// TestShippedMappingsMatchFormatSchema checks the editor schema of the
// mapping format (schemas/mapping/v1.schema.json) against the shipped
// mappings, and that it rejects what the loader rejects.
func TestShippedMappingsMatchFormatSchema(t *testing.T) {
	schemaFile, _ := filepath.Abs("../../schemas/mapping/v1.schema.json")
	c := jsonschema.NewCompiler()
	sch, err := c.Compile(schemaFile)
	if err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob("../../mappings/*/*.yaml")
	n := 0
	for _, f := range files {
		if strings.HasSuffix(f, "_test.yaml") {
			continue
		}
		n++
		if err := sch.Validate(yamlDoc(t, mustRead(t, f))); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
	if n < 3 {
		t.Fatalf("found %d mappings", n)
	}
	each := "format: ocsfmap/v1\nmapping: x\nversion: \"1\"\nocsf: {version: 1.1.0, class: c}\nfields:\n  resources:\n    each: items\n    when: '#.arn != nil'\n    fields:\n      uid: {from: arn}\n      owner.name: {expr: '#.o', default: x}\n"
	if err := sch.Validate(yamlDoc(t, []byte(each))); err != nil {
		t.Errorf("format schema refuses each: %v", err)
	}
	if _, diags := Parse("each.yaml", []byte(each)); diags.HasErrors() {
		t.Errorf("loader refuses each: %v", diags)
	}
	for _, bad := range []string{
		"format: ocsfmap/v1\nmapping: x\nversion: 1\nocsf: {version: 1.1.0, class: c}\nfields: {a: {from: x, value: 1}}",
		"format: ocsfmap/v1\nmapping: x\nversion: 1\nocsf: {version: 1.1.0, class: c}\nfields: {a: {valeu: 1}}",
		"format: ocsfmap/v1\nmapping: x\nversion: 1\nocsf: {version: 1.1.0, class: c}\nfeilds: {}",
		"format: ocsfmap/v2\nmapping: x\nversion: 1\nocsf: {version: 1.1.0, class: c}\nfields: {a: {from: x}}",
		"format: ocsfmap/v1\nmapping: x\nversion: 1\nocsf: {version: 1.1.0, class: c}\ninput: {record: [Records]}\nfields: {a: {from: x}}",
		"format: ocsfmap/v1\nmapping: x\nversion: 1\nocsf: {version: 1.1.0, class: c}\nfields: {a: {each: x, from: y, fields: {b: {from: c}}}}",
		"format: ocsfmap/v1\nmapping: x\nversion: 1\nocsf: {version: 1.1.0, class: c}\ninput: {records: {a: 1}}\nfields: {a: {from: x}}",
		// routing: classes without a route, a route without classes, a
		// class in ocsf beside classes, a class with an unknown key
		"format: ocsfmap/v1\nmapping: x\nversion: 1\nocsf: {version: 1.1.0}\nclasses: {a: {fields: {b: {from: x}}}}",
		"format: ocsfmap/v1\nmapping: x\nversion: 1\nocsf: {version: 1.1.0, class: c}\nroute: '\"c\"'\nfields: {a: {from: x}}",
		"format: ocsfmap/v1\nmapping: x\nversion: 1\nocsf: {version: 1.1.0, class: c}\nroute: '\"a\"'\nclasses: {a: {fields: {b: {from: x}}}}",
		"format: ocsfmap/v1\nmapping: x\nversion: 1\nocsf: {version: 1.1.0}\nroute: '\"a\"'\nclasses: {a: {feilds: {b: {from: x}}}}",
		"format: ocsfmap/v1\nmapping: x\nversion: 1\nocsf: {version: 1.1.0}\nfields: {a: {from: x}}",
	} {
		if sch.Validate(yamlDoc(t, []byte(bad))) == nil {
			t.Errorf("format schema accepts:\n%s", bad)
		}
		if _, diags := Parse("bad.yaml", []byte(bad)); !diags.HasErrors() {
			t.Errorf("loader accepts:\n%s", bad)
		}
	}
}

// TestRouting reads a mapping with classes and reports each misuse of
// route, classes and ocsf.class with its code, where it is.
func TestRouting(t *testing.T) {
	head := "format: ocsfmap/v1\nmapping: x\nversion: 1\n"
	m, diags := Parse("m.yaml", []byte(head+"ocsf: {version: 1.1.0, profiles: [cloud]}\nroute: 'kind == \"login\" ? \"authentication\" : \"api_activity\"'\nfields: {time: {from: t}}\nclasses:\n  api_activity:\n    fields: {api.operation: {from: op}}\n  authentication:\n    profiles: []\n    fields: {activity_id: {value: 1}, time: {from: t2}}\n"))
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	if m.Route == nil || len(m.Classes) != 2 || m.Classes[0].Name.Value != "api_activity" || m.Classes[1].Name.Value != "authentication" {
		t.Fatalf("route %v, classes %+v", m.Route, m.Classes)
	}
	if c := m.Classes[0]; c.ProfilesSet || len(c.Fields) != 1 || c.Fields[0].Path.Value != "api.operation" {
		t.Errorf("api_activity: %+v", c)
	}
	if c := m.Classes[1]; !c.ProfilesSet || len(c.Profiles) != 0 || len(c.Fields) != 2 || c.Name.Pos.Line != 10 {
		t.Errorf("authentication: %+v", c)
	}
	for src, want := range map[string]string{
		"ocsf: {version: 1.1.0}\nclasses: {a: {fields: {b: {from: x}}}}\n":                           "M104 1:1 missing key \"route\"",
		"ocsf: {version: 1.1.0, class: c}\nroute: '\"c\"'\nfields: {a: {from: x}}\n":                 "M104 5:8 route chooses among the mapping's classes",
		"ocsf: {version: 1.1.0, class: c}\nroute: '\"a\"'\nclasses: {a: {fields: {b: {from: x}}}}\n": "M103 4:31 ocsf.class names the class of a single-class mapping",
		"ocsf: {version: 1.1.0}\nroute: '\"a\"'\nclasses: {a: {feilds: {b: {from: x}}}}\n":           "M102 6:15 unknown key \"feilds\" in class a|M104 6:11 class a has no fields",
		"ocsf: {version: 1.1.0}\nroute: '\"a\"'\nclasses: {a: {profiles: []}}\n":                     "M104 6:11 class a has no fields",
		"ocsf: {version: 1.1.0}\nroute: '\"a\"'\nclasses: {}\n":                                      "M104 6:10 classes is empty",
		"ocsf: {version: 1.1.0}\nroute: '\"a\"'\nclasses: [a]\n":                                     "M103 6:10 classes must be a mapping",
		"ocsf: {version: 1.1.0}\nroute: '\"a\"'\nclasses: {a: {fields: {b: {from: x}}}, a: {}}\n":    "M106 6:40 class \"a\" given twice",
		"ocsf: {version: 1.1.0}\nfields: {a: {from: x}}\n":                                           "M104 4:7 missing key \"class\" in ocsf",
	} {
		_, diags := Parse("m.yaml", []byte(head+src))
		var got []string
		for _, d := range diags {
			got = append(got, fmt.Sprintf("%s %d:%d %s", d.Code, d.Pos.Line, d.Pos.Column, d.Message))
		}
		wants := strings.Split(want, "|")
		ok := len(got) == len(wants)
		for i := 0; ok && i < len(got); i++ {
			ok = strings.HasPrefix(got[i], wants[i])
		}
		if !ok {
			t.Errorf("%s: %q, want %q", src, got, wants)
		}
	}
}

// TestInputRecords: input.records takes a key or a list of keys.
func TestInputRecords(t *testing.T) {
	for src, want := range map[string]string{
		"input: {records: Records}":              "Records",
		"input: {records: [findings, Findings]}": "findings,Findings",
	} {
		m, diags := Parse("m.yaml", []byte("format: ocsfmap/v1\nmapping: x\nversion: 1\nocsf: {version: 1.1.0, class: c}\n"+src+"\nfields: {a: {from: x}}"))
		if diags.HasErrors() {
			t.Fatalf("%s: %v", src, diags)
		}
		var got []string
		for _, k := range m.Input.Records {
			got = append(got, k.Value)
		}
		if strings.Join(got, ",") != want {
			t.Errorf("%s: records %v, want %s", src, got, want)
		}
	}
}

// TestYAMLErrorLine: a YAML error points at the line of the mistake, with a
// hint for the unquoted expression in a flow mapping.
func TestYAMLErrorLine(t *testing.T) {
	head := "format: ocsfmap/v1\nmapping: x\nversion: 1\nocsf: {version: 1.1.0, class: c}\nfields:\n  a: {from: x}\n"
	for src, want := range map[string]int{
		head + "  time: {expr: epoch_ms(a) ?? epoch_ms(b)}\n  b: {from: y}\n": 7,
		head + "  b: [1, 2\n  c: {from: y}\n":                                 7,
		head + "  b: {from: y}\n   c: {from: z}\n":                            6, // yaml.v3 knows only where the block starts
		head + "  b: @x\n": 7,
	} {
		_, diags := Parse("m.yaml", []byte(src))
		if len(diags) != 1 || diags[0].Code != "M101" || diags[0].Pos.Line != want {
			t.Errorf("%q: %v, want M101 at line %d", src, diags, want)
		}
		if strings.Contains(src, "??") && !strings.Contains(diags[0].Detail, "{expr: 'a ?? b'}") {
			t.Errorf("no hint to quote the expression: %+v", diags[0])
		}
	}
}

func mustRead(t *testing.T, f string) []byte {
	b, err := os.ReadFile(f)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// yamlDoc converts YAML to the generic JSON value the validator takes.
func yamlDoc(t *testing.T, src []byte) any {
	var v any
	if err := yaml.Unmarshal(src, &v); err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	return doc
}
