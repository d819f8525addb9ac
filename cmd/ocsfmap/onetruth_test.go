package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/ocsfmap/ocsfmap/engine/lake/readertest"
)

// One record, one truth (issue 19): what `map --validate full` accepts is
// what `run` writes and `ocsfmap validate` calls valid, and no record sees
// another. Each test is one of the repros, run as a user runs it:
// through the binary, on a mapping written the way an analyst writes one.

// reproMapping writes a mapping of OCSF 1.1.0's class with the cloud
// profile, a partition, the attributes every such record needs, and the
// given rules (YAML lines under fields:, two-space indented).
func reproMapping(t *testing.T, dir, class, rules string) string {
	t.Helper()
	header := `format: ocsfmap/v1
mapping: repro/` + class + `
version: 1.0.0
ocsf: {version: 1.1.0, class: ` + class + `, profiles: [cloud]}
partition:
  region: cloud.region
  account: cloud.account.uid
fields:
  time: {expr: 'epoch_ms(ts)'}
  activity_id: {value: 1}
  severity_id: {value: 1}
  metadata.product.name: {value: repro}
  metadata.product.vendor_name: {value: repro}
  cloud.provider: {value: AWS}
  cloud.region: {value: us-east-1}
  cloud.account.uid: {value: "123456789012"}
`
	path := filepath.Join(dir, "repro.yaml")
	if err := os.WriteFile(path, []byte(header+rules), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// vetted fails the test unless vet passes the mapping: a repro that vet
// refuses shows nothing.
func vetted(t *testing.T, path string) string {
	t.Helper()
	if out, _, code := ocsfmap(t, nil, "vet", "-q", path); code != 0 {
		t.Fatalf("the repro mapping does not pass vet, so it cannot show the defect:\n%s", out)
	}
	return path
}

// lineOf is the line number of the first line of a file that starts with prefix.
func lineOf(t *testing.T, path, prefix string) int {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for i, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, prefix) {
			return i + 1
		}
	}
	t.Fatalf("%s: no line starts with %q", path, prefix)
	return 0
}

func writeLines(t *testing.T, dir, name string, lines ...string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// records parses map's output, one JSON object per line.
func records(t *testing.T, out string) []map[string]any {
	t.Helper()
	var recs []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if line == "" {
			continue
		}
		var r map[string]any
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("map wrote a line that is not a JSON object: %v\n%s", err, line)
		}
		recs = append(recs, r)
	}
	return recs
}

// deadLetterFile reads a dead-letter file (none: no dead letter).
func deadLetterFile(t *testing.T, path string) []map[string]any {
	t.Helper()
	f, err := os.Open(path)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []map[string]any
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var d map[string]any
		if err := json.Unmarshal(sc.Bytes(), &d); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		out = append(out, d)
	}
	return out
}

