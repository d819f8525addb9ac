package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/ocsfmap/ocsfmap/engine"
	"github.com/ocsfmap/ocsfmap/engine/source"
)

// newTestHandler is the function in this process, against the fake lake.
func newTestHandler(t testing.TB, l *fakeLake) *handler {
	t.Helper()
	for k, v := range l.env {
		t.Setenv(k, v)
	}
	t.Setenv("OCSFMAP_WORK_DIR", filepath.Join(t.TempDir(), "work"))
	cfg, err := configFromEnv()
	if err != nil {
		t.Fatal(err)
	}
	h, err := newHandler(context.Background(), cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func (l *fakeLake) putStaged(t testing.TB, key string, body []byte) string {
	t.Helper()
	out, err := l.srv.Client().PutObject(context.Background(), &s3.PutObjectInput{
		Bucket: aws.String(testStaging), Key: aws.String(key), Body: bytes.NewReader(body)})
	if err != nil {
		t.Fatal(err)
	}
	return strings.Trim(aws.ToString(out.ETag), `"`)
}

// s3Record is an ObjectCreated notification record as S3 sends it (the
// key URL-encoded).
func s3Record(key, etag string) map[string]any {
	return map[string]any{
		"eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": testRegion,
		"eventTime": "2026-11-01T12:00:00.000Z", "eventName": "ObjectCreated:Put",
		"s3": map[string]any{
			"s3SchemaVersion": "1.0", "configurationId": "alerts",
			"bucket": map[string]any{"name": testStaging, "arn": "arn:aws:s3:::" + testStaging},
			"object": map[string]any{"key": strings.ReplaceAll(key, " ", "+"), "size": 1, "eTag": etag, "sequencer": "0A1B2C3D4E5F678901"},
		},
	}
}

func invokeJSON(t testing.TB, h *handler, ev any) (any, error) {
	t.Helper()
	raw, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	return h.Invoke(ctx, raw)
}

func gz(t testing.TB, b []byte) []byte {
	var out bytes.Buffer
	w := gzip.NewWriter(&out)
	w.Write(b)
	w.Close()
	return out.Bytes()
}

// TestEventShapes: SQS with one alert, SQS with NDJSON, an S3 notification
// (a .gz alert file), an S3 notification inside SQS (with S3's test event
// beside it), and a notification of an object that is not there (only its
// message fails).
func TestEventShapes(t *testing.T) {
	l := startFakeLake(t)
	h := newTestHandler(t, l)
	alerts := sampleAlerts(t, "../../testdata/dspm/alerts.ndjson")
	inLake := func(t *testing.T, alerts []string) {
		t.Helper()
		got, _ := l.bucketUIDs(t)
		dead := l.deadUIDs(t)
		for _, a := range alerts {
			for _, id := range alertUIDs(a) {
				if got[id]+dead[id] != 1 {
					t.Errorf("alert %s: %d in the lake, %d dead-lettered", id, got[id], dead[id])
				}
			}
		}
	}
	sqsOK := func(t *testing.T, ev any) {
		t.Helper()
		out, err := invokeJSON(t, h, ev)
		if err != nil {
			t.Fatal(err)
		}
		if r := out.(events.SQSEventResponse); len(r.BatchItemFailures) != 0 {
			t.Fatalf("failures: %v", failedIDs(r))
		}
	}

	t.Run("SQS one alert", func(t *testing.T) {
		sqsOK(t, sqsEvent("one", alerts[0]))
		inLake(t, alerts[:1])
	})
	t.Run("SQS NDJSON", func(t *testing.T) {
		sqsOK(t, sqsEvent("ndjson", strings.Join(alerts[1:20], "\n")+"\n", strings.Join(alerts[20:30], "\n")))
		inLake(t, alerts[1:30])
	})
	t.Run("S3 notification", func(t *testing.T) {
		key := "incoming/2026/11/01/batch 1.ndjson.gz"
		etag := l.putStaged(t, key, gz(t, []byte(strings.Join(alerts[30:60], "\n")+"\n")))
		out, err := invokeJSON(t, h, map[string]any{"Records": []any{s3Record(key, etag)}})
		if err != nil || out != nil {
			t.Fatalf("answer %v, err %v", out, err)
		}
		inLake(t, alerts[30:60])
	})
	t.Run("S3 notification in SQS", func(t *testing.T) {
		key := "incoming/2026/11/01/batch-2.ndjson"
		etag := l.putStaged(t, key, []byte(strings.Join(alerts[60:100], "\n")))
		note, _ := json.Marshal(map[string]any{"Records": []any{s3Record(key, etag)}})
		test := `{"Service":"Amazon S3","Event":"s3:TestEvent","Time":"2026-11-01T12:00:00.000Z","Bucket":"alerts-staging","RequestId":"R","HostId":"H"}`
		missing, _ := json.Marshal(map[string]any{"Records": []any{s3Record("incoming/gone.ndjson", "0123")}})
		out, err := invokeJSON(t, h, sqsEvent("s3", string(note), test, string(missing), alerts[100]))
		if err != nil {
			t.Fatal(err)
		}
		if got := failedIDs(out.(events.SQSEventResponse)); !slices.Equal(got, []string{"s3-0002"}) {
			t.Fatalf("failures %v; want only the message of the missing object", got)
		}
		inLake(t, alerts[60:101])
	})
	t.Run("direct S3 notification of a missing object", func(t *testing.T) {
		_, err := invokeJSON(t, h, map[string]any{"Records": []any{s3Record("incoming/none.ndjson", "0123")}})
		if err == nil || !strings.Contains(err.Error(), "incoming/none.ndjson") {
			t.Fatalf("err %v; want one naming the object (Lambda then retries the event)", err)
		}
	})
}

// TestSampleEvent: the sample SQS event the docs invoke the emulator with
// is delivered whole.
func TestSampleEvent(t *testing.T) {
	l := startFakeLake(t)
	h := newTestHandler(t, l)
	raw, err := os.ReadFile("../../testdata/lambda/sqs-event.json")
	if err != nil {
		t.Fatal(err)
	}
	var ev events.SQSEvent
	if err := json.Unmarshal(raw, &ev); err != nil {
		t.Fatal(err)
	}
	out, err := invokeJSON(t, h, ev)
	if err != nil {
		t.Fatal(err)
	}
	if r := out.(events.SQSEventResponse); len(r.BatchItemFailures) != 0 {
		t.Fatalf("failures: %v", failedIDs(r))
	}
	var sent []string
	for _, r := range ev.Records {
		sent = append(sent, r.Body)
	}
	if n := checkExactlyOnce(t, l, sent); n == 0 {
		t.Fatal("nothing written")
	}
}

// TestUndelivered: exactly the messages with a record in a file that did
// not reach S3 are failed; a message whose records were all filtered or
// dead-lettered (in no file) never is; a message sharing an input (the same
// object twice) fails with it; a body whose array breaks is a dead letter,
// an object that breaks fails its message.
func TestUndelivered(t *testing.T) {
	b := newBatch()
	m1, m2, m3, m4, m5, m6 := b.message("m1"), b.message("m2"), b.message("m3"), b.message("m4"), b.message("m5"), b.message("m6")
	b.body(m1, nil)
	b.body(m2, nil)
	b.body(m3, nil) // every record dead-lettered or filtered: in no file
	o := object{bucket: "staging", key: "a.ndjson", etag: "e"}
	b.object(m1, o)
	b.object(m4, o)
	b.body(m5, []byte(`[{"a":1} {"a":2}]`))
	b.object(m6, object{bucket: "staging", key: "b.ndjson", etag: "f"})
	if len(b.inputs) != 6 || len(m4.inputs) != 1 || m4.inputs[0] != m1.inputs[1] {
		t.Fatalf("the object named twice should be one input: %d inputs", len(b.inputs))
	}
	broken := &source.SyntaxError{Msg: "expected , or ]"}
	rep := engine.BatchReport{FilesWritten: true, Inputs: map[string]*engine.InputOutcome{
		"sqs:m1": {Written: 1}, "sqs:m2": {Written: 2}, "sqs:m3": {DeadLettered: 1},
		"s3://staging/a.ndjson": {Written: 1}, "sqs:m5": {Written: 1, Err: broken},
		"s3://staging/b.ndjson": {Err: broken},
	}, Files: []engine.FileOutcome{
		{Key: "a", Inputs: []string{"sqs:m1", "sqs:m2"}},
		{Key: "b", Inputs: []string{"s3://staging/a.ndjson", "sqs:m2", "sqs:m5"}},
	}}
	rep.Files[1].Err = errors.New("upload failed")
	own := b.outcome(rep, rep.Files[1].Err)
	var got []string
	for _, m := range b.msgs {
		if m.failed() {
			got = append(got, m.id)
		}
	}
	if want := []string{"m1", "m2", "m4", "m5", "m6"}; !slices.Equal(got, want) {
		t.Fatalf("failed %v, want %v (m1 through its object, m2 through its body, m4 shares m1's object, m5's records are in the failed file, m6 broke)", got, want)
	}
	if len(own) != 0 {
		t.Fatalf("m5 fails with its file: no dead letter of its body, got %d", len(own))
	}

	b2 := newBatch()
	b2.body(b2.message("x"), nil)
	b2.body(b2.message("y"), nil)
	b2.body(b2.message("z"), []byte("[{"))
	rep2 := engine.BatchReport{FilesWritten: true, Inputs: map[string]*engine.InputOutcome{
		"sqs:x": {Written: 1}, "sqs:y": {}, "sqs:z": {Err: broken},
	}, Files: []engine.FileOutcome{{Key: "a", Inputs: []string{"sqs:x"}}}}
	if own := b2.outcome(rep2, nil); len(own) != 1 || own[0].Input != "sqs:z" {
		t.Fatalf("the broken body is not a dead letter: %v", own)
	}
	for _, m := range b2.msgs {
		if m.failed() {
			t.Fatalf("%s failed: %s", m.id, m.why())
		}
	}
	b3 := newBatch()
	b3.body(b3.message("x"), nil)
	b3.body(b3.message("y"), nil)
	rep3 := engine.BatchReport{Inputs: map[string]*engine.InputOutcome{"sqs:x": {Written: 1}, "sqs:y": {DeadLettered: 1}}}
	b3.outcome(rep3, errors.New("lake: disk full"))
	if !b3.msgs[0].failed() || b3.msgs[1].failed() {
		t.Fatal("with the files not made, x (written) fails and y (nothing written) does not")
	}
}
