package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/ocsfmap/ocsfmap/engine/source"
)

// Issue 20, M8: any SQS body shaped like an S3 notification made the
// function read the bucket it named. Only the staging buckets are read:
// the message naming another fails, alone, and nothing of it is read.
func TestOnlyStagingBucketsRead(t *testing.T) {
	l := startFakeLake(t)
	h := newTestHandler(t, l)
	alerts := sampleAlerts(t, "../../testdata/dspm/alerts.ndjson")
	const other = "another-teams-bucket"
	if err := l.srv.CreateBucket(context.Background(), other); err != nil {
		t.Fatal(err)
	}
	out, err := l.srv.Client().PutObject(context.Background(), &s3.PutObjectInput{
		Bucket: aws.String(other), Key: aws.String("private/alerts.ndjson"), Body: strings.NewReader(strings.Join(alerts[:10], "\n"))})
	if err != nil {
		t.Fatal(err)
	}
	rec := s3Record("private/alerts.ndjson", strings.Trim(aws.ToString(out.ETag), `"`))
	rec["s3"].(map[string]any)["bucket"] = map[string]any{"name": other, "arn": "arn:aws:s3:::" + other}
	note, _ := json.Marshal(map[string]any{"Records": []any{rec}})
	resp, err := invokeJSON(t, h, sqsEvent("m", string(note), alerts[10]))
	if err != nil {
		t.Fatal(err)
	}
	if got := failedIDs(resp.(events.SQSEventResponse)); !slices.Equal(got, []string{"m-0000"}) {
		t.Errorf("failures %v; want only the message naming %s", got, other)
	}
	uids, _ := l.bucketUIDs(t)
	for _, a := range alerts[:10] {
		for _, id := range alertUIDs(a) {
			if uids[id] != 0 {
				t.Errorf("alert %s of %s reached the lake", id, other)
			}
		}
	}
	for _, id := range alertUIDs(alerts[10]) {
		if uids[id] != 1 {
			t.Errorf("the other message's alert %s: %d in the lake", id, uids[id])
		}
	}
}

// Issue 20, M8: a 292 KB gzip object holding one 300 MB line took 1.15 GB
// through the reader; a 512 MB function died with its whole batch. Now the
// line is refused past OCSFMAP_MAX_RECORD: its message fails, the others
// are delivered, and the invocation allocates a fraction of that.
func TestHugeLineFailsOnlyItsMessage(t *testing.T) {
	l := startFakeLake(t)
	h := newTestHandler(t, l)
	alerts := sampleAlerts(t, "../../testdata/dspm/alerts.ndjson")
	var obj bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&obj, gzip.BestSpeed)
	chunk := bytes.Repeat([]byte("A"), 1<<20)
	for range 300 {
		zw.Write(chunk)
	}
	zw.Write([]byte("\n"))
	zw.Close()
	t.Logf("the object: %d bytes of gzip, a line of 300 MiB", obj.Len())
	key := "incoming/one-line.ndjson.gz"
	etag := l.putStaged(t, key, obj.Bytes())
	note, _ := json.Marshal(map[string]any{"Records": []any{s3Record(key, etag)}})

	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	resp, err := invokeJSON(t, h, sqsEvent("big", alerts[0], string(note), alerts[1]))
	runtime.ReadMemStats(&after)
	if err != nil {
		t.Fatal(err)
	}
	if got := failedIDs(resp.(events.SQSEventResponse)); !slices.Equal(got, []string{"big-0001"}) {
		t.Errorf("failures %v; want only the message of the huge line", got)
	}
	alloc := after.TotalAlloc - before.TotalAlloc
	t.Logf("the invocation allocated %d MiB in all", alloc>>20)
	if alloc > 200<<20 {
		t.Errorf("the invocation allocated %d MiB: the line was read whole", alloc>>20)
	}
	uids, _ := l.bucketUIDs(t)
	for _, a := range alerts[:2] {
		for _, id := range alertUIDs(a) {
			if uids[id] != 1 {
				t.Errorf("alert %s of the other messages: %d in the lake", id, uids[id])
			}
		}
	}
}