// at reads a value down a path of object keys.
func at(v any, path ...string) any {
	for _, k := range path {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}

// lakeParquet is the one Parquet file of a lake run wrote.
func lakeParquet(t *testing.T, dir string) []byte {
	t.Helper()
	var files []string
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && strings.HasSuffix(p, ".parquet") {
			files = append(files, p)
		}
		return err
	})
	if len(files) != 1 {
		t.Fatalf("run wrote %d Parquet files, want 1: %v", len(files), files)
	}
	b, err := os.ReadFile(files[0])
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Repro 1: with raw_data: json($env), record B's raw_data held record A's
// fields (A's nested owner.ssn, which the mapping never maps) and A's was
// {}: the expression environment is filled lazily and reused. $env must be
// the current record, complete (or be refused at load), with one worker or
// several, in map's output and in the lake.
func TestOneTruthEnvIsolation(t *testing.T) {
	dir := t.TempDir()
	m := reproMapping(t, dir, "security_finding", `  state_id: {value: 1}
  finding.uid: {from: id}
  finding.title: {value: repro}
  raw_data: {expr: 'json($env)'}
  unmapped.owner: {expr: 'owner?.name'}
`)
	alerts := []string{
		`{"id":"A","ts":"2026-11-01T00:00:00Z","owner":{"name":"alice","ssn":"111-11-1111"},"note":"a-only"}`,
		`{"id":"B","ts":"2026-11-01T00:00:01Z","owner":{"name":"bob","ssn":"222-22-2222"},"note":"b-only"}`,
		`{"id":"C","ts":"2026-11-01T00:00:02Z","note":"c-only"}`,
	}
	in := writeLines(t, dir, "alerts.ndjson", alerts...)
	own, line := map[string]map[string]any{}, map[string]string{}
	for _, a := range alerts {
		var v map[string]any
		json.Unmarshal([]byte(a), &v)
		own[v["id"].(string)], line[v["id"].(string)] = v, a
	}
	// check holds one record's raw_data to its own alert: never another's.
	check := func(where, id, rawData string) {
		t.Helper()
		for other, v := range own {
			if other == id {
				continue
			}
			b, _ := json.Marshal(v["owner"])
			for _, s := range []string{`"id":"` + other + `"`, v["note"].(string), string(b)} {
				if s != "null" && strings.Contains(rawData, s) {
					t.Errorf("%s: record %s's raw_data (json($env)) holds record %s's %s: an expression sees another record\n  raw_data: %s", where, id, other, s, rawData)
				}
			}
		}
		var got map[string]any
		if err := json.Unmarshal([]byte(rawData), &got); err != nil || !reflect.DeepEqual(got, own[id]) {
			t.Errorf("%s: record %s's raw_data (json($env)) is not its alert, complete:\n  raw_data: %s\n  alert:    %s", where, id, rawData, line[id])
		}
	}
	for _, workers := range []string{"1", "2"} {
		out, stderr, code := ocsfmap(t, nil, "map", "--validate", "full", "--workers", workers, "-m", m, in)
		if code == 2 {
			// Refused at load: then vet must say so too, naming $env.
			vetOut, _, vetCode := ocsfmap(t, nil, "vet", m)
			if !strings.Contains(stderr, "$env") || vetCode != 1 || !strings.Contains(vetOut, "$env") {
				t.Fatalf("map refused the mapping (exit 2) but not with a diagnostic naming $env that vet shares:\nmap: %s\nvet (exit %d): %s", stderr, vetCode, vetOut)
			}
			return
		}
		if code != 0 {
			t.Fatalf("map --workers %s: exit %d\n%s", workers, code, stderr)
		}
		recs := records(t, out)
		if len(recs) != 3 {
			t.Fatalf("map --workers %s wrote %d records, want 3\n%s", workers, len(recs), stderr)
		}
		for _, r := range recs {
			id, _ := at(r, "finding", "uid").(string)
			raw, _ := r["raw_data"].(string)
			check("map --workers "+workers, id, raw)
		}
	}

	lake := filepath.Join(dir, "lake")
	if _, stderr, code := ocsfmap(t, nil, "run", "-q", "-m", m, "-o", lake, in); code != 0 {
		t.Fatalf("run: exit %d\n%s", code, stderr)
	}
	pq := lakeParquet(t, lake)
	uids, raws := readertest.Strings(t, pq, "finding", "uid"), readertest.Strings(t, pq, "raw_data")
	if len(uids) != 3 || len(raws) != 3 {
		t.Fatalf("the lake holds %d uids and %d raw_data, want 3 of each", len(uids), len(raws))
	}
	for i := range uids {
		check("run's lake", uids[i], raws[i])
	}
}

// Repro 2: resources built by an expression (a list of objects) passed vet,
// the mapping tests and map --validate full, and run stored them as
// array<string>: ocsfmap validate found no lake record valid (/resources/0:
// got string). The column must be the object's struct type.
func TestOneTruthExprObjectsInLake(t *testing.T) {
	dir := t.TempDir()
	m := vetted(t, reproMapping(t, dir, "security_finding", `  state_id: {value: 1}
  finding.uid: {from: id}
  finding.title: {value: repro}
  resources: {expr: 'map(items, ({"uid": #.arn, "type": #.type}))'}
`))
	in := writeLines(t, dir, "alerts.ndjson",
		`{"id":"A","ts":"2026-11-01T00:00:00Z","items":[{"arn":"arn:aws:s3:::a","type":"AWS::S3::Bucket"},{"arn":"arn:aws:s3:::b","type":"AWS::S3::Bucket"}]}`,
		`{"id":"B","ts":"2026-11-01T00:00:01Z","items":[{"arn":"arn:aws:s3:::c","type":"AWS::S3::Bucket"}]}`)
	out, stderr, code := ocsfmap(t, nil, "map", "--validate", "full", "--strict", "-m", m, "--dead-letter", filepath.Join(dir, "map-dead.ndjson"), in)
	if code != 0 {
		t.Fatalf("map --validate full --strict: exit %d (the records are valid OCSF)\n%s", code, stderr)
	}
	recs := records(t, out)
	if len(recs) != 2 || at(recs[0], "resources") == nil {
		t.Fatalf("map wrote %d records, want 2 with resources:\n%s", len(recs), out)
	}
	if first, _ := at(recs[0], "resources").([]any); len(first) != 2 || at(first[0], "uid") != "arn:aws:s3:::a" {
		t.Fatalf("map's resources of A: %v, want two objects, the first with uid arn:aws:s3:::a", at(recs[0], "resources"))
	}

	schema, stderr, code := ocsfmap(t, nil, "schema", "-m", m, "--format", "arrow")
	if code != 0 {
		t.Fatalf("schema: exit %d\n%s", code, stderr)
	}
	for _, line := range strings.Split(schema, "\n") {
		if strings.Contains(line, "- resources:") && !strings.Contains(line, "list<item: struct<") {
			t.Errorf("run's Parquet column for resources is not a list of the resource struct:\n%s", strings.TrimSpace(line))
		}
	}
	lake := filepath.Join(dir, "lake")
	if _, stderr, code := ocsfmap(t, nil, "run", "-q", "--strict", "-m", m, "-o", lake, in); code != 0 {
		t.Fatalf("run --strict: exit %d (map --validate full accepted every record)\n%s", code, stderr)
	}
	if vout, _, code := ocsfmap(t, nil, "validate", lake); code != 0 {
		t.Errorf("ocsfmap validate rejects the lake run wrote from records map --validate full accepts (exit %d):\n%s", code, vout)
	}
}

