package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const cloudTrailMapping = "../../mappings/aws-cloudtrail/cloudtrail_1.1.0.yaml"

// TestRoutedMappingCLI: explain, schema, vet, map and test know a mapping
// with classes, as a new user meets them.
func TestRoutedMappingCLI(t *testing.T) {
	out, _, code := ocsfmap(t, nil, "explain", "-m", cloudTrailMapping)
	for _, want := range []string{
		"aws-cloudtrail/cloudtrail 1.0.0 -> OCSF 1.1.0, 2 classes: api_activity, authentication\n",
		`route: event_name == "ConsoleLogin" ? "authentication" : "api_activity"`,
		"== class 1 of 2: api_activity (6003) profiles [cloud, datetime]",
		"== class 2 of 2: authentication (3002) profiles [cloud, datetime]",
		"required attributes: 17 of 17 set", "required attributes: 13 of 13 set",
	} {
		if code != 0 || !strings.Contains(out, want) {
			t.Fatalf("explain: exit %d, want %q\n%s", code, want, out)
		}
	}
	// Only API Activity's table has api.operation, only Authentication's is_mfa.
	api, auth, _ := strings.Cut(out, "== class 2 of 2")
	if !strings.Contains(api, "\napi.operation ") || strings.Contains(api, "\nis_mfa ") || !strings.Contains(auth, "\nis_mfa ") || strings.Contains(auth, "\napi.operation ") {
		t.Errorf("explain mixes the classes' tables:\n%s", out)
	}

	out, _, code = ocsfmap(t, nil, "schema", "-m", cloudTrailMapping, "--format", "glue")
	if code != 0 || strings.Count(out, "CREATE EXTERNAL TABLE") != 2 ||
		!strings.Contains(out, "-- class api_activity (6003)\nCREATE EXTERNAL TABLE IF NOT EXISTS `aws_cloudtrail_cloudtrail_api_activity`") ||
		!strings.Contains(out, "`aws_cloudtrail_cloudtrail_authentication`") || !strings.Contains(out, "ext/<custom source of authentication>/") {
		t.Fatalf("schema --format glue: exit %d\n%s", code, out)
	}
	if tables := strings.Split(out, "-- class "); !strings.Contains(tables[1], "`api` struct<") || strings.Contains(tables[2], "`api` struct<") {
		t.Errorf("each class's table holds its own columns:\n%s", out)
	}

	// A route naming a class the mapping lacks, and a class OCSF lacks.
	src, err := os.ReadFile(cloudTrailMapping)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	src = bytes.Replace(src, []byte(`? "authentication" :`), []byte(`? "authentcation" :`), 1)
	os.WriteFile(bad, bytes.Replace(src, []byte("\n  authentication:\n"), []byte("\n  authentications:\n"), 1), 0o644)
	out, _, code = ocsfmap(t, nil, "vet", bad)
	if code != 1 || !strings.Contains(out, `error[M207]: route yields "authentcation", which is not a class of the mapping (classes: api_activity, authentications)`) ||
		!strings.Contains(out, `error[M302]: OCSF 1.1.0 has no class "authentications" (did you mean "authentication"?)`) {
		t.Fatalf("vet: exit %d\n%s", code, out)
	}

	// map: each event in its class.
	out, stderr, code := ocsfmap(t, []byte(`{"eventTime": "2018-07-24T18:32:11Z", "eventName": "ConsoleLogin", "awsRegion": "us-east-1", "userIdentity": {"type": "Root", "principalId": "1", "accountId": "1"}}
{"eventTime": "2018-07-24T18:32:11Z", "eventName": "ListBuckets", "awsRegion": "us-east-1", "sourceIPAddress": "192.0.2.1", "userIdentity": {"type": "Root", "principalId": "1", "accountId": "1"}}
`), "map", "-m", cloudTrailMapping, "--validate", "full", "--dead-letter", filepath.Join(dir, "dead.ndjson"), "-")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if code != 0 || len(lines) != 2 || !strings.Contains(lines[0], `"class_uid":3002`) || !strings.Contains(lines[1], `"class_uid":6003`) ||
		!strings.Contains(stderr, "written 2, dead-lettered 0, filtered 0; written per class: api_activity 1, authentication 1") {
		t.Fatalf("map: exit %d\n%s%s", code, out, stderr)
	}

	// test: the class a case expects is checked.
	tests := filepath.Join(dir, "cases_test.yaml")
	abs, _ := filepath.Abs(cloudTrailMapping)
	rel, err := filepath.Rel(dir, abs) // a test file names its mapping relative to itself
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(tests, []byte(`mapping: `+rel+`
base: {eventTime: "2018-07-24T18:32:11Z", eventName: ConsoleLogin, awsRegion: us-east-1, userIdentity: {type: Root, principalId: "1", accountId: "1"}}
tests:
  - name: a sign-in is Authentication
    class: authentication
  - name: wrongly expected
    class: api_activity
  - name: an API call
    input: {eventName: ListBuckets, sourceIPAddress: 192.0.2.1}
    class: api_activity
    contains: {class_uid: 6003}
  - name: an unknown class
    class: authentications
`), 0o644)
	out, _, code = ocsfmap(t, nil, "test", tests)
	if code != 1 || !strings.Contains(out, "2 passed, 2 failed") ||
		!strings.Contains(out, `want class api_activity, got authentication (route: event_name == "ConsoleLogin" ? "authentication" : "api_activity")`) ||
		!strings.Contains(out, "class authentications is not a class of the mapping (api_activity, authentication)") {
		t.Fatalf("test: exit %d\n%s", code, out)
	}
}
