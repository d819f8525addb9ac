package service

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/ocsfmap/ocsfmap/engine/alertgen"
	"github.com/ocsfmap/ocsfmap/engine/store/s3test"
	"github.com/ocsfmap/ocsfmap/engine/wal"
)

// fullDisk makes the log's segment writes fail with ENOSPC while full is
// set, as a disk with no space left does.
type fullDisk struct{ full atomic.Bool }

type fullDiskFile struct {
	*os.File
	d *fullDisk
}

func (d *fullDisk) open(path string, flag int, perm os.FileMode) (wal.File, error) {
	f, err := os.OpenFile(path, flag, perm)
	if err != nil {
		return nil, err
	}
	return fullDiskFile{f, d}, nil
}

func (f fullDiskFile) WriteAt(p []byte, off int64) (int, error) {
	if f.d.full.Load() {
		return 0, &os.PathError{Op: "write", Path: f.Name(), Err: syscall.ENOSPC}
	}
	return f.File.WriteAt(p, off)
}

// TestDiskFullAnswers503AndRecovers: while the log's disk is full, ingest
// answers 503 and /readyz says so; what was acknowledged before is kept,
// and once space returns requests are accepted again — no restart — and
// everything acknowledged is delivered, nothing else.
func TestDiskFullAnswers503AndRecovers(t *testing.T) {
	const (
		region = "us-east-2"
		bucket = "aws-security-data-lake-us-east-2-diskfull"
		role   = "arn:aws:iam::444455556666:role/AmazonSecurityLake-Provider-dspmalerts-us-east-2"
		token  = "diskfull-token-0123456789"
		per    = 10
	)
	lake, err := s3test.StartLake(s3test.LakeConfig{Dir: t.TempDir(), Region: region, Bucket: bucket, RoleARN: role,
		ExternalID: "diskfull-external-id-01", Account: "111122223333", WriterKey: "AKIADISKFULLWRITER", WriterSecret: "diskfull-writer-secret"})
	if err != nil {
		t.Fatal(err)
	}
	defer lake.Close()
	for k, v := range lake.Env {
		t.Setenv(k, v)
	}
	dir := t.TempDir()
	mapping, _ := filepath.Abs("../../mappings/zscaler-dspm/security_finding_1.1.0.yaml")
	os.WriteFile(filepath.Join(dir, "dspm.yaml"), []byte(lake.Integration("dspm", mapping, "")), 0o600)
	disk := &fullDisk{}
	cfg := Config{Paths: []string{dir}, DataDir: filepath.Join(dir, "data"), RollAge: time.Hour, NoSync: true,
		IngestTokens: []string{token}, walOpenFile: disk.open}
	svc, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := svc.Start(); err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(svc.Handler())
	defer hs.Close()
	g := alertgen.New(3, alertgen.Options{Accounts: 5, Days: 1})
	post := func(i int) int {
		t.Helper()
		var body []byte
		for range per {
			body = g.AppendNDJSON(body)
		}
		req, _ := http.NewRequest("POST", hs.URL+"/v1/integrations/dspm/alerts", bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Idempotency-Key", fmt.Sprintf("diskfull-%d", i))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	ready := func() int {
		resp, err := http.Get(hs.URL + "/readyz")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	acked := 0
	for i := range 3 {
		if code := post(i); code != http.StatusAccepted {
			t.Fatalf("request %d before the disk filled: %d", i, code)
		}
		acked++
	}
	disk.full.Store(true)
	for i := 3; i < 5; i++ {
		if code := post(i); code != http.StatusServiceUnavailable {
			t.Fatalf("request %d on a full disk: %d, want 503", i, code)
		}
	}
	if code := ready(); code != http.StatusServiceUnavailable {
		t.Fatalf("/readyz on a full disk: %d, want 503", code)
	}
	disk.full.Store(false)
	for i := 5; i < 8; i++ {
		if code := post(i); code != http.StatusAccepted {
			t.Fatalf("request %d once space returned: %d, want 202", i, code)
		}
		acked++
	}
	if code := ready(); code != http.StatusOK {
		t.Fatalf("/readyz once space returned: %d, want 200", code)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := svc.Drain(ctx); err != nil {
		t.Fatal(err)
	}
	svc, err = New(Config{Paths: []string{dir}, DataDir: filepath.Join(dir, "data"), IngestTokens: []string{token}})
	if err != nil {
		t.Fatal(err)
	}
	defer svc.Close()
	st, _ := svc.Status("dspm")
	a := st.Alerts
	if want := int64(acked * per); a.Accepted != want || a.Written+a.DeadLettered+a.Filtered != want || st.Backlog.Alerts != 0 || a.Lost != 0 {
		b, _ := json.Marshal(st)
		t.Fatalf("after the drain, want %d accepted and delivered: %s", want, b)
	}
}