// Repro 2, second half: under the default validation, the keys of objects
// an expression builds were never checked; a misspelt uidd was written. The
// record must be dead-lettered with the rule's file:line (or the mapping
// refused at load), by map and by run alike.
func TestOneTruthExprObjectKeysChecked(t *testing.T) {
	dir := t.TempDir()
	m := reproMapping(t, dir, "security_finding", `  state_id: {value: 1}
  finding.uid: {from: id}
  finding.title: {value: repro}
  resources: {expr: 'map(items, ({"uidd": #.arn, "type": #.type}))'}
`)
	in := writeLines(t, dir, "alerts.ndjson",
		`{"id":"A","ts":"2026-11-01T00:00:00Z","items":[{"arn":"arn:aws:s3:::a","type":"AWS::S3::Bucket"}]}`)
	dead := filepath.Join(dir, "dead.ndjson")
	out, stderr, code := ocsfmap(t, nil, "map", "-m", m, "--dead-letter", dead, in)
	switch {
	case code == 2:
		if !strings.Contains(stderr, "uidd") {
			t.Fatalf("map refused the mapping at load without naming the unknown key uidd:\n%s", stderr)
		}
		return
	case code != 0:
		t.Fatalf("map: exit %d\n%s", code, stderr)
	}
	if strings.Contains(out, "uidd") {
		t.Errorf("map (default --validate plan) wrote the unknown attribute uidd of resources:\n%s", out)
	}
	rule := fmt.Sprintf("%s:%d", filepath.Base(m), lineOf(t, m, "  resources:"))
	dls := deadLetterFile(t, dead)
	if len(dls) != 1 || !strings.Contains(fmt.Sprint(dls[0]["reason"], dls[0]["path"], dls[0]["violations"]), "uidd") ||
		!strings.Contains(fmt.Sprint(dls[0]["rule"]), rule) {
		t.Errorf("map: want one dead letter naming uidd with the rule %s, got %d: %v", rule, len(dls), dls)
	}
	lake := filepath.Join(dir, "lake")
	runDead := filepath.Join(dir, "run-dead.ndjson")
	if _, stderr, code := ocsfmap(t, nil, "run", "-q", "-m", m, "-o", lake, "--dead-letter", runDead, in); code != 0 {
		t.Fatalf("run: exit %d\n%s", code, stderr)
	}
	if n := len(deadLetterFile(t, runDead)); n != 1 {
		t.Errorf("run dead-lettered %d records, want the one whose resources has uidd", n)
	}
}

