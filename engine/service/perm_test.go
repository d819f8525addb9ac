package service

import (
	"bytes"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/ocsfmap/ocsfmap/engine/alertgen"
)

// TestDataIsTheServicesAlone (issue 20, L6): everything serve keeps of the
// alerts it accepted — the log, rejected lines, dead letters, the
// Idempotency-Keys, state — is readable by the service's user alone.
func TestDataIsTheServicesAlone(t *testing.T) {
	lake := testLake(t, "aws-security-data-lake-us-east-2-perms")
	dir := t.TempDir()
	mapping, _ := filepath.Abs("../../mappings/zscaler-dspm/security_finding_1.1.0.yaml")
	os.WriteFile(filepath.Join(dir, "dspm.yaml"), []byte(lake.Integration("dspm", mapping, "")), 0o600)
	svc, hs := startService(t, dir)
	body := alertgen.New(3, alertgen.Options{Accounts: 2, Days: 1}).AppendNDJSON(nil)
	body = append(body, "not json\n{\"alert_id\": \"no-time\"}\n"...)
	req, _ := http.NewRequest("POST", hs.URL+"/v1/integrations/dspm/alerts", bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+testToken)
	req.Header.Set("Idempotency-Key", "perm-test-1")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("ingest: %s", resp.Status)
	}
	svc.Close() // delivers: dead letters written, keys synced
	data := filepath.Join(dir, "data")
	n := 0
	filepath.WalkDir(data, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			t.Error(err)
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			t.Error(err)
			return nil
		}
		if fi.Mode().Perm()&0o077 != 0 {
			t.Errorf("%s: mode %v, readable by others than the service's user", p, fi.Mode().Perm())
		}
		n++
		return nil
	})
	if n < 6 {
		t.Fatalf("only %d entries under %s", n, data)
	}
}
