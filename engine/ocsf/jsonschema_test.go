package ocsf

import (
	"encoding/json"
	"slices"
	"testing"
)

func decodeSchema(t *testing.T, version, class string, profiles []string) map[string]any {
	t.Helper()
	b, err := mustLoad(t, version).JSONSchema(class, profiles)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func strs(v any) []string {
	var out []string
	for _, s := range v.([]any) {
		out = append(out, s.(string))
	}
	return out
}

func TestJSONSchemaProfiles(t *testing.T) {
	tests := []struct {
		class       string
		profiles    []string
		required    []string // must be in required
		notRequired []string
		absent      []string // not a property
	}{
		{"security_finding", nil, []string{"osint", "cloud"}, nil, nil},
		{"security_finding", []string{"cloud", "datetime"}, []string{"cloud"}, []string{"osint"}, []string{"osint"}},
		{"data_security_finding", nil, []string{"osint", "action_id"}, nil, nil},
		{"data_security_finding", []string{"cloud", "datetime"}, nil, []string{"osint", "action_id"}, []string{"action_id", "action"}},
	}
	for _, tt := range tests {
		m := decodeSchema(t, "1.3.0", tt.class, tt.profiles)
		req := strs(m["required"])
		if !slices.IsSorted(req) {
			t.Errorf("%s %v: required not sorted: %v", tt.class, tt.profiles, req)
		}
		for _, r := range tt.required {
			if !slices.Contains(req, r) {
				t.Errorf("%s %v: %s not required (%v)", tt.class, tt.profiles, r, req)
			}
		}
		for _, r := range tt.notRequired {
			if slices.Contains(req, r) {
				t.Errorf("%s %v: %s required", tt.class, tt.profiles, r)
			}
		}
		props := m["properties"].(map[string]any)
		for _, p := range tt.absent {
			if _, ok := props[p]; ok {
				t.Errorf("%s %v: property %s present", tt.class, tt.profiles, p)
			}
		}
	}
}

func TestJSONSchemaShape(t *testing.T) {
	m := decodeSchema(t, "1.1.0", "security_finding", nil)
	if m["$schema"] != "http://json-schema.org/draft-07/schema#" || m["additionalProperties"] != false || m["type"] != "object" {
		t.Fatalf("header: %v %v %v", m["$schema"], m["additionalProperties"], m["type"])
	}
	props := m["properties"].(map[string]any)
	defs := m["$defs"].(map[string]any)
	check := func(name string, got any, want string) {
		t.Helper()
		b, _ := json.Marshal(got)
		if string(b) != want {
			t.Errorf("%s = %s, want %s", name, b, want)
		}
	}
	check("class_uid", props["class_uid"], `{"const":2001,"title":"Class ID","type":"integer"}`)
	check("category_uid", props["category_uid"], `{"const":2,"title":"Category ID","type":"integer"}`)
	check("state_id", props["state_id"], `{"enum":[0,1,2,3,4,99],"title":"State ID","type":"integer"}`)
	check("type_uid (long_t: no enum)", props["type_uid"], `{"title":"Type ID","type":"integer"}`)
	check("time (timestamp_t)", props["time"], `{"title":"Event Time","type":"integer"}`)
	check("resources", props["resources"], `{"items":{"$ref":"#/$defs/resource_details"},"title":"Resources Array","type":"array"}`)
	check("finding", props["finding"], `{"$ref":"#/$defs/finding"}`)
	check("unmapped def", defs["object"], `{"additionalProperties":true,"properties":{},"title":"Object","type":"object"}`)
	process := defs["process"].(map[string]any)
	check("process.parent_process (recursion)", process["properties"].(map[string]any)["parent_process"], `{"$ref":"#/$defs/process"}`)
	if process["additionalProperties"] != false {
		t.Error("object process is open")
	}
	data := defs["resource_details"].(map[string]any)["properties"].(map[string]any)["data"]
	check("data (json_t)", data, `{"title":"Data"}`)
	// Every $ref points at a definition.
	var walk func(v any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			if ref, ok := x["$ref"].(string); ok {
				if _, ok := defs[ref[len("#/$defs/"):]]; !ok {
					t.Errorf("dangling %s", ref)
				}
			}
			for _, e := range x {
				walk(e)
			}
		case []any:
			for _, e := range x {
				walk(e)
			}
		}
	}
	walk(m)
}

