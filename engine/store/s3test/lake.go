package s3test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"

	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// LakeConfig describes a Security Lake stand-in: the bucket, the custom
// source's role and the External ID its trust policy requires (or
// AnyExternalID), and the writer's own account and keys.
type LakeConfig struct {
	Dir                 string // versitygw's root folder (a folder a bucket)
	Region, Bucket      string
	RoleARN, ExternalID string
	Account             string // the writer's account, for GetCallerIdentity
	// The writer's own keys; empty: the server's root keys, for a writer
	// that also reads and writes buckets of its own (a Lambda function).
	WriterKey, WriterSecret string
	ExtraBuckets            []string // created beside the lake's bucket
}

// Lake is versitygw with the lake's bucket and the STS stand-in that lets
// the writer assume the custom source's role, and the AWS environment that
// points the SDK at both with the writer's keys. Tests, cmd/locallake and
// anything else that needs a Security Lake on loopback start one.
type Lake struct {
	Config LakeConfig
	S3     *Server
	STS    *STS
	// Env is the AWS environment for the writer; nothing else of the
	// caller's (profiles, config files, instance metadata) is consulted.
	Env map[string]string
}

// StartLake starts the server and the STS and creates the bucket.
func StartLake(c LakeConfig) (*Lake, error) {
	srv, err := Start(c.Dir, c.Region)
	if err != nil {
		return nil, err
	}
	// A bucket kept from an earlier start (same Dir) is reused.
	for _, b := range append([]string{c.Bucket}, c.ExtraBuckets...) {
		var owned *types.BucketAlreadyOwnedByYou
		if err := srv.CreateBucket(context.Background(), b); err != nil && !errors.As(err, &owned) {
			srv.Stop()
			return nil, err
		}
	}
	if c.WriterKey == "" {
		c.WriterKey, c.WriterSecret = srv.AccessKey, srv.SecretKey
	}
	sts := NewSTS(STSConfig{RoleARN: c.RoleARN, ExternalID: c.ExternalID, Account: c.Account,
		CallerKey: c.WriterKey, AccessKey: srv.AccessKey, SecretKey: srv.SecretKey})
	none := filepath.Join(c.Dir, "no-aws-config")
	return &Lake{Config: c, S3: srv, STS: sts, Env: map[string]string{
		"AWS_ACCESS_KEY_ID": c.WriterKey, "AWS_SECRET_ACCESS_KEY": c.WriterSecret, "AWS_SESSION_TOKEN": "",
		"AWS_PROFILE": "", "AWS_CONFIG_FILE": none, "AWS_SHARED_CREDENTIALS_FILE": none,
		"AWS_REGION": c.Region, "AWS_EC2_METADATA_DISABLED": "true",
		"AWS_ENDPOINT_URL_S3": srv.Endpoint, "AWS_ENDPOINT_URL_STS": sts.URL, "AWS_ENDPOINT_URL": "",
	}}, nil
}

// Environ is base with the lake's AWS environment, for a child process.
func (l *Lake) Environ(base []string) []string {
	out := append([]string(nil), base...)
	for k, v := range l.Env {
		out = append(out, k+"="+v)
	}
	return out
}

// Integration is the text of an integration file named name that delivers
// mapping's records to this lake; extra is appended (alert rules, say).
func (l *Lake) Integration(name, mapping, extra string) string {
	c := l.Config
	return fmt.Sprintf(`name: %s
destination: amazon-security-lake
mapping: %s
role_arn: %s
external_id: %s
bucket: %s
region: %s
prefix: ext/dspmalerts/
path_style: true
%s`, name, mapping, c.RoleARN, c.ExternalID, c.Bucket, c.Region, extra)
}

// Close stops the STS and the server.
func (l *Lake) Close() {
	l.STS.Close()
	l.S3.Stop()
}
