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

// TestFileNames: a partition's file name depends on the contributors of its
// records only, not on the order they came in nor on other partitions.
func TestFileNames(t *testing.T) {
	mk := func(ids ...string) *batch {
		b := newBatch()
		for _, id := range ids {
			b.body(b.message(id), nil)
		}
		return b
	}
	a, b := mk("m1", "m2", "m3"), mk("m3", "m1", "m2", "m4")
	dir := "ext/dspmalerts/region=us-east-1/accountId=123456789012/eventDay=20261101"
	p := partOf(dir)
	for _, x := range []*batch{a, b} {
		x.parts[p] = map[string]bool{"sqs\x00m1": true, "sqs\x00m3": true}
	}
	if a.fileName(dir, 0) != b.fileName(dir, 0) {
		t.Fatal("the same contributors named different files")
	}
	if a.fileName(dir, 0) == a.fileName(dir, 1) {
		t.Fatal("the n-th file of a partition must differ")
	}
	b.parts[p]["sqs\x00m4"] = true
	if a.fileName(dir, 0) == b.fileName(dir, 0) {
		t.Fatal("other contributors must name another file")
	}
	if want := (part{"us-east-1", "123456789012", "20261101"}); p != want {
		t.Fatalf("partOf = %+v", p)
	}
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

// TestUndelivered: exactly the messages with a record in a partition whose
// file did not reach S3 are failed; a message whose records were all
// filtered or dead-lettered (no partition) never is; a message sharing an
// input (the same object twice) fails with it.
func TestUndelivered(t *testing.T) {
	b := newBatch()
	m1, m2, m3, m4 := b.message("m1"), b.message("m2"), b.message("m3"), b.message("m4")
	b.body(m1, nil)
	b.body(m2, nil)
	b.body(m3, nil) // every record dead-lettered or filtered: never placed
	o := object{bucket: "staging", key: "a.ndjson", etag: "e"}
	b.object(m1, o)
	b.object(m4, o)
	pa := engine.Placement{Region: "us-east-1", Account: "123456789012", Day: 20758}
	pb := engine.Placement{Region: "eu-west-1", Account: "123456789012", Day: 20758}
	b.place("sqs:m1", pa)
	b.place("sqs:m2", pa)
	b.place("sqs:m2", pb)
	b.place("s3://staging/a.ndjson", pb)
	if len(b.inputs) != 4 || len(m4.inputs) != 1 || m4.inputs[0] != m1.inputs[1] {
		t.Fatalf("the object named twice should be one input: %d inputs", len(b.inputs))
	}
	failedB := map[part]bool{{"eu-west-1", "123456789012", "20261101"}: true}
	b.undelivered(failedB, false, errors.New("upload failed"))
	var got []string
	for _, m := range b.msgs {
		if m.failed() {
			got = append(got, m.id)
		}
	}
	if want := []string{"m1", "m2", "m4"}; !slices.Equal(got, want) {
		t.Fatalf("failed %v, want %v (m1 through its object, m2 through its body, m4 shares m1's object)", got, want)
	}

	b2 := newBatch()
	b2.body(b2.message("x"), nil)
	b2.body(b2.message("y"), nil)
	b2.place("sqs:x", pa)
	b2.undelivered(map[part]bool{{"eu-west-1", "123456789012", "20261101"}: true}, false, nil)
	if b2.msgs[0].failed() || b2.msgs[1].failed() {
		t.Fatal("nothing of x or y is in the failed partition")
	}
	b2.undelivered(nil, true, errors.New("lake"))
	if !b2.msgs[0].failed() || b2.msgs[1].failed() {
		t.Fatal("with every file lost, x (placed) fails and y (nothing written) does not")
	}
}
