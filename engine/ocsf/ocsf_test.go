package ocsf

import (
	"errors"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
)

func mustLoad(t testing.TB, version string) *Catalog {
	t.Helper()
	c, err := Load(version)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestVersions(t *testing.T) {
	want := []string{"1.0.0", "1.0.0-rc.2", "1.1.0", "1.3.0", "1.8.0"}
	if got := Versions(); !reflect.DeepEqual(got, want) {
		t.Fatalf("Versions() = %v, want %v", got, want)
	}
	if _, err := Load("9.9.9"); err == nil || !strings.Contains(err.Error(), "not embedded") {
		t.Fatalf("Load(9.9.9) error = %v", err)
	}
}

func TestLoadConcurrentShared(t *testing.T) {
	var wg sync.WaitGroup
	got := make([]*Catalog, 8)
	for i := range got {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got[i], _ = Load("1.3.0")
		}()
	}
	wg.Wait()
	for _, c := range got {
		if c == nil || c != got[0] {
			t.Fatal("Load returned different or nil catalogs for one version")
		}
	}
}

func TestClasses(t *testing.T) {
	tests := []struct {
		version, class string
		uid            int64
		ok             bool
	}{
		{"1.0.0-rc.2", "security_finding", 2001, true},
		{"1.0.0", "security_finding", 2001, true},
		{"1.1.0", "security_finding", 2001, true},
		{"1.3.0", "security_finding", 2001, true},
		{"1.8.0", "security_finding", 2001, true},
		{"1.1.0", "data_security_finding", 0, false},
		{"1.3.0", "data_security_finding", 2006, true},
		{"1.8.0", "data_security_finding", 2006, true},
		{"1.1.0", "detection_finding", 2004, true},
		{"1.1.0", "finding", 0, false}, // abstract
	}
	for _, tt := range tests {
		cl, ok := mustLoad(t, tt.version).Class(tt.class)
		if ok != tt.ok || ok && (cl.UID != tt.uid || cl.CategoryUID != 2 || cl.CategoryName != "Findings") {
			t.Errorf("%s %s: ok=%v class=%+v, want ok=%v uid=%d", tt.version, tt.class, ok, cl, tt.ok, tt.uid)
		}
	}
	c := mustLoad(t, "1.1.0")
	if cl, ok := c.ClassByUID(2003); !ok || cl.Name != "compliance_finding" {
		t.Errorf("ClassByUID(2003) = %v, %v", cl, ok)
	}
	if o, ok := c.Object("finding"); !ok || o.Deprecated == nil || o.Deprecated.Since != "1.0.0" {
		t.Errorf("object finding in 1.1.0 = %+v, want deprecated since 1.0.0", o)
	}
	if _, ok := c.Object("_entity"); ok {
		t.Error("abstract object _entity is listed")
	}
}

func TestEnums(t *testing.T) {
	c := mustLoad(t, "1.1.0")
	attrs := c.ClassAttrs("security_finding", nil)
	tests := []struct {
		attr    string
		enum    map[int64]string
		sibling string
	}{
		{"activity_id", map[int64]string{0: "Unknown", 1: "Create", 2: "Update", 3: "Close", 99: "Other"}, "activity_name"},
		{"state_id", map[int64]string{0: "Unknown", 1: "New", 2: "In Progress", 3: "Suppressed", 4: "Resolved", 99: "Other"}, "state"},
		{"severity_id", map[int64]string{0: "Unknown", 1: "Informational", 2: "Low", 3: "Medium", 4: "High", 5: "Critical", 6: "Fatal", 99: "Other"}, "severity"},
		{"class_uid", map[int64]string{2001: "Security Finding"}, "class_name"},
		{"category_uid", map[int64]string{2: "Findings"}, "category_name"},
		{"type_uid", map[int64]string{200100: "Security Finding: Unknown", 200101: "Security Finding: Create",
			200102: "Security Finding: Update", 200103: "Security Finding: Close", 200199: "Security Finding: Other"}, "type_name"},
	}
	for _, tt := range tests {
		a := attrs[tt.attr]
		if a == nil || !reflect.DeepEqual(a.Enum, tt.enum) || a.Sibling != tt.sibling {
			t.Errorf("%s = %+v, want enum %v sibling %s", tt.attr, a, tt.enum, tt.sibling)
		}
	}
	if id, ok := attrs["state_id"].EnumID("in progress"); !ok || id != 2 {
		t.Errorf("EnumID(in progress) = %d, %v", id, ok)
	}
	if s, ok := attrs["severity_id"].EnumCaption(5); !ok || s != "Critical" {
		t.Errorf("EnumCaption(5) = %q, %v", s, ok)
	}
	owner := mustLoad(t, "1.8.0").ObjectAttrs("user", nil)["type_id"]
	if owner.Enum[4] != "Service" {
		t.Errorf("1.8.0 user.type_id = %v, want 4 Service", owner.Enum)
	}
}

