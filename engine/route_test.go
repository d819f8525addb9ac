package engine

import (
	"bytes"
	"encoding/json"
	"errors"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/ocsfmap/ocsfmap/engine/filter"
)

const cloudTrail = "../mappings/aws-cloudtrail/cloudtrail_1.1.0.yaml"

// TestRoutedMapper: a mapping with classes loads one plan and one validator
// per class; MapJSON writes each record in the class its route names, and
// MapValidated checks it against that class's schema.
func TestRoutedMapper(t *testing.T) {
	m := load(t, cloudTrail)
	if len(m.Plans) != 2 || m.Plan != m.Plans[0] || strings.Join(m.Classes(), ",") != "api_activity,authentication" {
		t.Fatalf("plans %d, classes %v", len(m.Plans), m.Classes())
	}
	mp := m.NewMapper()
	for _, tc := range []struct {
		alert string
		class int
		uid   float64
	}{
		{`{"eventTime": "2016-07-14T19:15:45Z", "eventName": "UpdateTrail", "eventSource": "cloudtrail.amazonaws.com", "sourceIPAddress": "205.251.233.182", "awsRegion": "us-east-2", "recipientAccountId": "123456789012", "userIdentity": {"type": "IAMUser", "principalId": "P", "userName": "alice"}}`, 0, 6003},
		{`{"eventTime": "2018-07-24T18:32:11Z", "eventName": "ConsoleLogin", "eventSource": "signin.amazonaws.com", "sourceIPAddress": "192.0.2.0", "awsRegion": "us-east-1", "userIdentity": {"type": "Root", "principalId": "111122223333", "accountId": "111122223333"}, "responseElements": {"ConsoleLogin": "Success"}}`, 1, 3002},
	} {
		out, violations, err := mp.MapValidated([]byte(tc.alert))
		if err != nil || len(violations) > 0 {
			t.Fatalf("%s: %v %v", tc.alert, err, violations)
		}
		var doc map[string]any
		if err := json.Unmarshal(out, &doc); err != nil {
			t.Fatal(err)
		}
		if mp.Class() != tc.class || doc["class_uid"] != tc.uid {
			t.Errorf("class %d, class_uid %v; want %d, %v", mp.Class(), doc["class_uid"], tc.class, tc.uid)
		}
		// The other class's schema refuses the record: the validator used is
		// the record's class's.
		if len(m.ValidateClass(1-tc.class, doc)) == 0 {
			t.Errorf("a %v record is valid as class %s", tc.uid, m.Classes()[1-tc.class])
		}
	}
}

