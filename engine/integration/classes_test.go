package integration

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/ocsfmap/ocsfmap/engine/diag"
	"github.com/ocsfmap/ocsfmap/engine/store"
	"github.com/ocsfmap/ocsfmap/engine/store/s3test"
)

// perClass is goodIntegration with one custom source per class instead of
// one prefix: the second source has a role of its own.
var perClass = strings.Replace(goodIntegration, "prefix: ext/dspm-security-alerts/\n", `custom_sources:
  api_activity: /ext/cloudtrail_api
  authentication:
    prefix: ext/cloudtrail_auth/
    role_arn: arn:aws:iam::123456789012:role/AmazonSecurityLake-Provider-cloudtrail_auth-us-east-2
`, 1)

func TestCustomSources(t *testing.T) {
	p := writeIntegration(t, perClass)
	in, err := LoadIntegration(p)
	if err != nil {
		t.Fatal(err)
	}
	want := []CustomSource{
		{Class: "api_activity", Prefix: "ext/cloudtrail_api/", Pos: diag.Pos{File: p, Line: 9, Column: 3}},
		{Class: "authentication", Prefix: "ext/cloudtrail_auth/", Pos: diag.Pos{File: p, Line: 10, Column: 3},
			RoleARN: "arn:aws:iam::123456789012:role/AmazonSecurityLake-Provider-cloudtrail_auth-us-east-2"},
	}
	if !slices.Equal(in.CustomSources, want) {
		t.Errorf("custom sources\n got %+v\nwant %+v", in.CustomSources, want)
	}
	// The first prefix was only normalized: a warning at its value.
	if w := in.Warnings(); len(w) != 1 || w[0].Code != "C115" || w[0].Pos.Line != 9 || w[0].Pos.Column != 17 {
		t.Errorf("warnings %v", w)
	}
	if d := in.CheckClasses([]string{"api_activity", "authentication"}); len(d) != 0 {
		t.Errorf("CheckClasses: %v", d)
	}
	for class, prefix := range map[string]string{"api_activity": "ext/cloudtrail_api/", "authentication": "ext/cloudtrail_auth/"} {
		if got := in.ClassKeyPrefix(class); got != prefix {
			t.Errorf("ClassKeyPrefix(%s) = %s, want %s", class, got, prefix)
		}
	}
	if in.KeyPrefix() != "ext/cloudtrail_api/" || in.Source() != "cloudtrail_api" {
		t.Errorf("KeyPrefix %s Source %s: the first class's", in.KeyPrefix(), in.Source())
	}
	if r := in.ClassS3Options("api_activity").RoleARN; r != in.RoleARN {
		t.Errorf("api_activity's role %s, want the file's", r)
	}
	if r := in.ClassS3Options("authentication").RoleARN; r != want[1].RoleARN {
		t.Errorf("authentication's role %s", r)
	}

	// With a source version, every class's folder has it.
	in2, err := LoadIntegration(writeIntegration(t, perClass+"source_version: \"2.0\"\n"))
	if err != nil {
		t.Fatal(err)
	}
	if got := in2.ClassKeyPrefix("authentication"); got != "ext/cloudtrail_auth/2.0/" {
		t.Errorf("with source_version: %s", got)
	}

	// One prefix: every class (the one) goes to it.
	one, err := LoadIntegration(writeIntegration(t, goodIntegration))
	if err != nil {
		t.Fatal(err)
	}
	if one.ClassKeyPrefix("security_finding") != one.KeyPrefix() || len(one.CheckClasses([]string{"security_finding"})) != 0 {
		t.Errorf("single class: %s", one.ClassKeyPrefix("security_finding"))
	}
}

