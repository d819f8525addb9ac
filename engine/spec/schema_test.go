package spec

import (
	"bytes"
	"encoding/json"
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
	} {
		if sch.Validate(yamlDoc(t, []byte(bad))) == nil {
			t.Errorf("format schema accepts:\n%s", bad)
		}
		if _, diags := Parse("bad.yaml", []byte(bad)); !diags.HasErrors() {
			t.Errorf("loader accepts:\n%s", bad)
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