// TestRunRoutes: the pipeline maps every record into its class and says
// which in Result.Class; a record the route names no class for is a dead
// letter R409 with its bytes; the counts add up, per class too. A routed
// mapping is refused by the current delivery, which writes one class.
func TestRunRoutes(t *testing.T) {
	src, err := os.ReadFile(cloudTrail)
	if err != nil {
		t.Fatal(err)
	}
	// A route that names no class for an event without eventName.
	src = bytes.Replace(src, []byte(`"authentication" : "api_activity"'`), []byte(`"authentication" : (event_name == nil ? nil : "api_activity")'`), 1)
	path := filepath.Join(t.TempDir(), "cloudtrail.yaml")
	if err := os.WriteFile(path, src, 0o644); err != nil {
		t.Fatal(err)
	}
	m := load(t, path)
	var data []byte
	for _, f := range []string{"awsdocs-sign-in-events.json", "elastic-api-calls.ndjson", "elastic-console-login.ndjson", "eventbridge-iam.ndjson"} {
		b, err := os.ReadFile(filepath.Join("../testdata/aws-cloudtrail", f))
		if err != nil {
			t.Fatal(err)
		}
		data = append(append(data, b...), '\n')
	}
	data = append(data, `{"eventTime": "2018-07-24T18:32:11Z", "awsRegion": "us-east-1"}`...)
	sink, dead := &classCollect{m: m}, &deadCollect{}
	counts, err := m.Run(t.Context(), []Input{bytesInput("in.json", data)}, Options{Sink: sink, DeadLetters: dead, Validation: ValidateFull, Workers: 3})
	if err != nil {
		t.Fatal(err)
	}
	if sink.err != nil {
		t.Fatal(sink.err)
	}
	if counts.Read != counts.Written+counts.DeadLettered+counts.Filtered || counts.DeadLettered != 1 || counts.ByCode["R409"] != 1 {
		t.Fatalf("counts %+v", counts)
	}
	if sink.n[0] == 0 || sink.n[1] == 0 || counts.ByClass["api_activity"] != int64(sink.n[0]) || counts.ByClass["authentication"] != int64(sink.n[1]) {
		t.Fatalf("per class: sink %v, counts %v", sink.n, counts.ByClass)
	}
	d := dead.items[0]
	if d.Code != "R409" || d.Path != "route" || !strings.Contains(d.Reason, "route yields nil: the record has no class (classes: api_activity, authentication)") ||
		!strings.Contains(d.Rule, "cloudtrail.yaml:") || !strings.Contains(d.Raw, `"awsRegion": "us-east-1"`) {
		t.Fatalf("dead letter %+v", d)
	}

	// Alert rules read the same one extraction as the route: a rule on
	// eventName exports only the sign-ins, all of them Authentication.
	rules, diags := filter.Compile([]filter.Rule{{Name: "sign-ins", Enabled: true, Scope: `eventName == "ConsoleLogin"`}})
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	signins := &classCollect{m: m}
	counts, err = m.Run(t.Context(), []Input{bytesInput("in.json", data)}, Options{Sink: signins, DeadLetters: &deadCollect{}, Validation: ValidateFull, Workers: 3, Filter: rules})
	if err != nil || signins.err != nil {
		t.Fatal(err, signins.err)
	}
	if signins.n[0] != 0 || signins.n[1] != sink.n[1] || counts.Filtered != int64(sink.n[0]+1) {
		t.Fatalf("with a rule: per class %v (without: %v), counts %+v", signins.n, sink.n, counts)
	}
}

// classCollect checks that each record is of the class Result.Class says,
// with as many values as that class's plan lays out.
type classCollect struct {
	m   *Mapping
	n   [2]int
	err error
}

func (c *classCollect) WantsJSON() bool { return true }
func (c *classCollect) Write(r *Result) error {
	var doc struct {
		ClassUID int64 `json:"class_uid"`
	}
	p := c.m.Plans[r.Class]
	if err := json.Unmarshal(r.JSON, &doc); err != nil || doc.ClassUID != p.Class.UID || len(r.Rec.Values) != p.Slots() {
		c.err = errors.Join(c.err, errors.New(string(r.JSON)+": not of class "+p.Class.Name))
	}
	c.n[r.Class]++
	return nil
}

// TestRoutedAgreesWithSchema: over the CloudTrail samples, each with every
// top-level field of the event left out in turn, the plan of the record's
// class and that class's JSON Schema agree on every record (see
// checkAgreement), and both classes are reached.
func TestRoutedAgreesWithSchema(t *testing.T) {
	m := load(t, cloudTrail)
	pm := m.Plan.NewMapper()
	var classes [2]int
	codes := map[string]int{}
	for _, f := range []string{"awsdocs-sign-in-events.json", "elastic-api-calls.ndjson", "elastic-console-login.ndjson", "eventbridge-iam.ndjson"} {
		b, err := os.ReadFile(filepath.Join("../testdata/aws-cloudtrail", f))
		if err != nil {
			t.Fatal(err)
		}
		dec := json.NewDecoder(bytes.NewReader(b))
		for dec.More() {
			var ev map[string]any
			if err := dec.Decode(&ev); err != nil {
				t.Fatal(err)
			}
			for _, drop := range append([]string{""}, slices.Sorted(maps.Keys(ev))...) {
				alert := maps.Clone(ev)
				delete(alert, drop)
				raw, _ := json.Marshal(alert)
				code := checkAgreement(t, m, pm, raw)
				codes[code]++
				if code == "" {
					classes[pm.Class()]++
				}
			}
		}
	}
	if classes[0] == 0 || classes[1] == 0 || codes["R403"] == 0 {
		t.Fatalf("records per class %v, outcomes %v: both classes and some dead letters expected", classes, codes)
	}
	t.Logf("records per class %v, outcomes %v", classes, codes)
}
