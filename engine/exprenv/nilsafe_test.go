package exprenv

import "testing"

// TestMissingPathIsNil: reading through a missing or null object, or past
// the end of a list, gives nil (issue 18: `when: resource.resourceType ==
// "Instance"` dead-lettered records without a resource); the wrong kind of
// value is still an error.
func TestMissingPathIsNil(t *testing.T) {
	rec := map[string]any{
		"resource": map[string]any{"resourceType": "Instance", "tags": []any{"a"}},
		"groups":   []any{"admins"},
		"name":     "x",
		"empty":    nil,
	}
	for src, want := range map[string]any{
		`resource.resourceType == "Instance"`: true,
		`missing.resourceType == "Instance"`:  false,
		`empty.a.b.c`:                         nil,
		`resource.instanceDetails.instanceId`: nil,
		`groups[0]`:                           "admins",
		`groups[1]`:                           nil,
		`groups[1] ?? "none"`:                 "none",
		`resource.tags[3]`:                    nil,
		`missing[0].uid`:                      nil,
		`resource?.resourceType`:              "Instance",
		`resource["resourceType"]`:            "Instance",
		`len(groups) > 0 ? groups[0] : nil`:   "admins",
		`map(resource.tags, upper(#))[0]`:     "A",
		`upper(missing.name ?? "dflt")`:       "DFLT",
		`filter(groups, # == "admins")[0]`:    "admins",
		`resource.tags[-1]`:                   "a",
	} {
		p, err := Compile(src, Options{})
		if err != nil {
			t.Fatalf("%s: %v", src, err)
		}
		r := NewRunner()
		for k, v := range rec {
			r.Env[k] = v
		}
		got, err := r.Run(p)
		if err != nil || got != want {
			t.Errorf("%s = %#v, %v; want %#v", src, got, err, want)
		}
	}
	p, err := Compile(`name.first`, Options{})
	if err != nil {
		t.Fatal(err)
	}
	r := NewRunner()
	r.Env["name"] = "x"
	if _, err := r.Run(p); err == nil {
		t.Errorf("reading a field of a string: err = %v, want an error", err)
	}
}