// Repro 3: an indexed list with a gap (observables[0] skipped by its when:,
// observables[1] set) and a rule yielding [] were valid as NDJSON and not in
// the lake (/observables/0: got null). Lists are compacted and empty lists
// and objects omitted, in map's output and in the lake alike.
func TestOneTruthHolesAndEmpties(t *testing.T) {
	dir := t.TempDir()
	m := vetted(t, reproMapping(t, dir, "security_finding", `  state_id: {value: 1}
  finding.uid: {from: id}
  finding.title: {value: repro}
  finding.types: {expr: 'filter(kinds ?? [], # != "")'}
  observables[0].name: {from: host, when: 'host != nil'}
  observables[0].type_id: {value: 1, when: 'host != nil'}
  observables[1].name: {from: ip}
  observables[1].type_id: {value: 2}
`))
	in := writeLines(t, dir, "alerts.ndjson",
		`{"id":"A","ts":"2026-11-01T00:00:00Z","ip":"10.0.0.1","kinds":[""]}`,
		`{"id":"B","ts":"2026-11-01T00:00:01Z","host":"web-1","ip":"10.0.0.2","kinds":["x"]}`)
	out, stderr, code := ocsfmap(t, nil, "map", "--validate", "full", "--strict", "-m", m, "--dead-letter", filepath.Join(dir, "map-dead.ndjson"), in)
	if code != 0 {
		t.Fatalf("map --validate full --strict: exit %d\n%s", code, stderr)
	}
	recs := records(t, out)
	if len(recs) != 2 {
		t.Fatalf("map wrote %d records, want 2:\n%s", len(recs), out)
	}
	wantObs := map[string][]any{"A": {"10.0.0.1"}, "B": {"web-1", "10.0.0.2"}}
	wantTypes := map[string]any{"A": nil, "B": []any{"x"}}
	for _, r := range recs {
		id := at(r, "finding", "uid").(string)
		var names []any
		obs, _ := r["observables"].([]any)
		for _, o := range obs {
			names = append(names, at(o, "name"))
		}
		if !reflect.DeepEqual(names, wantObs[id]) {
			t.Errorf("map: record %s's observables are %v, want the names %v (a list compacted, no null)", id, obs, wantObs[id])
		}
		if got := at(r, "finding", "types"); !reflect.DeepEqual(got, wantTypes[id]) {
			t.Errorf("map: record %s's finding.types is %#v, want %#v (an empty list is omitted)", id, got, wantTypes[id])
		}
	}

	lake := filepath.Join(dir, "lake")
	if _, stderr, code := ocsfmap(t, nil, "run", "-q", "--strict", "-m", m, "-o", lake, in); code != 0 {
		t.Fatalf("run --strict: exit %d\n%s", code, stderr)
	}
	if vout, _, code := ocsfmap(t, nil, "validate", lake); code != 0 {
		t.Errorf("ocsfmap validate rejects the lake run wrote from records map --validate full accepts (exit %d):\n%s", code, vout)
	}
	glob := strings.ReplaceAll(filepath.ToSlash(lake), "'", "''") + "/**/*.parquet"
	res := duckdb(t, map[string]string{"rows": "SELECT finding.uid AS id, to_json(observables)::VARCHAR AS obs, to_json(finding.types)::VARCHAR AS types FROM read_parquet('" +
		glob + "', hive_partitioning=false) ORDER BY id"})
	if len(res["rows"]) != 2 {
		t.Fatalf("DuckDB reads %d rows from the lake, want 2: %v", len(res["rows"]), res["rows"])
	}
	mapped := map[string]map[string]any{}
	for _, r := range recs {
		mapped[at(r, "finding", "uid").(string)] = r
	}
	for _, row := range res["rows"] {
		id := fmt.Sprint(row["id"])
		var obs, types any
		json.Unmarshal([]byte(fmt.Sprint(row["obs"])), &obs)
		if s, ok := row["types"].(string); ok {
			json.Unmarshal([]byte(s), &types)
		}
		wantObs, wantTypes := at(mapped[id], "observables"), at(mapped[id], "finding", "types")
		if !reflect.DeepEqual(dropNulls(obs), wantObs) || !reflect.DeepEqual(types, wantTypes) {
			t.Errorf("the lake, read by DuckDB, is not what map wrote for record %s (a hole is a null element, [] is not omitted):\n  lake: observables %v, finding.types %#v\n  map:  observables %v, finding.types %#v",
				id, row["obs"], types, wantObs, wantTypes)
		}
	}
}

