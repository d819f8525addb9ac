package engine_test

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/ocsfmap/ocsfmap/engine"
)

// Deliver alerts into a local folder laid out like the Security Lake
// bucket. With DeliveryOptions.Integration (engine.LoadIntegration) the same
// job stages the files and uploads them through the custom source's role.
func ExampleMapping_NewDelivery() {
	m, err := engine.Load("../mappings/zscaler-dspm/security_finding_1.1.0.yaml")
	if err != nil {
		fmt.Println(err)
		return
	}
	dir, _ := os.MkdirTemp("", "lake")
	defer os.RemoveAll(dir)
	d, err := m.NewDelivery(context.Background(), engine.DeliveryOptions{Dir: dir, Source: "dspmalerts"})
	if err != nil {
		fmt.Println(err)
		return
	}
	alerts := `{"alert_id": "a-1", "risk": "High", "csp_event_timestamp": 1793528130, "csp": "AWS", "account_id": "123456789012", "region": "us-east-2"}
{"alert_id": "a-2", "risk": "Low", "csp_event_timestamp": 1793528131, "csp": "AWS", "account_id": "123456789012", "region": "us-east-2"}
`
	in := engine.Input{Name: "alerts", Open: func() (io.ReadCloser, error) { return io.NopCloser(strings.NewReader(alerts)), nil }}
	if _, err := d.Run(context.Background(), []engine.Input{in}); err != nil {
		fmt.Println(err)
	}
	rep, err := d.Close(context.Background())
	if err != nil {
		fmt.Println(err)
	}
	fmt.Printf("read %d, written %d, %d file(s) under %s\n", rep.Read, rep.Written, rep.Lake.Files, rep.Prefix)
	// Output:
	// read 2, written 2, 1 file(s) under ext/dspmalerts/
}
