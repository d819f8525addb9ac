package engine

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// A mapping that declares no partition takes the Security Lake region and
// account from cloud.region and cloud.account.uid when it sets them: the
// attributes validate holds each file's folder to. Without them every
// record would need --default-region and --default-account, and a lake
// whose folders contradict its records.
func TestPartitionDefaultsToCloud(t *testing.T) {
	src, err := os.ReadFile(cloudTrail)
	if err != nil {
		t.Fatal(err)
	}
	declared := []byte("partition:\n  region: cloud.region\n  account: cloud.account.uid\n")
	if !bytes.Contains(src, declared) {
		t.Fatalf("%s no longer declares its partition as this test expects", cloudTrail)
	}
	path := filepath.Join(t.TempDir(), "cloudtrail.yaml")
	if err := os.WriteFile(path, bytes.Replace(src, declared, nil, 1), 0o644); err != nil {
		t.Fatal(err)
	}
	m := load(t, path)
	rep, err := m.Deliver(t.Context(), Batch{ID: "undeclared", Inputs: []Input{
		FileInput("../testdata/aws-cloudtrail/elastic-api-calls.ndjson"),
		FileInput("../testdata/aws-cloudtrail/elastic-console-login.ndjson"),
		FileInput("../testdata/aws-cloudtrail/awsdocs-sign-in-events.json"),
	}}, DeliverConfig{Destination: m.LocalLake(t.TempDir(), ""), DeadLetters: filepath.Join(t.TempDir(), "dead.ndjson")})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Read == 0 || rep.Written != rep.Read {
		t.Fatalf("counts %+v: records not placed without a declared partition", rep.Counts)
	}
	var regions []string
	for _, f := range rep.Files {
		regions = append(regions, f.Region)
		if len(f.Account) != 12 {
			t.Errorf("%s: account %q is not cloud.account.uid", f.Key, f.Account)
		}
	}
	slices.Sort(regions)
	if regions = slices.Compact(regions); !slices.Equal(regions, []string{"us-east-1", "us-east-2"}) {
		t.Fatalf("regions %v, want the samples' awsRegion values", regions)
	}
}