func TestProfiles(t *testing.T) {
	c := mustLoad(t, "1.3.0")
	tests := []struct {
		class    string
		profiles []string
		want     []string
	}{
		{"security_finding", nil, []string{"activity_id", "category_uid", "class_uid", "cloud", "finding", "metadata", "osint", "severity_id", "state_id", "time", "type_uid"}},
		{"security_finding", []string{"cloud", "datetime"}, []string{"activity_id", "category_uid", "class_uid", "cloud", "finding", "metadata", "severity_id", "state_id", "time", "type_uid"}},
		{"security_finding", []string{}, []string{"activity_id", "category_uid", "class_uid", "finding", "metadata", "severity_id", "state_id", "time", "type_uid"}},
		{"data_security_finding", nil, []string{"action_id", "activity_id", "category_uid", "class_uid", "cloud", "finding_info", "metadata", "osint", "severity_id", "time", "type_uid"}},
		{"data_security_finding", []string{"cloud", "datetime"}, []string{"activity_id", "category_uid", "class_uid", "cloud", "finding_info", "metadata", "severity_id", "time", "type_uid"}},
		{"finding", nil, nil}, // object: uid and title
	}
	for _, tt := range tests {
		got := c.Required(tt.class, tt.profiles)
		if tt.class == "finding" {
			tt.want = []string{"title", "uid"}
		}
		if !slices.Equal(got, tt.want) {
			t.Errorf("Required(%s, %v) = %v, want %v", tt.class, tt.profiles, got, tt.want)
		}
	}
	if _, ok := c.ClassAttrs("security_finding", []string{"cloud"})["time_dt"]; ok {
		t.Error("time_dt present without the datetime profile")
	}
	if _, ok := c.ClassAttrs("security_finding", []string{"datetime"})["time_dt"]; !ok {
		t.Error("time_dt missing with the datetime profile")
	}
	// An object attribute added by a profile is filtered too (1.8.0 file.is_public: cloud).
	f := mustLoad(t, "1.8.0")
	if _, ok := f.ObjectAttrs("file", []string{"datetime"})["is_public"]; ok {
		t.Error("file.is_public present without the cloud profile")
	}
	if a := f.ObjectAttrs("file", nil)["is_public"]; a == nil || a.Profile != "cloud" {
		t.Errorf("file.is_public = %+v, want profile cloud", a)
	}
}

