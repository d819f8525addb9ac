package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/ocsfmap/ocsfmap/engine/lake/readertest"
	"github.com/ocsfmap/ocsfmap/engine/store/s3test"
)

const (
	testRegion  = "us-east-2"
	testRole    = "arn:aws:iam::444455556666:role/AmazonSecurityLake-Provider-dspmalerts-us-east-2"
	testExtID   = "lambda-test-external-id-01"
	testStaging = "alerts-staging"
	testDead    = "ocsfmap-dead-letters"
	mapping110  = "../../mappings/zscaler-dspm/security_finding_1.1.0.yaml"
)

// bootstrap is the function's binary, built once by TestMain exactly as
// `make lambda` builds it.
var bootstrap string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "ocsfmap-lambda-test")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	bootstrap = filepath.Join(dir, "bootstrap")
	build := exec.Command("go", "build", "-tags", "lambda.norpc", "-trimpath", "-o", bootstrap, ".")
	build.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+runtime.GOARCH)
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build bootstrap: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// fakeLake is Security Lake on this machine: versitygw with the lake's
// bucket, a staging bucket for alert files and a bucket for dead letters,
// an STS that lets the function assume the custom source's role with the
// External ID, and an integration file for them. The function's own
// credentials are versitygw's root keys (it reads the staging bucket with
// them); the assumed role's are too.
type fakeLake struct {
	srv    *s3test.Server
	sts    *s3test.STS
	bucket string
	integ  string
	env    map[string]string
}

func startFakeLake(t testing.TB) *fakeLake {
	t.Helper()
	bucket := "aws-security-data-lake-us-east-2-lambda"
	// The function's own credentials are versitygw's root keys.
	lake, err := s3test.StartLake(s3test.LakeConfig{Dir: t.TempDir(), Region: testRegion, Bucket: bucket,
		RoleARN: testRole, ExternalID: testExtID, Account: "111122223333", ExtraBuckets: []string{testStaging, testDead}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(lake.Close)
	mapping, _ := filepath.Abs(mapping110)
	integ := filepath.Join(t.TempDir(), "dspm.yaml")
	if err := os.WriteFile(integ, []byte(lake.Integration("dspm", mapping, "")), 0o600); err != nil {
		t.Fatal(err)
	}
	env := maps.Clone(lake.Env)
	env["OCSFMAP_INTEGRATION"], env["OCSFMAP_DEAD_LETTERS"] = integ, "s3://"+testDead+"/lambda/"
	env["OCSFMAP_STAGING_BUCKETS"] = testStaging
	return &fakeLake{srv: lake.S3, sts: lake.STS, bucket: bucket, integ: integ, env: env}
}

var lakeKey = regexp.MustCompile(`^ext/dspmalerts/region=[a-z0-9-]+/accountId=(\d{12}|external_[A-Za-z0-9._-]+)/eventDay=\d{8}/[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}\.parquet$`)

// bucketUIDs reads every object of the lake bucket back as Parquet and
// counts rows by finding.uid; every key must be a Security Lake key.
func (l *fakeLake) bucketUIDs(t testing.TB) (map[string]int, int) {
	t.Helper()
	objs, err := l.srv.Objects(context.Background(), l.bucket)
	if err != nil {
		t.Fatal(err)
	}
	uids := map[string]int{}
	for k := range objs {
		if !lakeKey.MatchString(k) {
			t.Errorf("object key %q is not a Security Lake key", k)
			continue
		}
		body, _, err := l.srv.Get(context.Background(), l.bucket, k)
		if err != nil {
			t.Fatal(err)
		}
		for _, u := range readertest.Strings(t, body, "finding", "uid") {
			uids[u]++
		}
	}
	return uids, len(objs)
}

// deadUIDs counts the dead-lettered alerts by alert_id (a dead letter whose
// raw bytes are not alerts counts under "?").
func (l *fakeLake) deadUIDs(t testing.TB) map[string]int {
	t.Helper()
	objs, err := l.srv.Objects(context.Background(), testDead)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int{}
	for k := range objs {
		body, _, err := l.srv.Get(context.Background(), testDead, k)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(bytes.NewReader(body))
		sc.Buffer(nil, 64<<20)
		for sc.Scan() {
			var d struct{ Raw string }
			if err := json.Unmarshal(sc.Bytes(), &d); err != nil {
				t.Fatalf("%s: %v", k, err)
			}
			ids := alertUIDs(d.Raw)
			if len(ids) == 0 {
				out["?"]++
			}
			for _, u := range ids {
				out[u]++
			}
		}
	}
	return out
}

// alertUIDs lists the alert_id of each alert of NDJSON or a JSON array
// (nothing for text that is not alerts).
func alertUIDs(text string) []string {
	var out []string
	dec := json.NewDecoder(strings.NewReader(text))
	for {
		var a struct {
			ID string `json:"alert_id"`
		}
		if err := dec.Decode(&a); err != nil {
			return out
		}
		if a.ID != "" {
			out = append(out, a.ID)
		}
	}
}

// sampleAlerts are the sample's alerts, one NDJSON line each.
func sampleAlerts(t testing.TB, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimSpace(string(b)), "\n")
}

// sqsEvent makes an SQS event, one message per body.
func sqsEvent(prefix string, bodies ...string) events.SQSEvent {
	var ev events.SQSEvent
	for i, b := range bodies {
		ev.Records = append(ev.Records, events.SQSMessage{
			MessageId: fmt.Sprintf("%s-%04d", prefix, i), ReceiptHandle: "rh", Body: b,
			EventSource: "aws:sqs", EventSourceARN: "arn:aws:sqs:us-east-2:111122223333:ocsfmap-alerts", AWSRegion: testRegion,
		})
	}
	return ev
}

// failedIDs lists the messages of a response.
func failedIDs(r events.SQSEventResponse) []string {
	var out []string
	for _, f := range r.BatchItemFailures {
		out = append(out, f.ItemIdentifier)
	}
	return out
}

// checkExactlyOnce: every alert is in the bucket once or dead-lettered once.
func checkExactlyOnce(t testing.TB, l *fakeLake, alerts []string) (written int) {
	t.Helper()
	inLake, _ := l.bucketUIDs(t)
	dead := l.deadUIDs(t)
	for _, a := range alerts {
		for _, id := range alertUIDs(a) {
			switch n, d := inLake[id], dead[id]; {
			case n+d != 1:
				t.Errorf("alert %s: %d time(s) in the lake, %d dead-lettered; want exactly once", id, n, d)
			case n == 1:
				written++
			}
		}
	}
	return written
}