// Each case edits perClass (or goodIntegration) and checks the classes a
// mapping emits; want lists "line:col code" of every error, in order.
func TestCustomSourcesDiagnostics(t *testing.T) {
	both := []string{"api_activity", "authentication"}
	for _, tc := range []struct {
		name     string
		base     string
		old, new string
		classes  []string
		want     []string
		contains string
	}{
		{"several classes, one prefix", goodIntegration, "", "", both,
			[]string{"8:9 C119"}, "name one per class under custom_sources"},
		{"class not covered", perClass, "  api_activity: /ext/cloudtrail_api\n", "", both,
			[]string{"8:1 C119"}, `class "api_activity", which the mapping emits, has no custom source`},
		{"unknown class", perClass, "  api_activity:", "  api_activty:", both,
			[]string{"8:1 C119", "9:3 C119"}, `did you mean "api_activity"`},
		{"class of another mapping", perClass, "", "", []string{"api_activity", "authentication", "http_activity"},
			[]string{"8:1 C119"}, `"http_activity"`},
		{"one class left over", perClass, "", "", []string{"api_activity"},
			[]string{"10:3 C119"}, `emits no class "authentication"`},
		{"shared source", perClass, "prefix: ext/cloudtrail_auth/", "prefix: ext/cloudtrail_api/", both,
			[]string{"11:13 C119"}, "share the custom source ext/cloudtrail_api/"},
		{"class twice", perClass, "  authentication:\n", "  api_activity: ext/x/\n  authentication:\n", both,
			[]string{"10:3 C104"}, "given twice (first at line 9)"},
		{"prefix and custom_sources", perClass, "path_style: false\n", "path_style: false\nprefix: ext/x/\n", both,
			[]string{"8:1 C119"}, "not both"},
		{"neither", goodIntegration, "prefix: ext/dspm-security-alerts/\n", "", []string{"security_finding"},
			[]string{"1:1 C102"}, `missing required key "prefix"`},
		{"bad source name", perClass, "/ext/cloudtrail_api", "ext/cloudtrail_api_activity_source/", both,
			[]string{"9:17 C115"}, "at most 20"},
		{"bad role", perClass, "role_arn: arn:aws:iam::123456789012:role/AmazonSecurityLake-Provider-cloudtrail_auth",
			"role_arn: arn:aws:iam::1234:role/AmazonSecurityLake-Provider-cloudtrail_auth", both, []string{"12:15 C111"}, "not an IAM role ARN"},
		{"no prefix in a source", perClass, "    prefix: ext/cloudtrail_auth/\n", "", both,
			[]string{"10:3 C102"}, "needs a prefix"},
		{"unknown source key", perClass, "    prefix: ext/cloudtrail_auth/", "    prefix: ext/cloudtrail_auth/\n    rolearn: x", both,
			[]string{"12:5 C101"}, `did you mean "role_arn"`},
		{"not a mapping", perClass, "  api_activity: /ext/cloudtrail_api\n  authentication:\n    prefix: ext/cloudtrail_auth/\n    role_arn: arn:aws:iam::123456789012:role/AmazonSecurityLake-Provider-cloudtrail_auth-us-east-2\n",
			"  - ext/a/\n", both, []string{"9:3 C103"}, "a mapping of OCSF class"},
		{"empty", perClass, "  api_activity: /ext/cloudtrail_api\n  authentication:\n    prefix: ext/cloudtrail_auth/\n    role_arn: arn:aws:iam::123456789012:role/AmazonSecurityLake-Provider-cloudtrail_auth-us-east-2\n",
			"  {}\n", both, []string{"9:3 C119"}, "is empty"},
		{"no role anywhere", perClass, "role_arn: arn:aws:iam::123456789012:role/AmazonSecurityLake-Provider-dspmalerts-us-east-2\n", "", both,
			[]string{"1:1 C102"}, `missing required key "role_arn"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if !strings.Contains(tc.base, tc.old) {
				t.Fatalf("case edits text not in the file: %q", tc.old)
			}
			src := strings.Replace(tc.base, tc.old, tc.new, 1)
			p := writeIntegration(t, src)
			in, err := LoadIntegration(p)
			var list diag.List
			switch {
			case err == nil:
				list = in.CheckClasses(tc.classes)
			case !errors.As(err, &list):
				t.Fatalf("err = %v, want a diag.List", err)
			}
			var got []string
			for _, d := range list {
				if d.Severity == diag.Error {
					got = append(got, strings.TrimPrefix(d.Pos.String(), p+":")+" "+d.Code)
				}
				if d.Pos.Line > 0 && d.Source == "" {
					t.Errorf("%s: no source line", d.Header())
				}
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("diagnostics %q, want %q\n%s\n%s", got, tc.want, list.Render(), src)
			}
			if !strings.Contains(list.Render(), tc.contains) {
				t.Errorf("rendered diagnostics lack %q:\n%s", tc.contains, list.Render())
			}
		})
	}
}

// A file written with custom sources loads back to them; a source whose
// role is the file's is written as its prefix alone.
func TestWriteCustomSources(t *testing.T) {
	in, err := LoadIntegration(writeIntegration(t, perClass))
	if err != nil {
		t.Fatal(err)
	}
	f := FileOf(in)
	if f.Prefix != "" || len(f.CustomSources) != 2 {
		t.Fatalf("FileOf: %+v", f)
	}
	text, err := f.Render()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"custom_sources:\n", "  api_activity: ext/cloudtrail_api/\n", "  authentication:\n    prefix: ext/cloudtrail_auth/\n    role_arn: "} {
		if !strings.Contains(string(text), want) {
			t.Errorf("rendered file lacks %q:\n%s", want, text)
		}
	}
	if strings.Contains(string(text), "\nprefix:") {
		t.Errorf("rendered file has a prefix besides custom_sources:\n%s", text)
	}
	p := filepath.Join(filepath.Dir(in.File), "again.yaml")
	if err := WriteIntegrationFile(p, f, false); err != nil {
		t.Fatal(err)
	}
	back, err := LoadIntegration(p)
	if err != nil {
		t.Fatal(err)
	}
	for i, cs := range back.CustomSources {
		w := in.CustomSources[i]
		if cs.Class != w.Class || cs.Prefix != w.Prefix || cs.RoleARN != w.RoleARN {
			t.Errorf("source %d: %+v, want %+v", i, cs, w)
		}
	}
}

// With a custom source per class, the Deliverer sends each file to the
// source whose prefix it is under (each through its own role) and refuses
// a file under none. Local folders stand in for the sources' bucket.
func TestBySource(t *testing.T) {
	dir := t.TempDir()
	api, auth := filepath.Join(dir, "api"), filepath.Join(dir, "auth")
	b := &bySource{routes: []route{{prefix: "ext/cloudtrail_api/", dst: store.NewLocal(api)}, {prefix: "ext/cloudtrail_auth/", dst: store.NewLocal(auth)}}}
	staged := filepath.Join(dir, "f.parquet")
	for _, key := range []string{"ext/cloudtrail_api/region=us-east-1/a.parquet", "ext/cloudtrail_auth/region=us-east-1/a.parquet"} {
		if err := os.WriteFile(staged, []byte(key), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := b.Put(context.Background(), key, staged); err != nil {
			t.Fatal(err)
		}
	}
	for d, key := range map[string]string{api: "ext/cloudtrail_api/region=us-east-1/a.parquet", auth: "ext/cloudtrail_auth/region=us-east-1/a.parquet"} {
		if got, err := os.ReadFile(filepath.Join(d, filepath.FromSlash(key))); err != nil || string(got) != key {
			t.Errorf("%s in %s: %q %v", key, d, got, err)
		}
		if _, err := os.Stat(filepath.Join(map[string]string{api: auth, auth: api}[d], filepath.FromSlash(key))); err == nil {
			t.Errorf("%s also went to the other source", key)
		}
	}
	if _, err := b.Put(context.Background(), "ext/other/a.parquet", staged); err == nil || !strings.Contains(err.Error(), "under no custom source's prefix") {
		t.Errorf("a key under no source: %v", err)
	}
}

// Through a real S3 server and STS stand-in: the Deliverer of a file with
// a custom source per class uploads each class's staged files under its
// own source's prefix, and leaves a file under no source's prefix staged.
func TestDelivererPerClass(t *testing.T) {
	const (
		region, bucket = "us-east-2", "aws-security-data-lake-us-east-2-o-cls"
		role           = "arn:aws:iam::444455556666:role/AmazonSecurityLake-Provider-ct-us-east-2"
		extID          = "per-class-external-id-01"
	)
	lake, err := s3test.StartLake(s3test.LakeConfig{Dir: t.TempDir(), Region: region, Bucket: bucket, RoleARN: role,
		ExternalID: extID, Account: "111122223333", WriterKey: "AKIAPERCLASSWRITER", WriterSecret: "per-class-writer-secret"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(lake.Close)
	for k, v := range lake.Env {
		t.Setenv(k, v)
	}
	src := strings.NewReplacer("arn:aws:iam::123456789012:role/AmazonSecurityLake-Provider-dspmalerts-us-east-2", role,
		"3f9c0d2a7be14c55", extID, "aws-security-data-lake-us-east-2-o-4g8wg3sx9z", bucket, "path_style: false", "path_style: true",
		"    role_arn: arn:aws:iam::123456789012:role/AmazonSecurityLake-Provider-cloudtrail_auth-us-east-2\n", "").Replace(perClass)
	in, err := LoadIntegration(writeIntegration(t, src))
	if err != nil {
		t.Fatal(err)
	}
	keys := map[string]string{
		"api_activity":   in.ClassKeyPrefix("api_activity") + "region=us-east-2/accountId=123456789012/eventDay=20240105/a.parquet",
		"authentication": in.ClassKeyPrefix("authentication") + "region=us-east-2/accountId=123456789012/eventDay=20240105/b.parquet",
		"none":           "ext/elsewhere/region=us-east-2/accountId=123456789012/eventDay=20240105/c.parquet",
	}
	for _, k := range keys {
		p := filepath.Join(in.StagingDir, filepath.FromSlash(k))
		os.MkdirAll(filepath.Dir(p), 0o755)
		os.WriteFile(p, []byte(k), 0o644)
	}
	d, err := in.Deliverer(context.Background(), store.DeliverOptions{Attempts: 1})
	if err != nil {
		t.Fatal(err)
	}
	rep, err := d.Deliver(context.Background(), in.StagingDir)
	if err == nil || rep.Objects != 2 || rep.Failed != 1 {
		t.Errorf("report %+v, err %v: want 2 delivered and the file under no source failed", rep, err)
	}
	objs, err := lake.S3.Objects(context.Background(), bucket)
	if err != nil {
		t.Fatal(err)
	}
	if len(objs) != 2 || objs[keys["api_activity"]] != int64(len(keys["api_activity"])) || objs[keys["authentication"]] != int64(len(keys["authentication"])) {
		t.Errorf("bucket holds %v", objs)
	}
	if _, err := os.Stat(filepath.Join(in.StagingDir, filepath.FromSlash(keys["none"]))); err != nil {
		t.Errorf("the file under no source's prefix is not left staged: %v", err)
	}
}