func TestResolve(t *testing.T) {
	c := mustLoad(t, "1.1.0")
	tests := []struct {
		path, canon, leaf, owner string
		open                     bool
		index                    []int
	}{
		{"resources[0].owner.type_id", "resources[0].owner.type_id", "type_id", "user", false, []int{0, NoIndex, NoIndex}},
		{"resources.0.owner.type_id", "resources[0].owner.type_id", "type_id", "user", false, []int{0, NoIndex, NoIndex}},
		{"finding.types[]", "finding.types[]", "types", "finding", false, []int{NoIndex, AllIndex}},
		{"finding.types", "finding.types", "types", "finding", false, []int{NoIndex, NoIndex}},
		{"resources[]", "resources[]", "resources", "security_finding", false, []int{AllIndex}},
		{"cloud.account.uid", "cloud.account.uid", "uid", "account", false, []int{NoIndex, NoIndex, NoIndex}},
		{"unmapped.anything.below", "unmapped.anything.below", "unmapped", "security_finding", true, []int{NoIndex, NoIndex, NoIndex}},
		{"resources[1].data.clusterName", "resources[1].data.clusterName", "data", "resource_details", true, []int{1, NoIndex, NoIndex}},
		{"unmapped", "unmapped", "unmapped", "security_finding", false, []int{NoIndex}},
	}
	for _, tt := range tests {
		r, err := c.Resolve("security_finding", nil, tt.path)
		if err != nil {
			t.Errorf("%s: %v", tt.path, err)
			continue
		}
		var idx []int
		for _, s := range r.Steps {
			idx = append(idx, s.Index)
		}
		last := r.Steps[len(r.Steps)-1]
		if r.Open {
			for _, s := range r.Steps {
				if s.Attr == r.Attr {
					last = s
				}
			}
		}
		if r.Path() != tt.canon || r.Attr.Name != tt.leaf || last.Owner != tt.owner || r.Open != tt.open || !slices.Equal(idx, tt.index) {
			t.Errorf("%s: path %s leaf %s owner %s open %v idx %v, want %s %s %s %v %v",
				tt.path, r.Path(), r.Attr.Name, last.Owner, r.Open, idx, tt.canon, tt.leaf, tt.owner, tt.open, tt.index)
		}
	}
}

func TestResolveErrors(t *testing.T) {
	c := mustLoad(t, "1.1.0")
	tests := []struct {
		class    string
		profiles []string
		path     string
		segment  string
		reason   string
		suggest  []string
	}{
		{"security_finding", nil, "resources.owner", "resources", "resources is an array: needs an index", nil},
		{"security_finding", nil, "severity_id[0]", "severity_id", "severity_id is not an array", nil},
		{"security_finding", nil, "severity_id.x", "severity_id", "severity_id is a scalar (integer_t): it has no attributes", nil},
		{"security_finding", nil, "finding.titel", "titel", `no attribute "titel" in finding`, []string{"title"}},
		{"security_finding", nil, "activty_id", "activty_id", `no attribute "activty_id" in security_finding`, []string{"activity_id"}},
		{"security_finding", nil, "cloud.acount.uid", "acount", `no attribute "acount" in cloud`, []string{"account"}},
		{"security_finding", []string{"datetime"}, "cloud.provider", "cloud", "security_finding.cloud belongs to profile cloud, which is not selected", nil},
		{"security_finding", nil, "a..b", "", "empty segment", nil},
		{"security_finding", nil, "0.a", "0", `misplaced index "0"`, nil},
		{"security_finding", nil, "resources[x]", "resources[x]", `bad index "x"`, nil},
		{"security_findng", nil, "time", "", `OCSF 1.1.0 has no class "security_findng"`, []string{"security_finding"}},
	}
	for _, tt := range tests {
		_, err := c.Resolve(tt.class, tt.profiles, tt.path)
		var pe *PathError
		if !errors.As(err, &pe) {
			t.Errorf("%s: error %v, want *PathError", tt.path, err)
			continue
		}
		if pe.Segment != tt.segment || pe.Reason != tt.reason || !slices.Equal(pe.Suggest, tt.suggest) || pe.Path != tt.path {
			t.Errorf("%s: got %+v, want segment %q reason %q suggest %v", tt.path, pe, tt.segment, tt.reason, tt.suggest)
		}
	}
	_, err := c.Resolve("security_finding", nil, "finding.titel")
	if want := `ocsf path "finding.titel": no attribute "titel" in finding (did you mean title?)`; err.Error() != want {
		t.Errorf("Error() = %q, want %q", err, want)
	}
}

func TestDeprecatedStep(t *testing.T) {
	r, err := mustLoad(t, "1.1.0").Resolve("security_finding", nil, "attacks[0].tactics[0].uid")
	if err != nil {
		t.Fatal(err)
	}
	s, ok := r.Deprecated()
	if !ok || s.Name != "tactics" || s.Deprecated.Since != "1.1.0" {
		t.Fatalf("Deprecated() = %+v, %v, want tactics since 1.1.0", s, ok)
	}
	r, _ = mustLoad(t, "1.0.0").Resolve("security_finding", nil, "attacks[0].tactics[0].uid")
	if s, ok := r.Deprecated(); ok {
		t.Fatalf("1.0.0: Deprecated() = %+v", s)
	}
}

