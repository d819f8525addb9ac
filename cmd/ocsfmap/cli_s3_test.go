package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/ocsfmap/ocsfmap/engine/integration"
	"github.com/ocsfmap/ocsfmap/engine/store"
)

// TestRunToSecurityLake is the main job as a user runs it: an integration
// file with alert rules, `ocsfmap run -c` against a real S3 server
// (versitygw, SigV4) through an assumed role, objects under the exact
// Security Lake keys that open as Parquet, and `ocsfmap status` showing Success.
func TestRunToSecurityLake(t *testing.T) {
	const (
		region = "us-east-2"
		bucket = "aws-security-data-lake-us-east-2-o-run"
		role   = "arn:aws:iam::444455556666:role/AmazonSecurityLake-Provider-dspmalerts-us-east-2"
		extID  = "run-test-external-id-0001"
	)
	lake := startFakeLake(t, region, bucket, role, extID, "111122223333", "AKIARUNWRITER", "run-writer-secret")
	srv := lake.srv
	dir := t.TempDir()
	env := lake.environ(os.Environ())
	mapping, _ := filepath.Abs(mapping110)
	integ := filepath.Join(dir, "integration.yaml")
	write := func(scope string) {
		os.WriteFile(integ, []byte(fmt.Sprintf(`name: dspm-to-security-lake
destination: amazon-security-lake
mapping: %s
role_arn: %s
external_id: %s
bucket: %s
region: %s
prefix: ext/dspmalerts/
path_style: true
rules:
  - name: high-and-critical
    enabled: true
    scope: '%s'
  - name: everything-disabled
    enabled: false
    scope: 'true'
`, mapping, role, extID, bucket, region, scope)), 0o600)
	}
	write(`lower(risk) in ["critical", "high"]`)
	cli := func(want int, args ...string) string {
		t.Helper()
		cmd := exec.Command(bin, args...)
		cmd.Env = env
		out, err := cmd.CombinedOutput()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		}
		if code != want {
			t.Fatalf("ocsfmap %s: exit %d, want %d\n%s", strings.Join(args, " "), code, want, out)
		}
		return string(out)
	}
	if out := cli(0, "status", "-c", integ); !strings.Contains(out, "Pending") {
		t.Fatalf("before any delivery:\n%s", out)
	}
	in := filepath.Join(dir, "alerts.ndjson")
	// The README's rule on an alert without risk: lower() fails; the alert
	// is counted and dead-lettered (R407), never silently filtered.
	noRisk := regexp.MustCompile(`"risk":"[^"]*",`).ReplaceAll(alerts(1, 99, 1), nil)
	os.WriteFile(in, append(alerts(1500, 8, 2), noRisk...), 0o644)
	out := cli(0, "run", "-q", "-c", integ, in)
	var read, written, dead, filtered int
	fmt.Sscanf(out[strings.Index(out, "read "):], "read %d, written %d, dead-lettered %d, filtered %d", &read, &written, &dead, &filtered)
	if read != 1501 || read != written+dead+filtered || filtered == 0 || written == 0 {
		t.Fatalf("counts:\n%s", out)
	}
	scope := regexp.MustCompile(`, scope errors (\d+) \(R407 (\d+)`).FindStringSubmatch(out)
	if scope == nil || scope[1] != scope[2] || !strings.Contains(out, `rule "high-and-critical": scope failed for `+scope[1]+` alerts`) {
		t.Fatalf("alerts without risk are not counted as scope errors:\n%s", out)
	}
	if st := cli(0, "status", "-c", integ); !strings.Contains(st, "scope errors") {
		t.Fatalf("status does not show the scope error:\n%s", st)
	}
	if !strings.Contains(out, fmt.Sprintf(`rule "high-and-critical" exported %d`, written)) {
		t.Fatalf("per-rule count:\n%s", out)
	}
	objs, err := srv.Objects(context.Background(), bucket)
	if err != nil {
		t.Fatal(err)
	}
	key := regexp.MustCompile(`^ext/dspmalerts/region=[a-z0-9-]+/accountId=(\d{12}|external_[A-Za-z0-9._-]+)/eventDay=2026110[12]/[0-9a-f-]{36}\.parquet$`)
	var rows, size int64
	for k, n := range objs {
		if !key.MatchString(k) {
			t.Errorf("object key %q is not a Security Lake key", k)
		}
		body, _, err := srv.Get(context.Background(), bucket, k)
		if err != nil {
			t.Fatal(err)
		}
		local := filepath.Join(dir, "got.parquet")
		os.WriteFile(local, body, 0o644)
		rows += parquetRows(t, local)
		size += n
	}
	if rows != int64(written) {
		t.Fatalf("%d rows in %d objects, %d written", rows, len(objs), written)
	}
	// Staged files are removed once S3 confirmed them.
	st, err := integration.LoadIntegration(integ)
	if err != nil {
		t.Fatal(err)
	}
	if left := parquetFiles(t, st.StagingDir); len(left) != 0 {
		t.Fatalf("staged files left after delivery: %v", left)
	}
	var status struct {
		State string
		Total store.Counts
	}
	// stdout alone: the rule's C123 warning goes to stderr.
	statusCmd := exec.Command(bin, "status", "-c", integ, "--json")
	statusCmd.Env = env
	js, err := statusCmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(js, &status); err != nil {
		t.Fatal(err)
	}
	if status.State != "Success" || status.Total.Objects != int64(len(objs)) || status.Total.Bytes != size {
		t.Fatalf("status %+v; bucket has %d objects, %d bytes", status, len(objs), size)
	}

	// A rule no alert matches: everything is counted as filtered, nothing uploaded.
	write(`risk == "no such risk"`)
	out = cli(0, "run", "-q", "-c", integ, in)
	if !strings.Contains(out, "read 1501, written 0, dead-lettered 0, filtered 1501 in") {
		t.Fatalf("all filtered:\n%s", out)
	}
	if again, _ := srv.Objects(context.Background(), bucket); len(again) != len(objs) {
		t.Fatalf("a run that exported nothing uploaded %d objects", len(again)-len(objs))
	}
}

