// Package duckdbtest runs SQL through DuckDB's Node client, the reader users
// point at Security Lake layouts, for tests that check the Parquet we write.
// `make tools` installs the client into $OCSFMAP_TOOLS/duckdb.
package duckdbtest

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
)

// Query runs named queries and returns each one's rows. A missing client
// fails the test (never skips it): run make tools.
func Query(t testing.TB, queries map[string]string) map[string][]map[string]any {
	t.Helper()
	tools := os.Getenv("OCSFMAP_TOOLS")
	if tools == "" {
		t.Fatal("OCSFMAP_TOOLS is not set: run make test (or make tools, then OCSFMAP_TOOLS=<repo>/.tools go test)")
	}
	modules := filepath.Join(tools, "duckdb")
	if _, err := os.Stat(filepath.Join(modules, "node_modules", "@duckdb", "node-api")); err != nil {
		t.Fatalf("DuckDB node client missing in %s: run make tools (%v)", modules, err)
	}
	_, here, _, _ := runtime.Caller(0)
	in, _ := json.Marshal(queries)
	cmd := exec.Command("node", filepath.Join(filepath.Dir(here), "duckdb_query.cjs"), modules)
	cmd.Stdin = bytes.NewReader(in)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("duckdb: %v\n%s", err, stderr.String())
	}
	var res map[string][]map[string]any
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("duckdb output: %v\n%s", err, out)
	}
	return res
}
