package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/ocsfmap/ocsfmap/engine/integration"
	"github.com/ocsfmap/ocsfmap/engine/store"
)

// The Security Lake set-up as a user goes through it, against versitygw and
// a fake STS: integration init → paste the role ARN → connect → deliver →
// status.
func TestIntegrationConnectStatus(t *testing.T) {
	const (
		region  = "us-east-2"
		bucket  = "aws-security-data-lake-us-east-2-o-cli"
		role    = "arn:aws:iam::444455556666:role/AmazonSecurityLake-Provider-dspmalerts-us-east-2"
		extID   = "cli-test-external-id-0001"
		account = "111122223333"
	)
	lake := startFakeLake(t, region, bucket, role, extID, account, "AKIACLIWRITER", "cli-writer-secret")
	srv := lake.srv
	dir := t.TempDir()
	for k, v := range lake.Env {
		t.Setenv(k, v)
	}
	os.MkdirAll(filepath.Join(dir, "mappings"), 0o755)
	os.WriteFile(filepath.Join(dir, "mappings", "sf.yaml"), []byte("ocsf: {version: 1.1.0, class: security_finding}\n"), 0o644)
	integ := filepath.Join(dir, "integ.yaml")

	cli := func(want int, args ...string) string {
		t.Helper()
		var out, errb bytes.Buffer
		if code := run(args, &out, &errb); code != want {
			t.Fatalf("ocsfmap %s: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), code, want, out.String(), errb.String())
		}
		return out.String() + errb.String()
	}

	out := cli(0, "integration", "init", "--source", "dspmalerts", "--region", region, "--bucket", bucket,
		"--mapping", filepath.Join(dir, "mappings", "sf.yaml"), "--external-id", extID, "-o", integ)
	for _, want := range []string{"Data source name   dspmalerts", "Event class        Security Finding (OCSF class_uid 2001)",
		"Account ID         " + account, "External ID        " + extID, "AmazonSecurityLake-Provider-dspmalerts-us-east-2"} {
		if !strings.Contains(out, want) {
			t.Errorf("init output lacks %q:\n%s", want, out)
		}
	}
	// Untouched, the starter file still waits for the role ARN.
	if out := cli(2, "connect", "-c", integ); !strings.Contains(out, "C111") {
		t.Errorf("connect with the placeholder role:\n%s", out)
	}
	src, _ := os.ReadFile(integ)
	src = regexp.MustCompile(`(?m)^role_arn: .*$`).ReplaceAll(src, []byte("role_arn: "+role))
	src = bytes.Replace(src, []byte("path_style: false"), []byte("path_style: true"), 1)
	os.WriteFile(integ, src, 0o600)

	if out := cli(0, "status", "-c", integ); !strings.Contains(out, "status         Pending") {
		t.Errorf("fresh status:\n%s", out)
	}
	out = cli(0, "connect", "-c", integ, "--write-probe")
	if !strings.Contains(out, "Connection successful") || !strings.Contains(out, "deleted probe object") {
		t.Errorf("connect:\n%s", out)
	}

	// Deliver what a run would stage, then ask for the status.
	in, err := integration.LoadIntegration(integ)
	if err != nil {
		t.Fatal(err)
	}
	key := in.KeyPrefix() + "region=us-east-2/accountId=123456789012/eventDay=20240105/0190a1b2.parquet"
	staged := filepath.Join(in.StagingDir, filepath.FromSlash(key))
	os.MkdirAll(filepath.Dir(staged), 0o755)
	os.WriteFile(staged, []byte("PAR1 not really PAR1"), 0o644)
	d, err := in.Deliverer(context.Background(), store.DeliverOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.Deliver(context.Background(), in.StagingDir); err != nil {
		t.Fatal(err)
	}
	objs, _ := srv.Objects(context.Background(), bucket)
	if objs[key] != 20 || len(objs) != 1 {
		t.Errorf("bucket holds %v", objs)
	}
	var st struct {
		Integration string
		Destination string
		State       string
		Total       store.Counts
		Staged      store.Counts
	}
	if err := json.Unmarshal([]byte(cli(0, "status", "-c", integ, "--json")), &st); err != nil {
		t.Fatal(err)
	}
	if st.State != "Success" || st.Total != (store.Counts{Objects: 1, Bytes: 20}) || st.Destination != "s3://"+bucket+"/ext/dspmalerts/" {
		t.Errorf("status %+v", st)
	}

	// A wrong External ID: connect fails, says why, and the status follows.
	src = bytes.Replace(src, []byte("external_id: "+extID), []byte("external_id: not-the-right-one"), 1)
	os.WriteFile(integ, src, 0o600)
	out = cli(1, "connect", "-c", integ)
	if !strings.Contains(out, "refused to be assumed") || !strings.Contains(out, "status is Failed") {
		t.Errorf("connect with a wrong External ID:\n%s", out)
	}
	out = cli(0, "status", "-c", integ)
	if !strings.Contains(out, "status         Failed") || !strings.Contains(out, "role-refused") {
		t.Errorf("status after a failed connect:\n%s", out)
	}
	for _, secret := range []string{"cli-writer-secret", srv.SecretKey} {
		raw, _ := os.ReadFile(filepath.Join(in.StateDir, store.StatusFile))
		if strings.Contains(out, secret) || strings.Contains(string(raw), secret) {
			t.Errorf("secret %q shown", secret)
		}
	}
}