func TestJSONSchemaDeterministic(t *testing.T) {
	c := mustLoad(t, "1.8.0")
	a, _ := c.JSONSchema("security_finding", []string{"datetime", "cloud", "cloud"})
	b, _ := c.JSONSchema("security_finding", []string{"cloud", "datetime"})
	if string(a) != string(b) {
		t.Fatal("the same profile set in another order gives another schema")
	}
	if _, err := c.JSONSchema("nope", nil); err == nil {
		t.Fatal("no error for an unknown class")
	}
}

// TestJSONSchemaConstraints locks the encoding of OCSF constraints to
// ocsf-server's (lib/schema/json_schema.ex): at_least_one as anyOf of
// {required: [a]}, just_one as oneOf of {required: [a], not: {required:
// [the others]}}, constrained attributes out of required.
func TestJSONSchemaConstraints(t *testing.T) {
	m := decodeSchema(t, "1.1.0", "security_finding", nil)
	user := m["$defs"].(map[string]any)["user"].(map[string]any)
	got, _ := json.Marshal(user["anyOf"])
	if want := `[{"required":["account"]},{"required":["name"]},{"required":["uid"]}]`; string(got) != want {
		t.Errorf("user anyOf = %s, want %s", got, want)
	}
	if _, ok := user["oneOf"]; ok {
		t.Errorf("user has a oneOf: %v", user["oneOf"])
	}

	m = decodeSchema(t, "1.8.0", "security_finding", nil)
	vuln := m["$defs"].(map[string]any)["vulnerability"].(map[string]any)
	got, _ = json.Marshal(vuln["oneOf"])
	want := `[{"not":{"required":["cve","cwe"]},"required":["advisory"]},` +
		`{"not":{"required":["advisory","cwe"]},"required":["cve"]},` +
		`{"not":{"required":["advisory","cve"]},"required":["cwe"]}]`
	if string(got) != want {
		t.Errorf("vulnerability oneOf = %s, want %s", got, want)
	}
}

func TestConstraintsOf(t *testing.T) {
	cat := mustLoad(t, "1.1.0")
	got := cat.ConstraintsOf("user", nil)
	if len(got) != 1 || got[0].Kind != AtLeastOne || !slices.Equal(got[0].Attrs, []string{"account", "name", "uid"}) {
		t.Errorf("ConstraintsOf(user) = %+v", got)
	}
	// resource_details inherits _entity's constraint through extends.
	got = cat.ConstraintsOf("resource_details", nil)
	if len(got) != 1 || !slices.Equal(got[0].Attrs, []string{"name", "uid"}) {
		t.Errorf("ConstraintsOf(resource_details) = %+v", got)
	}
	if got := cat.ConstraintsOf("no_such_object", nil); got != nil {
		t.Errorf("ConstraintsOf(unknown) = %+v", got)
	}
	// An attribute a profile adds is dropped with the profile.
	attrs := map[string]*Attr{"a": {Name: "a"}, "b": {Name: "b", Profile: "cloud"}}
	cons := &Constraints{AtLeastOne: []string{"b", "a"}, JustOne: []string{"b"}}
	if got := constraintsOf(attrs, cons, []string{}); len(got) != 1 || got[0].Kind != AtLeastOne || !slices.Equal(got[0].Attrs, []string{"a"}) {
		t.Errorf("no profiles: %+v", got)
	}
	if got := constraintsOf(attrs, cons, nil); len(got) != 2 || !slices.Equal(got[0].Attrs, []string{"b"}) || !slices.Equal(got[1].Attrs, []string{"a"}) {
		t.Errorf("every profile: %+v", got)
	}
}
