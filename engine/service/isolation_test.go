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
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ocsfmap/ocsfmap/engine/alertgen"
	"github.com/ocsfmap/ocsfmap/engine/lake/readertest"
	"github.com/ocsfmap/ocsfmap/engine/store/s3test"
)

// TestServeRecordsAreIsolated posts alerts from concurrent clients to a
// mapping whose raw_data is json($env), the whole alert (issue 19: the
// environment was reused, so one alert's raw_data held the previous one's
// fields). Every row in the bucket must hold its own alert, whole, and no
// other's.
func TestServeRecordsAreIsolated(t *testing.T) {
	const (
		region = "us-east-2"
		bucket = "aws-security-data-lake-us-east-2-isolation"
		role   = "arn:aws:iam::444455556666:role/AmazonSecurityLake-Provider-dspmalerts-us-east-2"
		extID  = "isolation-external-id-0001"
		token  = "isolation-token-0123456789"
	)
	lake, err := s3test.StartLake(s3test.LakeConfig{Dir: t.TempDir(), Region: region, Bucket: bucket, RoleARN: role,
		ExternalID: extID, Account: "111122223333", WriterKey: "AKIAISOLATIONWRITER", WriterSecret: "isolation-writer-secret"})
	if err != nil {
		t.Fatal(err)
	}
	defer lake.Close()
	for k, v := range lake.Env {
		t.Setenv(k, v)
	}
	dir := t.TempDir()
	// The shipped mapping, with its templates, plus two rules reading $env.
	shipped := "../../mappings/zscaler-dspm/"
	text, err := os.ReadFile(shipped + "security_finding_1.1.0.yaml")
	if err != nil {
		t.Fatal(err)
	}
	text = bytes.Replace(text, []byte("\nfields:\n"), []byte("\nfields:\n  raw_data: {expr: 'json($env)'}\n  unmapped.owner: {expr: '$env.owner?.name'}\n"), 1)
	os.MkdirAll(filepath.Join(dir, "m", "templates"), 0o755)
	for _, name := range []string{"finding_desc.txt", "resource_details.txt"} {
		b, err := os.ReadFile(shipped + "templates/" + name)
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(dir, "m", "templates", name), b, 0o644)
	}
	mapping := filepath.Join(dir, "m", "dspm.yaml")
	os.WriteFile(mapping, text, 0o644)
	os.WriteFile(filepath.Join(dir, "dspm.yaml"), []byte(lake.Integration("dspm", mapping, "")), 0o600)
	svc, err := New(Config{Paths: []string{dir}, DataDir: filepath.Join(dir, "data"), RollAge: 200 * time.Millisecond,
		RollBytes: 1 << 20, IngestTokens: []string{token}, NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer svc.Close()
	if err := svc.Start(); err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(svc.Handler())
	defer hs.Close()

	// Each alert gets a unique id and an owner of its own, with an ssn no
	// rule maps: only $env can carry it into a row.
	const clients, batches, per = 4, 5, 30
	var mu sync.Mutex
	sent := map[string]map[string]any{}
	var wg sync.WaitGroup
	for c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			g := alertgen.New(uint64(c+1), alertgen.Options{Accounts: 3, Days: 1})
			for b := range batches {
				var body []byte
				for i := range per {
					a := g.Next()
					id := fmt.Sprintf("iso-%d-%d-%d", c, b, i)
					a["alert_id"] = id
					if i%3 != 2 { // and some alerts have no owner at all
						a["owner"] = map[string]any{"name": "owner-" + id, "ssn": "ssn-" + id}
					}
					line, _ := json.Marshal(a)
					body = append(append(body, line...), '\n')
					var back map[string]any
					json.Unmarshal(line, &back)
					mu.Lock()
					sent[id] = back
					mu.Unlock()
				}
				req, _ := http.NewRequest("POST", hs.URL+"/v1/integrations/dspm/alerts", bytes.NewReader(body))
				req.Header.Set("Authorization", "Bearer "+token)
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Error(err)
					return
				}
				resp.Body.Close()
				if resp.StatusCode != http.StatusAccepted {
					t.Errorf("status %d", resp.StatusCode)
				}
			}
		}()
	}
	wg.Wait()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := svc.Drain(ctx); err != nil {
		t.Fatal(err)
	}
	objs, err := lake.S3.Objects(context.Background(), bucket)
	if err != nil {
		t.Fatal(err)
	}
	rows := 0
	for k := range objs {
		body, _, err := lake.S3.Get(context.Background(), bucket, k)
		if err != nil {
			t.Fatal(err)
		}
		uids := readertest.Strings(t, body, "finding", "uid")
		raws := readertest.Strings(t, body, "raw_data")
		for i, uid := range uids {
			rows++
			var got map[string]any
			if err := json.Unmarshal([]byte(raws[i]), &got); err != nil {
				t.Fatalf("%s: raw_data %q: %v", uid, raws[i], err)
			}
			if want := sent[uid]; !reflect.DeepEqual(got, want) {
				t.Errorf("%s: raw_data is not its alert:\n got  %s", uid, raws[i])
			}
			for id := range sent {
				if id != uid && strings.Contains(raws[i], `"ssn-`+id+`"`) {
					t.Errorf("%s holds %s's owner", uid, id)
				}
			}
		}
	}
	st, _ := svc.Status("dspm")
	if rows == 0 || int64(rows) != st.Alerts.Written {
		t.Fatalf("%d rows checked, %d written", rows, st.Alerts.Written)
	}
}
