package conformance_test

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/ocsfmap/ocsfmap/engine/conformance"
)

// Check a file of OCSF records from any producer; each problem is reported
// as it is found, then the summary counts them per rule.
func Example() {
	dir, _ := os.MkdirTemp("", "conformance")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "records.ndjson")
	os.WriteFile(path, []byte(`{"class_uid": 2001, "metadata": {"version": "9.9.9"}}`+"\n"), 0o644)

	c, err := conformance.New(conformance.Options{}, func(p conformance.Problem) {
		fmt.Println(p.Rule, p.Pointer, p.Line)
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	if err := c.Check(path); err != nil {
		fmt.Println(err)
		return
	}
	s := c.Summary()
	fmt.Println(s.Records, "records,", s.Invalid, "invalid:", s.Rules)
	// Output:
	// version /metadata/version 1
	// 1 records, 1 invalid: map[version:1]
}