// The record limit follows records as the engine reads them: a long array
// of small elements, or a long stream of pretty-printed values, passes;
// one element, one value or one line over it does not.
func TestRecordLimit(t *testing.T) {
	const limit = 1 << 10
	small := `{"a": "` + strings.Repeat("x", 100) + `", "b": [1, 2, {"c": "]},"}]}`
	many := func(sep string, n int) string { return strings.Repeat(small+sep, n-1) + small }
	big := `{"a": "` + strings.Repeat("x", 2*limit) + `"}`
	pretty := "{\n  \"a\": \"" + strings.Repeat("y", 100) + "\",\n  \"b\": {\n    \"c\": 1\n  }\n}\n"
	for _, c := range []struct {
		name, in string
		ok       bool
	}{
		{"NDJSON", many("\n", 100), true},
		{"NDJSON, a long line", many("\n", 3) + "\n" + big + "\n" + small, false},
		{"NDJSON, CRLF and a blank line", many("\r\n", 50) + "\r\n\r\n" + small, true},
		{"not JSON", strings.Repeat("not json { [ \" \n", 200), true},
		{"an array on one line", "[" + many(",", 100) + "]", true},
		{"an array, pretty", "\ufeff[\n  " + many(",\n  ", 100) + "\n]\n", true},
		{"arrays one after another", "[" + many(",", 50) + "]\n[" + many(",", 50) + "]", true},
		{"an array with a big element", "[" + small + "," + big + "]", false},
		{"a stream of pretty values", strings.Repeat(pretty, 100), true},
		{"a stream with a big value", pretty + "{\n  \"a\": " + strings.Repeat("1", 2*limit) + "\n}\n", false},
	} {
		for _, compress := range []bool{false, true} {
			in := []byte(c.in)
			if compress {
				var b bytes.Buffer
				zw := gzip.NewWriter(&b)
				zw.Write(in)
				zw.Close()
				in = b.Bytes()
			}
			r := newLimitedInput("t", io.NopCloser(bytes.NewReader(in)), limit, 1<<30)
			got, err := io.ReadAll(r)
			switch {
			case c.ok && err != nil:
				t.Errorf("%s (gzip %v): %v", c.name, compress, err)
			case c.ok && string(got) != c.in:
				t.Errorf("%s (gzip %v): read %d bytes, want %d", c.name, compress, len(got), len(c.in))
			case !c.ok && !errors.Is(err, source.ErrRecordTooLarge):
				t.Errorf("%s (gzip %v): %v, want a record too large", c.name, compress, err)
			}
		}
	}
	// A gzip inside a gzip would be decompressed by the engine past the
	// limits: it is refused.
	var inner, outer bytes.Buffer
	zw := gzip.NewWriter(&inner)
	zw.Write([]byte(many("\n", 10)))
	zw.Close()
	zw = gzip.NewWriter(&outer)
	zw.Write(inner.Bytes())
	zw.Close()
	if _, err := io.ReadAll(newLimitedInput("t", io.NopCloser(&outer), limit, 1<<30)); !errors.Is(err, gzip.ErrHeader) {
		t.Errorf("a gzip inside a gzip: %v", err)
	}
	// The object limit counts what is read, decompressed.
	r := newLimitedInput("t", io.NopCloser(strings.NewReader(many("\n", 100))), limit, 5*limit)
	if _, err := io.ReadAll(r); !errors.Is(err, errObjectTooLarge) {
		t.Errorf("over the object limit: %v", err)
	}
}

// TestRIEHugeLineWithin512MB: the finding as it was made (issue 20, M8),
// the bootstrap under the emulator as a 512 MB function: a 300 MB line in a
// small gzip object fails its own message only, and the function's peak
// RSS stays well within its memory.
func TestRIEHugeLineWithin512MB(t *testing.T) {
	l := startFakeLake(t)
	e := startEmulator(t, l, 120*time.Second, nil)
	alerts := sampleAlerts(t, "../../testdata/dspm/alerts.ndjson")
	var obj bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&obj, gzip.BestSpeed)
	chunk := bytes.Repeat([]byte("A"), 1<<20)
	for range 300 {
		zw.Write(chunk)
	}
	zw.Write([]byte("\n"))
	zw.Close()
	key := "incoming/one-line.ndjson.gz"
	etag := l.putStaged(t, key, obj.Bytes())
	note, _ := json.Marshal(map[string]any{"Records": []any{s3Record(key, etag)}})
	r, _ := e.invoke(t, sqsEvent("big", alerts[0], string(note)))
	if got := failedIDs(r); !slices.Equal(got, []string{"big-0001"}) {
		t.Errorf("failures %v; want only the message of the huge line", got)
	}
	hwm := peakRSS(t, e.cmd.Process.Pid)
	t.Logf("the function's peak RSS: %d MiB", hwm>>20)
	if hwm > 256<<20 {
		t.Errorf("the function's peak RSS is %d MiB: a 512 MB function is at risk", hwm>>20)
	}
	if got, _ := l.bucketUIDs(t); got[alertUIDs(alerts[0])[0]] != 1 {
		t.Errorf("the other message's alert is not in the lake")
	}
}

// peakRSS is the high-water mark of the resident memory of the emulator's
// child processes (the bootstrap), from /proc.
func peakRSS(t *testing.T, pid int) int64 {
	t.Helper()
	tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/children", pid))
	var peak int64
	for _, f := range tasks {
		b, _ := os.ReadFile(f)
		for _, child := range strings.Fields(string(b)) {
			status, err := os.ReadFile("/proc/" + child + "/status")
			if err != nil {
				continue
			}
			for _, line := range strings.Split(string(status), "\n") {
				if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
					kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
					peak = max(peak, kb<<10)
				}
			}
		}
	}
	if peak == 0 {
		t.Fatalf("no child of the emulator (pid %d) found in /proc", pid)
	}
	return peak
}
