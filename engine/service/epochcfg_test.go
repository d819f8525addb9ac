package service

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/parquet/file"

	"github.com/ocsfmap/ocsfmap/engine/alertgen"
	"github.com/ocsfmap/ocsfmap/engine/store"
	"github.com/ocsfmap/ocsfmap/engine/store/s3test"
)

const testToken = "epochcfg-token-0123456789"

// testLake is a Security Lake stand-in with its AWS environment set.
func testLake(t *testing.T, bucket string) *s3test.Lake {
	t.Helper()
	lake, err := s3test.StartLake(s3test.LakeConfig{Dir: t.TempDir(), Region: "us-east-2", Bucket: bucket,
		RoleARN: "arn:aws:iam::444455556666:role/AmazonSecurityLake-Provider-dspmalerts-us-east-2", ExternalID: "epochcfg-external-id-01",
		Account: "111122223333", WriterKey: "AKIAEPOCHCFGWRITER", WriterSecret: "epochcfg-writer-secret"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(lake.Close)
	for k, v := range lake.Env {
		t.Setenv(k, v)
	}
	return lake
}

// copyMapping copies the DSPM mapping and its templates into dir/name.
func copyMapping(t *testing.T, dir, name string) string {
	t.Helper()
	src := "../../mappings/zscaler-dspm/security_finding_1.1.0.yaml"
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "templates")); err != nil {
		if err := os.CopyFS(filepath.Join(dir, "templates"), os.DirFS(filepath.Join(filepath.Dir(src), "templates"))); err != nil {
			t.Fatal(err)
		}
	}
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func startService(t *testing.T, dir string) (*Service, *httptest.Server) {
	t.Helper()
	svc, err := New(Config{Paths: []string{filepath.Join(dir, "dspm.yaml")}, DataDir: filepath.Join(dir, "data"),
		RollAge: 200 * time.Millisecond, IngestTokens: []string{testToken}, NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := svc.Start(); err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(svc.Handler())
	t.Cleanup(hs.Close)
	return svc, hs
}

func postGenerated(t *testing.T, url string, n int, seed uint64) {
	t.Helper()
	g := alertgen.New(seed, alertgen.Options{Accounts: 3, Days: 1})
	var body []byte
	for range n {
		body = g.AppendNDJSON(body)
	}
	req, _ := http.NewRequest("POST", url+"/v1/integrations/dspm/alerts", bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+testToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("ingest: %d", resp.StatusCode)
	}
}

// bucketRows counts the rows of every object in the bucket, and the objects
// whose key is not under prefix.
func bucketRows(t *testing.T, srv *s3test.Server, bucket, prefix string) (rows int64, elsewhere []string) {
	t.Helper()
	objs, err := srv.Objects(context.Background(), bucket)
	if err != nil {
		t.Fatal(err)
	}
	for k := range objs {
		if !strings.HasPrefix(k, prefix) {
			elsewhere = append(elsewhere, k)
		}
		body, _, err := srv.Get(context.Background(), bucket, k)
		if err != nil {
			t.Fatal(err)
		}
		r, err := file.NewParquetReader(bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		rows += r.NumRows()
		r.Close()
	}
	return rows, elsewhere
}

func drain(t *testing.T, svc *Service) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := svc.Drain(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestClosingEpochRebuiltAsCut (issue 20, L2): after a crash, the closing
// epoch is rebuilt with the configuration it was cut under. It was rebuilt
// with the current one: with the prefix changed meanwhile, the objects it
// had uploaded stayed under the old keys and the rebuild added the same
// rows under new ones. And when that configuration cannot be loaded (its
// mapping is gone), the status says so rather than duplicating.
func TestClosingEpochRebuiltAsCut(t *testing.T) {
	const bucket = "aws-security-data-lake-us-east-2-epochcfg"
	lake := testLake(t, bucket)
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	mapping := copyMapping(t, dir, "mapping.yaml")
	integFile := filepath.Join(dir, "dspm.yaml")
	os.WriteFile(integFile, []byte(lake.Integration("dspm", mapping, "")), 0o600)

	// S3 down: the epoch is cut, its range recorded, its uploads fail.
	if err := lake.S3.Stop(); err != nil {
		t.Fatal(err)
	}
	svc, hs := startService(t, dir)
	const alerts = 60
	postGenerated(t, hs.URL, alerts, 7)
	deadline := time.Now().Add(30 * time.Second)
	for {
		var st deliveryState
		b, _ := os.ReadFile(filepath.Join(data, "dspm", stateFile))
		if json.Unmarshal(b, &st) == nil && st.Closing != nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no closing epoch recorded: %s", b)
		}
		time.Sleep(50 * time.Millisecond)
	}
	svc.Close() // as a crash: the closing epoch stays recorded
	crashed := filepath.Join(t.TempDir(), "crashed")
	if err := os.CopyFS(crashed, os.DirFS(data)); err != nil {
		t.Fatal(err)
	}
	restore := func() {
		t.Helper()
		if err := os.RemoveAll(data); err != nil {
			t.Fatal(err)
		}
		if err := os.CopyFS(data, os.DirFS(crashed)); err != nil {
			t.Fatal(err)
		}
	}

	// S3 back: the epoch is delivered under the prefix it was cut under.
	if err := lake.S3.Restart(); err != nil {
		t.Fatal(err)
	}
	svc, _ = startService(t, dir)
	drain(t, svc)
	rows, elsewhere := bucketRows(t, lake.S3, bucket, "ext/dspmalerts/")
	if rows == 0 || len(elsewhere) > 0 {
		t.Fatalf("first delivery: %d rows, keys elsewhere %v", rows, elsewhere)
	}

	// As if the service had crashed after those uploads and before the
	// commit, and the prefix changed before the restart: the rebuild must
	// overwrite the same objects, not add others under the new prefix.
	restore()
	os.WriteFile(integFile, []byte(strings.Replace(lake.Integration("dspm", mapping, ""), "prefix: ext/dspmalerts/", "prefix: ext/dspmnew/", 1)), 0o600)
	svc, _ = startService(t, dir)
	drain(t, svc)
	again, elsewhere := bucketRows(t, lake.S3, bucket, "ext/dspmalerts/")
	if again != rows || len(elsewhere) > 0 {
		t.Fatalf("after a rebuild with the prefix changed: %d rows (was %d), keys under another prefix %v", again, rows, elsewhere)
	}

	// The same crash, and the mapping it was cut under is gone: the epoch
	// is not rebuilt with another, and the status says why.
	restore()
	other := copyMapping(t, dir, "mapping-2.yaml")
	os.Remove(mapping)
	os.WriteFile(integFile, []byte(lake.Integration("dspm", other, "")), 0o600)
	svc, _ = startService(t, dir)
	defer svc.Close()
	var st Status
	deadline = time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if st, _ = svc.Status("dspm"); st.State == store.Failed && strings.Contains(st.Reason, "Restore that mapping file") {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if st.State != store.Failed || !strings.Contains(st.Reason, "Restore that mapping file") || !strings.Contains(st.Reason, mapping) {
		t.Fatalf("status with the epoch's mapping gone: %s %q", st.State, st.Reason)
	}
	if after, _ := bucketRows(t, lake.S3, bucket, ""); after != rows {
		t.Fatalf("%d rows in the bucket, was %d: the epoch was rebuilt with another mapping", after, rows)
	}
}

// TestNewIntegrationDoesNotInherit (issue 20, L6): an integration deleted
// and a new one made with its name (another External ID) must not deliver
// the old one's undelivered alerts, nor show its counts: the old data
// folder is moved aside, whole. And the data is for the service's user
// alone: folders 0700, state files 0600, even where an earlier version
// made them wider.
func TestNewIntegrationDoesNotInherit(t *testing.T) {
	const bucket = "aws-security-data-lake-us-east-2-identity"
	lake := testLake(t, bucket)
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	mapping, _ := filepath.Abs("../../mappings/zscaler-dspm/security_finding_1.1.0.yaml")
	integFile := filepath.Join(dir, "dspm.yaml")
	os.WriteFile(integFile, []byte(lake.Integration("dspm", mapping, "")), 0o600)
	// As an earlier version left it: world-readable.
	if err := os.MkdirAll(filepath.Join(data, "dspm"), 0o755); err != nil {
		t.Fatal(err)
	}
	os.Chmod(data, 0o755)

	// S3 down: the old integration's alerts stay undelivered.
	if err := lake.S3.Stop(); err != nil {
		t.Fatal(err)
	}
	svc, hs := startService(t, dir)
	postGenerated(t, hs.URL, 10, 9)
	perm := func(p string, want os.FileMode) {
		t.Helper()
		if fi, err := os.Stat(p); err != nil {
			t.Error(err)
		} else if fi.Mode().Perm() != want {
			t.Errorf("%s: %v, want %v", p, fi.Mode().Perm(), want)
		}
	}
	perm(data, 0o700)
	perm(filepath.Join(data, "dspm"), 0o700)
	perm(filepath.Join(data, "dspm", stateFile), 0o600)
	perm(filepath.Join(data, "dspm", identityFile), 0o600)

	// Deleted; a new integration of the same name, for another custom
	// source (a new External ID), in the same file. While the old one
	// runs, the reload is refused.
	os.WriteFile(integFile, []byte(strings.Replace(lake.Integration("dspm", mapping, ""),
		"external_id: epochcfg-external-id-01", "external_id: epochcfg-external-id-02", 1)), 0o600)
	if err := svc.Reload(context.Background()); err == nil || !strings.Contains(err.Error(), "external_id changed") {
		t.Fatalf("a reload to another External ID: %v", err)
	}
	svc.Close()
	// After a restart, the new one starts afresh.
	svc, _ = startService(t, dir)
	st, _ := svc.Status("dspm")
	svc.Close()
	if st.Alerts.Accepted != 0 || st.Backlog.Alerts != 0 || st.State == store.Failed {
		t.Fatalf("the new integration inherited the old one's data: %+v", st)
	}
	moved, _ := filepath.Glob(filepath.Join(data, retiredDir, "*", "dspm", "wal"))
	if len(moved) != 1 {
		t.Fatalf("the old integration's log was not kept aside: %v", moved)
	}

	// The same integration after a restart (nothing changed): its data stays.
	svc, hs = startService(t, dir)
	postGenerated(t, hs.URL, 5, 10)
	svc.Close()
	svc, _ = startService(t, dir)
	st, _ = svc.Status("dspm")
	svc.Close()
	if st.Alerts.Accepted != 5 {
		t.Fatalf("after a restart: accepted %d, want 5", st.Alerts.Accepted)
	}
}
