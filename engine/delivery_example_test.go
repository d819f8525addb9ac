package engine_test

import (
	"context"
	"fmt"
	"os"

	"github.com/ocsfmap/ocsfmap/engine"
)

// Deliver a batch of alerts into a local folder laid out like the Security
// Lake bucket. With engine.IntegrationLake (engine.LoadIntegration) as the
// destination the same job stages the files and uploads them through each
// custom source's role; delivering the same batch ID again overwrites.
func ExampleMapping_Deliver() {
	m, err := engine.Load("../mappings/zscaler-dspm/security_finding_1.1.0.yaml")
	if err != nil {
		fmt.Println(err)
		return
	}
	dir, _ := os.MkdirTemp("", "lake")
	defer os.RemoveAll(dir)
	alerts := `{"alert_id": "a-1", "risk": "High", "csp_event_timestamp": 1793528130, "csp": "AWS", "account_id": "123456789012", "region": "us-east-2"}
{"alert_id": "a-2", "risk": "Low", "csp_event_timestamp": 1793528131, "csp": "AWS", "account_id": "123456789012", "region": "us-east-2"}
`
	rep, err := m.Deliver(context.Background(),
		engine.Batch{ID: "batch-1", Inputs: []engine.Input{engine.BytesInput("alerts", []byte(alerts))}},
		engine.DeliverConfig{Destination: m.LocalLake(dir, "ext/dspmalerts/"), DeadLetters: dir + "/dead-letters.ndjson"})
	if err != nil {
		fmt.Println(err)
	}
	for _, f := range rep.Files {
		fmt.Printf("%d rows of %s in %s/%s/%s, inputs %v, delivered %v\n", f.Rows, f.Class, f.Region, f.Account, f.EventDay, f.Inputs, f.Err == nil)
	}
	fmt.Printf("read %d, written %d\n", rep.Read, rep.Written)
	// Output:
	// 2 rows of security_finding in us-east-2/123456789012/20261101, inputs [alerts], delivered true
	// read 2, written 2
}