// TestRunRoutedToSecurityLake: a mapping that routes records to two classes
// (CloudTrail: API Activity, and Authentication for sign-ins), an
// integration file with one custom source per class, `ocsfmap run -c`
// against a real S3 server. Each class's objects are under its own custom
// source's prefix, and no object holds a record of the other class.
func TestRunRoutedToSecurityLake(t *testing.T) {
	const (
		region = "us-east-2"
		bucket = "aws-security-data-lake-us-east-2-o-routed"
		role   = "arn:aws:iam::444455556666:role/AmazonSecurityLake-Provider-cloudtrail-us-east-2"
		extID  = "routed-test-external-id-01"
	)
	lake := startFakeLake(t, region, bucket, role, extID, "111122223333", "AKIAROUTEDWRITER", "routed-writer-secret")
	dir := t.TempDir()
	mapping, _ := filepath.Abs("../../mappings/aws-cloudtrail/cloudtrail_1.1.0.yaml")
	integ := filepath.Join(dir, "cloudtrail.yaml")
	os.WriteFile(integ, []byte(fmt.Sprintf(`name: cloudtrail
destination: amazon-security-lake
mapping: %s
role_arn: %s
external_id: %s
bucket: %s
region: %s
path_style: true
custom_sources:
  api_activity: ext/ct_api/
  authentication: ext/ct_auth/
rules:
  - name: everything
    enabled: true
    scope: 'true'
`, mapping, role, extID, bucket, region)), 0o600)
	var inputs []string
	for _, f := range []string{"awsdocs-log-file-examples.json", "awsdocs-sign-in-events.json", "elastic-console-login.ndjson", "elastic-api-calls.ndjson", "eventbridge-iam.ndjson"} {
		inputs = append(inputs, "../../testdata/aws-cloudtrail/"+f)
	}
	cmd := exec.Command(bin, append([]string{"run", "-q", "-c", integ}, inputs...)...)
	cmd.Env = lake.environ(os.Environ())
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("run: %v\n%s", err, out)
	}
	var read, written int
	fmt.Sscanf(string(out[strings.Index(string(out), "read "):]), "read %d, written %d", &read, &written)
	if read == 0 || written != read || !strings.Contains(string(out), "s3://"+bucket+"/ext/ct_api/ and s3://"+bucket+"/ext/ct_auth/") {
		t.Fatalf("run:\n%s", out)
	}
	if !strings.Contains(string(out), "to s3://"+bucket+"/ext/ct_api/ and s3://"+bucket+"/ext/ct_auth/") {
		t.Errorf("run's summary does not name both custom sources:\n%s", out)
	}
	st := exec.Command(bin, "status", "-c", integ)
	st.Env = cmd.Env
	if out, err := st.CombinedOutput(); err != nil || !strings.Contains(string(out), "s3://"+bucket+"/ext/ct_api/ and s3://"+bucket+"/ext/ct_auth/") {
		t.Errorf("status does not name both custom sources: %v\n%s", err, out)
	}
	objs, err := lake.srv.Objects(context.Background(), bucket)
	if err != nil {
		t.Fatal(err)
	}
	classOf := map[string]json.Number{"ext/ct_api/": "6003", "ext/ct_auth/": "3002"}
	rows := map[string]int{}
	for k := range objs {
		prefix := k[:strings.Index(k[len("ext/"):], "/")+len("ext/")+1]
		want, ok := classOf[prefix]
		if !ok {
			t.Errorf("object %s is under no custom source of the file", k)
			continue
		}
		body, _, err := lake.srv.Get(context.Background(), bucket, k)
		if err != nil {
			t.Fatal(err)
		}
		local := filepath.Join(dir, "got.parquet")
		os.WriteFile(local, body, 0o644)
		for _, rec := range lakeRecords(t, local) {
			if rec["class_uid"] != want {
				t.Errorf("%s holds a record of class %v", k, rec["class_uid"])
			}
			rows[prefix]++
		}
	}
	if rows["ext/ct_api/"] == 0 || rows["ext/ct_auth/"] == 0 || rows["ext/ct_api/"]+rows["ext/ct_auth/"] != written {
		t.Fatalf("rows per custom source %v, %d written", rows, written)
	}
}
