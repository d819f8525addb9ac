package console_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ocsfmap/ocsfmap/engine/console"
	"github.com/ocsfmap/ocsfmap/engine/service"
	"github.com/ocsfmap/ocsfmap/engine/store/s3test"
)

// The fake Security Lake: the writer's own credentials (which no page may
// show), the lake's account and bucket, the custom source's role.
const (
	writerKey     = "AKIAWRITERTESTKEY001"
	writerSecret  = "writer-secret-access-key-DO-NOT-RENDER-0123"
	writerSession = "writer-session-token-DO-NOT-RENDER-4567"
	writerAccount = "444455556666"
	region        = "us-east-2"
	bucket        = "aws-security-data-lake-us-east-2-o-console"
	source        = "dspmalerts"
	roleARN       = "arn:aws:iam::111122223333:role/AmazonSecurityLake-Provider-dspmalerts-us-east-2"
	adminToken    = "admin-token-for-the-console-tests-0123"
	ingestToken   = "ingest-token-for-the-console-tests-4567"
)

// env is a running service with its console, against versitygw and a fake
// STS, served over HTTP on 127.0.0.1.
type env struct {
	t      *testing.T
	url    string
	svc    *service.Service
	dir    string // the -c folder
	data   string
	srv    *s3test.Server
	sts    atomic.Pointer[s3test.STS]
	sample []string // alerts of testdata/dspm/sample.ndjson
}

// newEnv starts everything. The custom source does not exist yet: the
// fake STS refuses every External ID until createCustomSource.
func newEnv(t *testing.T) *env {
	t.Helper()
	e := &env{t: t}
	srv, err := s3test.Start(t.TempDir(), region)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Stop() })
	if err := srv.CreateBucket(context.Background(), bucket); err != nil {
		t.Fatal(err)
	}
	e.srv = srv
	e.createCustomSource("an-external-id-nobody-was-given")
	// The STS endpoint stays; the custom source behind it changes.
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { e.sts.Load().ServeHTTP(w, r) }))
	t.Cleanup(front.Close)

	none := filepath.Join(t.TempDir(), "none")
	for k, v := range map[string]string{
		"AWS_ACCESS_KEY_ID": writerKey, "AWS_SECRET_ACCESS_KEY": writerSecret, "AWS_SESSION_TOKEN": writerSession,
		"AWS_PROFILE": "", "AWS_CONFIG_FILE": none, "AWS_SHARED_CREDENTIALS_FILE": none, "AWS_EC2_METADATA_DISABLED": "true",
		"AWS_ENDPOINT_URL_S3": srv.Endpoint, "AWS_ENDPOINT_URL_STS": front.URL, "AWS_ENDPOINT_URL": "", "AWS_REGION": "",
	} {
		t.Setenv(k, v)
	}

	e.dir = filepath.Join(t.TempDir(), "integrations")
	e.data = filepath.Join(t.TempDir(), "data")
	os.MkdirAll(e.dir, 0o755)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() {
		log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	svc, err := service.New(service.Config{
		Paths: []string{e.dir}, DataDir: e.data, IngestTokens: []string{ingestToken},
		RollAge: time.Second, NoSync: true, AllowNoIntegrations: true, Logger: log,
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := svc.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { svc.Close() })
	e.svc = svc
	c, err := console.New(console.Options{
		Service: svc, AdminTokens: []string{adminToken}, IngestTokens: []string{ingestToken},
		Dir: e.dir, Mappings: []string{"../../mappings"}, Logger: log,
	})
	if err != nil {
		t.Fatal(err)
	}
	web := httptest.NewServer(console.WithAPI(svc.Handler(), c))
	t.Cleanup(web.Close)
	e.url = web.URL

	b, err := os.ReadFile("../../testdata/dspm/sample.ndjson")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		e.sample = append(e.sample, l)
	}
	return e
}

// createCustomSource is the Security Lake side: the custom source's role
// trusts the writer's account with this External ID.
func (e *env) createCustomSource(externalID string) {
	sts := s3test.NewSTS(s3test.STSConfig{RoleARN: roleARN, ExternalID: externalID, Account: writerAccount,
		CallerKey: writerKey, AccessKey: e.srv.AccessKey, SecretKey: e.srv.SecretKey})
	e.t.Cleanup(sts.Close)
	e.sts.Store(sts)
}

// postAlerts posts NDJSON to the ingest API with the ingest token.
func (e *env) postAlerts(name, ndjson string) {
	e.t.Helper()
	req, _ := http.NewRequest("POST", e.url+"/v1/integrations/"+name+"/alerts", strings.NewReader(ndjson))
	req.Header.Set("Authorization", "Bearer "+ingestToken)
	req.Header.Set("Content-Type", "application/x-ndjson")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		e.t.Fatalf("post alerts: %s: %s", resp.Status, body)
	}
}
