package main

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/ocsfmap/ocsfmap/engine/store/s3test"
)

// fakeLake is a Security Lake stand-in for CLI tests: versitygw (a real S3
// server checking SigV4) with the bucket, an STS that lets the writer assume
// the custom source's role with the External ID, and the AWS environment
// that points the SDK at both with the writer's own keys.
type fakeLake struct {
	srv *s3test.Server
	sts *s3test.STS
	env map[string]string
}

func startFakeLake(t testing.TB, region, bucket, role, extID, account, writerKey, writerSecret string) *fakeLake {
	t.Helper()
	srv, err := s3test.Start(t.TempDir(), region)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Stop() })
	if err := srv.CreateBucket(context.Background(), bucket); err != nil {
		t.Fatal(err)
	}
	sts := s3test.NewSTS(s3test.STSConfig{RoleARN: role, ExternalID: extID, Account: account,
		CallerKey: writerKey, AccessKey: srv.AccessKey, SecretKey: srv.SecretKey})
	t.Cleanup(sts.Close)
	none := filepath.Join(t.TempDir(), "none")
	return &fakeLake{srv: srv, sts: sts, env: map[string]string{
		"AWS_ACCESS_KEY_ID": writerKey, "AWS_SECRET_ACCESS_KEY": writerSecret, "AWS_SESSION_TOKEN": "",
		"AWS_PROFILE": "", "AWS_CONFIG_FILE": none, "AWS_SHARED_CREDENTIALS_FILE": none,
		"AWS_EC2_METADATA_DISABLED": "true", "AWS_ENDPOINT_URL_S3": srv.Endpoint, "AWS_ENDPOINT_URL_STS": sts.URL, "AWS_ENDPOINT_URL": "",
	}}
}

// environ is os.Environ with the lake's variables set, for a child process.
func (l *fakeLake) environ(base []string) []string {
	out := append([]string(nil), base...)
	for k, v := range l.env {
		out = append(out, k+"="+v)
	}
	return out
}
