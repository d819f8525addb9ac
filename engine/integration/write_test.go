package integration

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// A file written from an IntegrationFile loads back to the same values,
// scopes full of YAML's special characters included, and FileOf gives the
// IntegrationFile again (the console's edit round trip).
func TestWriteIntegrationFileRoundTrip(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "mappings"), 0o755)
	os.WriteFile(filepath.Join(dir, "mappings", "sf.yaml"), []byte("ocsf: {class: security_finding}\n"), 0o644)
	f := IntegrationFile{
		Comment: "written by a test", Name: "acme", Destination: DestinationSecurityLake, Mapping: "mappings/sf.yaml",
		RoleARN: "arn:aws:iam::111122223333:role/AmazonSecurityLake-Provider-dspmalerts-us-east-2", RoleNote: "copied",
		ExternalID: "abcdefghijklmnopqrstuvwxyz234567", Bucket: "aws-security-data-lake-us-east-2-o-x", Region: "us-east-2",
		Prefix: "ext/dspmalerts/", PathStyle: true, Disabled: true,
		Rules: []Rule{
			{Name: "quotes", Enabled: true, Scope: `lower(risk ?? "") in ["critical", 'high'] && policy_name != "it's: #1"`},
			{Name: "lines", Enabled: false, Scope: "age > 30 &&\n  csp == \"AWS\""},
		},
	}
	path := filepath.Join(dir, "acme.yaml")
	if err := WriteIntegrationFile(path, f, false); err != nil {
		t.Fatal(err)
	}
	if err := WriteIntegrationFile(path, f, false); !errors.Is(err, ErrIntegrationExists) {
		t.Errorf("writing over an existing file without replace: %v", err)
	}
	src, _ := os.ReadFile(path)
	if !strings.HasPrefix(string(src), "# written by a test\n") || !strings.Contains(string(src), "enabled: false") {
		t.Errorf("the file:\n%s", src)
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600", fi.Mode().Perm())
	}
	in, err := LoadIntegration(path)
	if err != nil {
		t.Fatalf("%v\n%s", err, src)
	}
	if !in.Disabled || !in.PathStyle || in.Prefix != f.Prefix || in.RoleARN != f.RoleARN || len(in.Rules) != 2 {
		t.Errorf("loaded: %+v", in)
	}
	for i, r := range in.Rules {
		if r.Name != f.Rules[i].Name || r.Enabled != f.Rules[i].Enabled || strings.TrimSpace(r.Scope) != f.Rules[i].Scope {
			t.Errorf("rule %d: %q %v %q, want %q %v %q", i, r.Name, r.Enabled, r.Scope, f.Rules[i].Name, f.Rules[i].Enabled, f.Rules[i].Scope)
		}
	}
	back := FileOf(in)
	for i := range back.Rules {
		back.Rules[i] = Rule{Name: back.Rules[i].Name, Enabled: back.Rules[i].Enabled, Scope: strings.TrimSpace(back.Rules[i].Scope)}
	}
	want := f
	want.Comment, want.RoleNote, want.OnScopeError = "", "", ScopeDeadLetter
	if !reflect.DeepEqual(back, want) {
		t.Errorf("FileOf:\n got %+v\nwant %+v", back, want)
	}
	// Replacing keeps the file whole and enabled again drops the key.
	f.Disabled = false
	if err := WriteIntegrationFile(path, f, true); err != nil {
		t.Fatal(err)
	}
	if in, err := LoadIntegration(path); err != nil || in.Disabled {
		t.Errorf("after re-enabling: %v %+v", err, in)
	}
}

func TestRelativeMapping(t *testing.T) {
	for _, c := range []struct{ file, mapping, want string }{
		{"/srv/repo/integrations/a.yaml", "/srv/repo/mappings/m.yaml", "../mappings/m.yaml"},
		{"/srv/repo/a.yaml", "/srv/repo/mappings/m.yaml", "mappings/m.yaml"},
		{"/tmp/run/integrations/a.yaml", "/work/main/mappings/m.yaml", "/work/main/mappings/m.yaml"},
	} {
		if got := RelativeMapping(c.file, c.mapping); got != c.want {
			t.Errorf("RelativeMapping(%s, %s) = %s, want %s", c.file, c.mapping, got, c.want)
		}
	}
}

// A source without DSPM's risk field starts by exporting everything; one
// with it starts with DSPM's high-and-critical rule, "everything" off.
func TestStarterRules(t *testing.T) {
	if r := StarterRules([]string{"eventName", "riskScore"}); len(r) != 1 || r[0].Name != "everything" || !r[0].Enabled {
		t.Errorf("another source: %+v", r)
	}
	r := StarterRules([]string{"alert_id", "risk"})
	if len(r) != 2 || r[0].Name != "high-and-critical" || !r[0].Enabled || r[1].Name != "everything" || r[1].Enabled {
		t.Errorf("DSPM: %+v", r)
	}
}