// Repro 4: values of OCSF's typed scalars passed every check: an ip that is
// a hostname, a port of 70000, a mac, an email address and a URL that are
// none. OCSF defines these types with patterns and ranges; the plan's
// per-record checks dead-letter such records (under the default validation
// and full alike), and ocsfmap validate reports them.
func TestOneTruthTypedScalars(t *testing.T) {
	dir := t.TempDir()
	m := vetted(t, reproMapping(t, dir, "detection_finding", `  finding_info.uid: {from: id}
  finding_info.title: {value: repro}
  finding_info.src_url: {from: url}
  evidences[0].src_endpoint.ip: {from: ip}
  evidences[0].src_endpoint.port: {from: port}
  evidences[0].src_endpoint.mac: {from: mac}
  evidences[0].actor.user.name: {value: someone}
  evidences[0].actor.user.email_addr: {from: email}
`))
	good := `{"id":"ok","ts":"2026-11-01T00:00:00Z","ip":"10.0.0.1","port":443,"mac":"00:11:22:33:44:55","email":"bob@example.com","url":"https://example.com/x"}`
	bad := []struct{ id, field, value, attr, pointer string }{
		{"ip", "ip", `"ec2.amazonaws.com"`, "evidences[0].src_endpoint.ip", "/evidences/0/src_endpoint/ip"},
		{"port", "port", `70000`, "evidences[0].src_endpoint.port", "/evidences/0/src_endpoint/port"},
		{"mac", "mac", `"not-a-mac"`, "evidences[0].src_endpoint.mac", "/evidences/0/src_endpoint/mac"},
		{"email", "email", `"nobody"`, "evidences[0].actor.user.email_addr", "/evidences/0/actor/user/email_addr"},
		{"url", "url", `"not a url"`, "finding_info.src_url", "/finding_info/src_url"},
	}
	lines := []string{good}
	for _, b := range bad {
		var a map[string]any
		json.Unmarshal([]byte(good), &a)
		a["id"] = b.id
		var v any
		json.Unmarshal([]byte(b.value), &v)
		a[b.field] = v
		line, _ := json.Marshal(a)
		lines = append(lines, string(line))
	}
	in := writeLines(t, dir, "alerts.ndjson", lines...)

	var goodRecord string
	for _, mode := range []string{"plan", "full"} {
		dead := filepath.Join(dir, mode+"-dead.ndjson")
		out, stderr, code := ocsfmap(t, nil, "map", "--validate", mode, "-m", m, "--dead-letter", dead, in)
		if code != 0 {
			t.Fatalf("map --validate %s: exit %d\n%s", mode, code, stderr)
		}
		recs := records(t, out)
		written := map[string]bool{}
		for _, r := range recs {
			written[fmt.Sprint(at(r, "finding_info", "uid"))] = true
		}
		if !written["ok"] {
			t.Fatalf("map --validate %s did not write the valid record:\n%s", mode, stderr)
		}
		goodRecord = strings.SplitN(strings.TrimSpace(out), "\n", 2)[0]
		byID := map[string]map[string]any{}
		for _, d := range deadLetterFile(t, dead) {
			var a map[string]any
			json.Unmarshal([]byte(fmt.Sprint(d["raw"])), &a)
			byID[fmt.Sprint(a["id"])] = d
		}
		for _, b := range bad {
			d := byID[b.id]
			switch {
			case written[b.id]:
				t.Errorf("map --validate %s wrote %s %s, which is no %s", mode, b.attr, b.value, b.id)
			case d == nil:
				t.Errorf("map --validate %s neither wrote nor dead-lettered the record with %s %s", mode, b.attr, b.value)
			case !strings.Contains(fmt.Sprint(d["path"], d["reason"], d["violations"]), b.attr) &&
				!strings.Contains(fmt.Sprint(d["path"], d["reason"], d["violations"]), b.pointer):
				t.Errorf("map --validate %s: the dead letter for %s %s does not name the attribute: %v", mode, b.attr, b.value, d)
			}
		}
	}

	// ocsfmap validate: the valid record with each bad value put in.
	var variants []string
	for _, b := range bad {
		var r map[string]any
		json.Unmarshal([]byte(goodRecord), &r)
		var v any
		json.Unmarshal([]byte(b.value), &v)
		parts := strings.Split(strings.TrimPrefix(b.pointer, "/"), "/")
		obj := r
		for _, p := range parts[:len(parts)-1] {
			switch x := obj[p].(type) {
			case map[string]any:
				obj = x
			case []any:
				obj = x[0].(map[string]any) // the pointers' only index is 0: the next part
			}
		}
		obj[parts[len(parts)-1]] = v
		line, _ := json.Marshal(r)
		variants = append(variants, string(line))
	}
	file := writeLines(t, dir, "records.ndjson", variants...)
	vout, _, code := ocsfmap(t, nil, "validate", file)
	if code != 1 {
		t.Errorf("ocsfmap validate: exit %d on %d records each with an invalid typed value, want 1:\n%s", code, len(bad), vout)
	}
	for i, b := range bad {
		if want := fmt.Sprintf("records.ndjson:%d: %s", i+1, b.pointer); !strings.Contains(vout, want) {
			t.Errorf("ocsfmap validate does not report %s %s (want a line with %q):\n%s", b.attr, b.value, want, vout)
		}
	}
}