func FuzzResolve(f *testing.F) {
	for _, s := range []string{"resources[0].owner.type_id", "finding.types[]", "unmapped.a.b", "a..b", "x[", "[]", "resources.0", "0"} {
		f.Add(s)
	}
	c, err := Load("1.8.0")
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, path string) {
		r, err := c.Resolve("security_finding", nil, path)
		if err != nil {
			var pe *PathError
			if !errors.As(err, &pe) {
				t.Fatalf("error %T %v is not a *PathError", err, err)
			}
			return
		}
		if r.Attr == nil || len(r.Steps) == 0 {
			t.Fatalf("resolved %q to %+v", path, r)
		}
		// The canonical path resolves to the same attribute.
		r2, err := c.Resolve("security_finding", nil, r.Path())
		if err != nil || r2.Attr != r.Attr {
			t.Fatalf("canonical %q of %q: %v", r.Path(), path, err)
		}
	})
}

// TestEveryEventClass checks that each version carries every event class of
// its OCSF source, not only the Findings, each found by name and by
// class_uid, with the category the uid encodes.
func TestEveryEventClass(t *testing.T) {
	counts := map[string]int{"1.0.0-rc.2": 29, "1.0.0": 33, "1.1.0": 44, "1.3.0": 65, "1.8.0": 76} // classes with a uid, and base_event
	for v, n := range counts {
		c := mustLoad(t, v)
		if got := len(c.ClassNames()); got != n {
			t.Errorf("%s: %d classes, want %d", v, got, n)
		}
		for _, name := range c.ClassNames() {
			cl, ok := c.Class(name)
			if !ok || cl.Name != name || len(cl.Attrs) == 0 {
				t.Fatalf("%s %s: %v, %v", v, name, cl, ok)
			}
			if byUID, ok := c.ClassByUID(cl.UID); !ok || byUID != cl {
				t.Errorf("%s: ClassByUID(%d) = %v, want %s", v, cl.UID, byUID, name)
			}
			if cl.UID/1000 != cl.CategoryUID || cl.CategoryName == "" {
				t.Errorf("%s %s: uid %d in category %d %q", v, name, cl.UID, cl.CategoryUID, cl.CategoryName)
			}
		}
	}
	for _, tt := range []struct {
		version, class string
		uid            int64
		category       string
	}{
		{"1.1.0", "api_activity", 6003, "Application Activity"},
		{"1.1.0", "authentication", 3002, "Identity & Access Management"},
		{"1.1.0", "http_activity", 4002, "Network Activity"},
		{"1.3.0", "api_activity", 6003, "Application Activity"},
		{"1.8.0", "authentication", 3002, "Identity & Access Management"},
		{"1.1.0", "base_event", 0, "Other"},
	} {
		cl, ok := mustLoad(t, tt.version).Class(tt.class)
		if !ok || cl.UID != tt.uid || cl.CategoryName != tt.category {
			t.Errorf("%s %s: %+v, %v", tt.version, tt.class, cl, ok)
		}
	}
	// An object a class reaches is there, decoded on first use.
	if o, ok := mustLoad(t, "1.1.0").Object("api"); !ok || o.Attrs["operation"] == nil {
		t.Errorf("1.1.0 object api: %v, %v", o, ok)
	}
}

// TestLazyConcurrent: goroutines asking for the same classes and objects of
// a fresh catalog at once get the same decoded values (run under -race).
func TestLazyConcurrent(t *testing.T) {
	c, err := parseEmbedded("1.3.0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	got := make([]*Class, 8)
	for i := range got {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got[i], _ = c.Class("api_activity")
			if _, err := c.JSONSchema("detection_finding", nil); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	for _, g := range got {
		if g == nil || g != got[0] {
			t.Fatal("concurrent first uses got different classes")
		}
	}
}
