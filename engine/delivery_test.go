package engine

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Abort leaves no file behind, whatever was buffered; Close writes them.
func TestDeliveryAbortWritesNothing(t *testing.T) {
	m, err := Load("../mappings/zscaler-dspm/security_finding_1.1.0.yaml")
	if err != nil {
		t.Fatal(err)
	}
	alerts := `{"alert_id": "a-1", "risk": "High", "csp_event_timestamp": 1793528130, "csp": "AWS", "account_id": "123456789012", "region": "us-east-2"}
{"alert_id": "a-2", "risk": "Low", "csp_event_timestamp": 1793528131, "csp": "AWS", "account_id": "210987654321", "region": "eu-west-1"}
`
	in := Input{Name: "alerts", Open: func() (io.ReadCloser, error) { return io.NopCloser(strings.NewReader(alerts)), nil }}
	for _, abort := range []bool{true, false} {
		dir := t.TempDir()
		d, err := m.NewDelivery(context.Background(), DeliveryOptions{Dir: dir, Source: "dspmalerts"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := d.Run(context.Background(), []Input{in}); err != nil {
			t.Fatal(err)
		}
		if abort {
			err = d.Abort()
		} else {
			_, err = d.Close(context.Background())
		}
		if err != nil {
			t.Fatal(err)
		}
		var files []string
		filepath.WalkDir(dir, func(p string, e os.DirEntry, err error) error {
			if err == nil && !e.IsDir() {
				files = append(files, p)
			}
			return nil
		})
		if want := map[bool]int{true: 0, false: 2}[abort]; len(files) != want {
			t.Fatalf("abort=%v: files %v, want %d", abort, files, want)
		}
	}
}
