package service

import (
	"bytes"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestServeEnvelopeBodies: an integration whose mapping reads envelopes
// (GuardDuty's {"Findings":[…]}) accepts each finding of a POSTed page as
// one alert, and every accepted alert is written: the counts add up.
func TestServeEnvelopeBodies(t *testing.T) {
	lake := testLake(t, "aws-security-data-lake-us-east-2-envelope")
	dir := t.TempDir()
	mapping, _ := filepath.Abs("../../mappings/aws-guardduty/detection_finding_1.1.0.yaml")
	// startService reads dspm.yaml: the name of the file, not of the source.
	os.WriteFile(filepath.Join(dir, "dspm.yaml"), []byte(strings.Replace(lake.Integration("dspm", mapping, ""), "prefix: ext/dspmalerts/", "prefix: ext/guardduty/", 1)), 0o600)
	svc, hs := startService(t, dir)
	// Pages of two findings (the CLI samples' put together) around an empty
	// page: read as documents, they would be 3 alerts accepted and 4 written.
	var findings []json.RawMessage
	for _, f := range []string{"get-findings-eks-privileged-container.json", "get-findings-iam-userpermissions.json"} {
		b, err := os.ReadFile("../../testdata/aws-guardduty/" + f)
		if err != nil {
			t.Fatal(err)
		}
		var page struct{ Findings []json.RawMessage }
		if err := json.Unmarshal(b, &page); err != nil {
			t.Fatal(err)
		}
		findings = append(findings, page.Findings...)
	}
	page, _ := json.Marshal(map[string]any{"Findings": findings})
	body := append(append(append(bytes.Clone(page), "\n{\"Findings\": []}\n"...), page...), '\n')
	req, _ := http.NewRequest("POST", hs.URL+"/v1/integrations/dspm/alerts", bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+testToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("ingest: %s", resp.Status)
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		st, _ := svc.Status("dspm")
		a := st.Alerts
		if a.Accepted > 0 && a.Accepted == a.Written+a.Filtered+a.DeadLettered {
			if a.Accepted != 4 || a.Written != 4 {
				t.Fatalf("counts %+v, want the pages' four findings accepted and written", a)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("counts never added up: %+v", a)
		}
		time.Sleep(100 * time.Millisecond)
	}
	svc.Close()
}
