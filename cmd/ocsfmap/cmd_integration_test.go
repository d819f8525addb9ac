package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ocsfmap/ocsfmap/engine/integration"
)

// integration init asks one custom source per class the mapping emits
// (Security Lake takes one class per custom source) and writes them under
// custom_sources. CloudTrail's mapping routes records to two classes; the
// rest is the real command against a fake STS.
func TestIntegrationInitPerClass(t *testing.T) {
	const region, bucket, account = "us-east-2", "aws-security-data-lake-us-east-2-o-init", "111122223333"
	lake := startFakeLake(t, region, bucket, "arn:aws:iam::444455556666:role/x", "unused-external-id", account, "AKIAINITWRITER", "init-writer-secret")
	for k, v := range lake.Env {
		t.Setenv(k, v)
	}
	mapping, err := filepath.Abs("../../mappings/aws-cloudtrail/cloudtrail_1.1.0.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cli := func(want int, args ...string) string {
		t.Helper()
		var out, errb bytes.Buffer
		if code := run(args, &out, &errb); code != want {
			t.Fatalf("ocsfmap %s: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), code, want, out.String(), errb.String())
		}
		return out.String() + errb.String()
	}
	base := []string{"integration", "init", "--region", region, "--bucket", bucket, "--mapping", mapping}

	// One source for two classes, a class the mapping does not emit, a
	// source shared by two classes: refused before AWS is called, each said.
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--source", "cloudtrail"}, "give --source CLASS=NAME for each"},
		{[]string{"--source", "api_activity=ct_api"}, "--source authentication=NAME is missing"},
		{[]string{"--source", "api_activty=ct_api", "--source", "authentication=ct_auth"}, `did you mean "api_activity"?`},
		{[]string{"--source", "api_activity=ct", "--source", "authentication=ct"}, "ct is already the source of api_activity"},
		{[]string{"--prefix", "ext/ct/"}, "--prefix names one custom source"},
		{[]string{"--source", "api_activity=ct_api", "--source", "authentication=ct_auth", "--role-arn", "arn:aws:iam::444455556666:role/r"}, "a role of its own"},
	} {
		if out := cli(2, append(append([]string{}, base...), c.args...)...); !strings.Contains(out, c.want) {
			t.Errorf("%v: output lacks %q:\n%s", c.args, c.want, out)
		}
	}

	file := filepath.Join(t.TempDir(), "cloudtrail.yaml")
	out := cli(0, append(base, "--source", "authentication=ct_auth", "--source", "api_activity=ct_api",
		"--lake-account", "444455556666", "--external-id", "init-external-id-0001", "-o", file)...)
	for _, want := range []string{
		"The mapping emits 2 classes",
		"Data source name   ct_api\n  Event class        API Activity (OCSF class_uid 6003)\n  Account ID         " + account,
		"Data source name   ct_auth\n  Event class        Authentication (OCSF class_uid 3002)",
		"AmazonSecurityLake-Provider-ct_auth-us-east-2, writable under s3://" + bucket + "/ext/ct_auth/",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("init output lacks %q:\n%s", want, out)
		}
	}
	in, err := integration.LoadIntegration(file)
	if err != nil {
		src, _ := os.ReadFile(file)
		t.Fatalf("%v\n%s", err, src)
	}
	if d := in.CheckClasses([]string{"api_activity", "authentication"}); len(d) > 0 {
		t.Errorf("the written file does not cover the classes: %v", d)
	}
	want := map[string]string{"api_activity": "ct_api", "authentication": "ct_auth"}
	for _, cs := range in.CustomSources {
		if cs.Source() != want[cs.Class] || cs.RoleARN != "arn:aws:iam::444455556666:role/AmazonSecurityLake-Provider-"+want[cs.Class]+"-us-east-2" {
			t.Errorf("custom source %+v", cs)
		}
	}
	// DSPM's starter rule reads risk, which CloudTrail has not: it would
	// export nothing, so the file starts by exporting everything.
	if len(in.Rules) != 1 || in.Rules[0].Name != "everything" || !in.Rules[0].Enabled || in.Rules[0].Scope != "true" {
		t.Errorf("starter rules %+v", in.Rules)
	}
	if len(in.CustomSources) != 2 || in.Prefix != "" || in.RoleARN != "" {
		t.Errorf("loaded %+v", in)
	}
}

// With its real classes (one), a mapping's source may be given as
// CLASS=NAME too, and the class must be the mapping's.
func TestIntegrationInitOneClass(t *testing.T) {
	mapping := "../../mappings/aws-guardduty/detection_finding_1.1.0.yaml"
	var out, errb bytes.Buffer
	code := run([]string{"integration", "init", "--region", "us-east-2", "--bucket", "aws-security-data-lake-x",
		"--mapping", mapping, "--source", "api_activity=ct"}, &out, &errb)
	if code != 2 || !strings.Contains(errb.String(), "the mapping's class is detection_finding") {
		t.Errorf("exit %d:\n%s%s", code, out.String(), errb.String())
	}
}

// connect checks every custom source of a file that names one per class;
// run refuses a mapping whose classes the custom sources do not match.
func TestConnectPerClass(t *testing.T) {
	const (
		region, bucket, account = "us-east-2", "aws-security-data-lake-us-east-2-o-cls", "111122223333"
		role                    = "arn:aws:iam::444455556666:role/AmazonSecurityLake-Provider-ct-us-east-2"
		extID                   = "per-class-external-id-01"
	)
	lake := startFakeLake(t, region, bucket, role, extID, account, "AKIACLASSWRITER", "class-writer-secret")
	for k, v := range lake.Env {
		t.Setenv(k, v)
	}
	mapping, _ := filepath.Abs("../../mappings/aws-cloudtrail/cloudtrail_1.1.0.yaml")
	file := filepath.Join(t.TempDir(), "ct.yaml")
	src := "name: ct\ndestination: amazon-security-lake\nmapping: " + mapping + "\nrole_arn: " + role + "\nexternal_id: " + extID +
		"\nbucket: " + bucket + "\nregion: " + region + "\npath_style: true\ncustom_sources:\n  api_activity: ext/ct_api/\n  authentication: ext/ct_auth/\n"
	if err := os.WriteFile(file, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	if code := run([]string{"connect", "-c", file, "--write-probe"}, &out, &errb); code != 0 {
		t.Fatalf("connect: exit %d\n%s%s", code, out.String(), errb.String())
	}
	for _, want := range []string{"Testing ct for api_activity → s3://" + bucket + "/ext/ct_api/", "Testing ct for authentication → s3://" + bucket + "/ext/ct_auth/", "Connection successful."} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("connect output lacks %q:\n%s", want, out.String())
		}
	}

	// A source for a class the mapping does not emit is refused before
	// anything is read.
	out.Reset()
	errb.Reset()
	if err := os.WriteFile(file, []byte(src+"  detection_finding: ext/ct_gd/\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	alerts := filepath.Join(t.TempDir(), "none.ndjson")
	os.WriteFile(alerts, nil, 0o644)
	if code := run([]string{"run", "-c", file, alerts}, &out, &errb); code != 2 || !strings.Contains(errb.String(), `error[C119]: custom_sources: the mapping emits no class "detection_finding"`) {
		t.Errorf("run: exit %d\n%s%s", code, out.String(), errb.String())
	}
}
