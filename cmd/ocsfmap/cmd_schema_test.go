package main

import (
	"bytes"
	"encoding/json"
	"io"
	"os"
	"slices"
	"strings"
	"testing"
)

func TestSchemaCommand(t *testing.T) {
	tests := []struct {
		args   []string
		status int
		stdout string // substring
		stderr string // substring
	}{
		{[]string{"schema", "--ocsf", "1.1.0", "--class", "security_finding"}, 0, `"$id": "https://schema.ocsf.io/schema/1.1.0/classes/security_finding"`, ""},
		{[]string{"schema", "--ocsf", "1.3.0", "--class", "security_finding", "--profiles", "cloud,datetime"}, 0, `?profiles=cloud,datetime`, ""},
		{[]string{"schema", "--class", "security_finding"}, 2, "", "--ocsf and --class are required"},
		{[]string{"schema", "--ocsf", "2.0.0", "--class", "security_finding"}, 2, "", `version "2.0.0" is not embedded`},
		{[]string{"schema", "--ocsf", "1.1.0", "--class", "data_security_finding"}, 2, "", `OCSF 1.1.0 has no class "data_security_finding"`},
		{[]string{"schema", "--ocsf", "1.1.0", "--class", "security_finding", "--profiles", "osint"}, 2, "", `OCSF 1.1.0 has no profile "osint"`},
		{[]string{"schema", "-m", "mappings/x.yaml", "--format", "arrow"}, 2, "", "error[M100]: open mappings/x.yaml"},
		{[]string{"schema", "-m", "x.yaml", "--ocsf", "1.1.0"}, 2, "", "cannot be combined"},
		{[]string{"schema", "--ocsf", "1.1.0", "--class", "security_finding", "--format", "glue"}, 2, "", "--format needs -m"},
		{[]string{"schema", "--nope"}, 2, "", "flag provided but not defined"},
	}
	for _, tt := range tests {
		var out, errb bytes.Buffer
		status := run(tt.args, &out, &errb)
		if status != tt.status || !strings.Contains(out.String(), tt.stdout) || !strings.Contains(errb.String(), tt.stderr) {
			t.Errorf("%v: status %d, stdout %.80q, stderr %q; want %d, %q, %q", tt.args, status, out.String(), errb.String(), tt.status, tt.stdout, tt.stderr)
		}
	}
}

func TestSchemaCommandProfiles(t *testing.T) {
	required := func(args ...string) []string {
		var out bytes.Buffer
		if status := run(append([]string{"schema", "--ocsf", "1.3.0", "--class", "security_finding"}, args...), &out, io.Discard); status != 0 {
			t.Fatalf("%v: status %d", args, status)
		}
		var m struct{ Required []string }
		if err := json.Unmarshal(out.Bytes(), &m); err != nil {
			t.Fatal(err)
		}
		return m.Required
	}
	if !slices.Contains(required(), "osint") {
		t.Error("every profile: osint not required")
	}
	if slices.Contains(required("--profiles", "cloud,datetime"), "osint") {
		t.Error("cloud,datetime: osint required")
	}
	// Without --profiles the output is the committed all-profiles file.
	var out bytes.Buffer
	run([]string{"schema", "--ocsf", "1.1.0", "--class", "security_finding"}, &out, io.Discard)
	want, err := os.ReadFile("../../schemas/ocsf/1.1.0/security_finding.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(out.Bytes(), want) {
		t.Error("schema output differs from the committed schema file")
	}
}
