package main

import (
	"testing"

	"github.com/ocsfmap/ocsfmap/engine/store/s3test"
)

// fakeLake is a Security Lake stand-in for CLI tests (s3test.Lake):
// versitygw checking SigV4 with the bucket, an STS that lets the writer
// assume the custom source's role with the External ID, and the AWS
// environment that points the SDK at both with the writer's own keys.
type fakeLake struct {
	*s3test.Lake
	srv *s3test.Server
}

func startFakeLake(t testing.TB, region, bucket, role, extID, account, writerKey, writerSecret string) *fakeLake {
	t.Helper()
	l, err := s3test.StartLake(s3test.LakeConfig{Dir: t.TempDir(), Region: region, Bucket: bucket,
		RoleARN: role, ExternalID: extID, Account: account, WriterKey: writerKey, WriterSecret: writerSecret})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(l.Close)
	return &fakeLake{Lake: l, srv: l.S3}
}

// environ is base with the lake's variables set, for a child process.
func (l *fakeLake) environ(base []string) []string { return l.Environ(base) }
