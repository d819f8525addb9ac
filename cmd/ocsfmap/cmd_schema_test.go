package main

import (
	"bytes"
	"encoding/json"
	"io"
	"os"
	"regexp"
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
		{[]string{"schema", "--ocsf", "1.1.0", "--class", "security_finding", "--format", "glue"}, 2, "", "--format with --class is json or table"},
		{[]string{"schema", "--ocsf", "1.1.0", "--class", "authentication", "--path", "user"}, 2, "", "--path needs --format table"},
		{[]string{"schema", "--ocsf", "1.1.0", "--class", "authentication", "--format", "table", "--path", "user.nope"}, 2, "", `has no object attribute "nope"`},
		{[]string{"schema", "--nope"}, 2, "", "flag provided but not defined"},
		{[]string{"schema", "--ocsf", "1.1.0", "--class", "api_activity"}, 0, `"$id": "https://schema.ocsf.io/schema/1.1.0/classes/api_activity"`, ""},
		{[]string{"schema", "--list", "--ocsf", "9.9.9"}, 2, "", `version "9.9.9" is not embedded`},
		{[]string{"schema", "--list", "--class", "api_activity"}, 2, "", "--list cannot be combined"},
	}
	for _, tt := range tests {
		var out, errb bytes.Buffer
		status := run(tt.args, &out, &errb)
		if status != tt.status || !strings.Contains(out.String(), tt.stdout) || !strings.Contains(errb.String(), tt.stderr) {
			t.Errorf("%v: status %d, stdout %.80q, stderr %q; want %d, %q, %q", tt.args, status, out.String(), errb.String(), tt.status, tt.stdout, tt.stderr)
		}
	}
}

// TestSchemaTable: --format table shows an analyst a class's attributes (or
// an object's, with --path) with their types, requirements and enums,
// required first, and the object's constraints.
func TestSchemaTable(t *testing.T) {
	var out, errb bytes.Buffer
	if status := run([]string{"schema", "--ocsf", "1.1.0", "--class", "authentication", "--profiles", "cloud", "--format", "table"}, &out, &errb); status != 0 {
		t.Fatalf("status %d: %s", status, errb.String())
	}
	lines := strings.Split(out.String(), "\n")
	if lines[0] != "OCSF 1.1.0 authentication" || !regexp.MustCompile(`^activity_id +integer_t +required +0 Unknown, 1 Logon`).MatchString(lines[2]) {
		t.Fatalf("table:\n%s", out.String())
	}
	for _, want := range []string{`(?m)^user +user +required`, `(?m)^cloud +cloud +required +cloud`, `(?m)^is_mfa +boolean_t +`} {
		if !regexp.MustCompile(want).MatchString(out.String()) {
			t.Errorf("no line %s in:\n%s", want, out.String())
		}
	}
	out.Reset()
	if status := run([]string{"schema", "--ocsf", "1.1.0", "--class", "authentication", "--format", "table", "--path", "user"}, &out, &errb); status != 0 {
		t.Fatalf("status %d: %s", status, errb.String())
	}
	if !strings.HasPrefix(out.String(), "OCSF 1.1.0 authentication.user (user)") || !strings.Contains(out.String(), "at least one of: account, name, uid") {
		t.Fatalf("user's table:\n%s", out.String())
	}
}

// TestSchemaList checks that --list shows every event class of a version,
// not only the Findings, with its uid and category.
func TestSchemaList(t *testing.T) {
	var out, errb bytes.Buffer
	if status := run([]string{"schema", "--list", "--ocsf", "1.1.0"}, &out, &errb); status != 0 {
		t.Fatalf("status %d: %s", status, errb.String())
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if lines[0] != "OCSF 1.1.0" || len(lines) != 2+44 {
		t.Fatalf("want a heading, a header and the 44 classes of 1.1.0 (43 with a uid and base_event), got %d lines:\n%s", len(lines), out.String())
	}
	for _, want := range []string{
		`0 +base_event +Base Event +0 Other`,
		`2001 +security_finding +Security Finding \(deprecated\) +2 Findings`,
		`2004 +detection_finding +Detection Finding +2 Findings`,
		`3002 +authentication +Authentication +3 Identity & Access Management`,
		`6003 +api_activity +API Activity +6 Application Activity`,
	} {
		if !regexp.MustCompile(`(?m)^` + want + `$`).MatchString(out.String()) {
			t.Errorf("no line %q in\n%s", want, out.String())
		}
	}
	out.Reset()
	if status := run([]string{"schema", "--list"}, &out, &errb); status != 0 {
		t.Fatalf("status %d: %s", status, errb.String())
	}
	for _, v := range []string{"1.0.0-rc.2", "1.0.0", "1.1.0", "1.3.0", "1.8.0"} {
		if !strings.Contains(out.String(), "OCSF "+v+"\n") {
			t.Errorf("--list alone: no section for %s", v)
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
