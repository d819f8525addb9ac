package store

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/ocsfmap/ocsfmap/engine/store/s3test"
)

// The package's tests share one versitygw, started here. The writer's own
// credentials (what the standard chain finds) are the environment's; the
// endpoints come from AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL_STS, the SDK's
// standard overrides, so the tests also prove those are honoured.
var (
	vgw *s3test.Server
)

const (
	testRegion    = "us-east-2"
	writerKey     = "AKIAWRITERTEST000001"
	writerSecret  = "writer-secret-must-never-appear-anywhere"
	testAccount   = "111122223333"
	testRoleARN   = "arn:aws:iam::444455556666:role/AmazonSecurityLake-Provider-dspmalerts-us-east-2"
	testExternal  = "ext-id-for-tests-0123456789"
	testPrefix    = "ext/dspmalerts/"
	testSessionNm = "ocsfmap-test"
)

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	dir, err := os.MkdirTemp("", "ocsfmap-store-vgw-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	vgw, err = s3test.Start(filepath.Join(dir, "root"), testRegion)
	if err != nil {
		fmt.Fprintln(os.Stderr, "engine/store tests need versitygw:", err)
		return 1
	}
	defer vgw.Stop()

	// Keep the developer's own AWS setup out of the tests.
	for _, k := range []string{"AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL", "AWS_REGION", "AWS_DEFAULT_REGION",
		"AWS_ROLE_ARN", "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"} {
		os.Unsetenv(k)
	}
	os.Setenv("AWS_CONFIG_FILE", filepath.Join(dir, "no-config"))
	os.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(dir, "no-credentials"))
	os.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	os.Setenv("AWS_ACCESS_KEY_ID", writerKey)
	os.Setenv("AWS_SECRET_ACCESS_KEY", writerSecret)
	os.Setenv("AWS_ENDPOINT_URL_S3", vgw.Endpoint)
	return m.Run()
}

// newSTS starts a fake STS that grants testRoleARN with testExternal (as
// mod may change) and points AWS_ENDPOINT_URL_STS at it for this test.
func newSTS(t testing.TB, mod ...func(*s3test.STSConfig)) *s3test.STS {
	t.Helper()
	c := s3test.STSConfig{
		RoleARN: testRoleARN, ExternalID: testExternal, Account: testAccount, CallerKey: writerKey,
		AccessKey: vgw.AccessKey, SecretKey: vgw.SecretKey,
	}
	for _, f := range mod {
		f(&c)
	}
	s := s3test.NewSTS(c)
	t.Cleanup(s.Close)
	t.Setenv("AWS_ENDPOINT_URL_STS", s.URL)
	return s
}

// buckets numbers the buckets of this process, so go test -count=N makes a
// new one for each run of a test.
var buckets atomic.Int64

// newBucket creates a bucket unique to the test.
func newBucket(t testing.TB) string {
	t.Helper()
	name := fmt.Sprintf("lake-%d-%d-%s", os.Getpid()%10000, buckets.Add(1), sanitize(t.Name()))
	if len(name) > 63 {
		name = name[:63]
	}
	if err := vgw.CreateBucket(context.Background(), name); err != nil {
		t.Fatal(err)
	}
	return name
}

func sanitize(s string) string {
	b := []byte{}
	for _, c := range []byte(s) {
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9':
			b = append(b, c)
		case c >= 'A' && c <= 'Z':
			b = append(b, c+'a'-'A')
		default:
			b = append(b, '-')
		}
	}
	for len(b) > 0 && b[len(b)-1] == '-' {
		b = b[:len(b)-1]
	}
	return string(b)
}

// s3Dest returns the S3 destination for bucket through the fake role.
func s3Dest(t testing.TB, bucket string, mod ...func(*S3Options)) *S3 {
	t.Helper()
	o := S3Options{
		Bucket: bucket, Region: testRegion, RoleARN: testRoleARN, ExternalID: testExternal,
		PathStyle: true, SessionName: testSessionNm,
	}
	for _, f := range mod {
		f(&o)
	}
	d, err := NewS3(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	return d
}
