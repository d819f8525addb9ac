package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/ocsfmap/ocsfmap/engine"
	"github.com/ocsfmap/ocsfmap/engine/integration"
	"github.com/ocsfmap/ocsfmap/engine/store"
)

// handler is what a container keeps between invocations: the compiled
// mapping, the integration, and the Deliverer whose assumed-role
// credentials stay cached (and are refreshed before they expire).
type handler struct {
	cfg      config
	m        *engine.Mapping
	integ    *integration.Integration // StateDir and StagingDir under cfg.WorkDir
	delivery engine.DeliverConfig
	objects  *store.Objects // the staging bucket, and dead letters in S3
	log      *slog.Logger
}

func newHandler(ctx context.Context, cfg config, log *slog.Logger) (*handler, error) {
	li, err := engine.LoadIntegration(cfg.Integration)
	if err != nil {
		return nil, err
	}
	for _, w := range li.Warnings() {
		log.Warn("integration file", "warning", w.Header())
	}
	integ, m := li.Integ, li.Mapping
	// The package is read-only: state and staging live in the work folder.
	integ.StateDir = filepath.Join(cfg.WorkDir, "state")
	integ.StagingDir = filepath.Join(cfg.WorkDir, "staging")
	if err := os.MkdirAll(integ.StateDir, 0o755); err != nil {
		return nil, err
	}
	dl, err := integ.Deliverer(ctx, store.DeliverOptions{
		// The invocation's deadline bounds the retries; these only space them.
		MinBackoff: 500 * time.Millisecond, MaxBackoff: 10 * time.Second, Attempts: 20,
		// A batch over many partitions makes many small files: uploads
		// wait on S3, not on the CPU.
		Workers: 16,
		Logger:  log,
	})
	if err != nil {
		return nil, err
	}
	region := os.Getenv("AWS_REGION")
	if region == "" {
		region = integ.Region
	}
	objects, err := store.NewObjects(ctx, region, integ.PathStyle)
	if err != nil {
		return nil, err
	}
	log.Info("ocsfmap-lambda ready", "integration", integ.Name, "mapping", m.Plan.Name,
		"bucket", integ.Bucket, "prefix", integ.KeyPrefix(), "dead_letters", cfg.DeadLetters, "memory", cfg.Memory)
	// A container starts with nothing staged: files left by an invocation
	// that timed out are rebuilt by the redelivery of its messages.
	if err := os.RemoveAll(integ.StagingDir); err != nil {
		return nil, err
	}
	return &handler{cfg: cfg, m: m, integ: integ, objects: objects, log: log, delivery: engine.DeliverConfig{
		Destination: engine.IntegrationLake(integ, dl), Integration: integ, Rules: li.Rules,
		Memory: cfg.Memory, Logger: log,
	}}, nil
}

// Invoke takes an SQS event (answered with the messages to retry) or an S3
// event notification (answered with an error when an object was not
// delivered, so Lambda retries the event).
func (h *handler) Invoke(ctx context.Context, raw json.RawMessage) (any, error) {
	// An SQS event is decoded once (it may be megabytes); an S3 event's
	// records have eventSource too and are decoded again as such.
	var ev events.SQSEvent
	if err := json.Unmarshal(raw, &ev); err != nil {
		return nil, fmt.Errorf("event: %w", err)
	}
	if len(ev.Records) == 0 {
		return events.SQSEventResponse{BatchItemFailures: []events.SQSBatchItemFailure{}}, nil
	}
	switch src := ev.Records[0].EventSource; src {
	case "aws:sqs":
		return h.sqs(ctx, ev), nil
	case "aws:s3":
		var ev events.S3Event
		if err := json.Unmarshal(raw, &ev); err != nil {
			return nil, fmt.Errorf("S3 event: %w", err)
		}
		return nil, h.s3(ctx, ev)
	default:
		return nil, fmt.Errorf("unsupported event source %q: SQS messages or S3 event notifications", src)
	}
}

// sqs delivers a batch of SQS messages and reports those to retry.
func (h *handler) sqs(ctx context.Context, ev events.SQSEvent) events.SQSEventResponse {
	b := newBatch()
	for _, rec := range ev.Records {
		msg := b.message(rec.MessageId)
		body := []byte(rec.Body)
		if objs, ok := s3Notification(body); ok {
			for _, o := range objs {
				b.object(msg, o)
			}
			continue
		}
		b.body(msg, body)
	}
	h.deliver(ctx, b)
	resp := events.SQSEventResponse{BatchItemFailures: []events.SQSBatchItemFailure{}}
	for _, m := range b.msgs {
		if m.failed() {
			resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: m.id})
		}
	}
	return resp
}

// s3 delivers the objects of a direct S3 notification.
func (h *handler) s3(ctx context.Context, ev events.S3Event) error {
	b := newBatch()
	for _, rec := range ev.Records {
		if o, ok := objectOf(rec); ok {
			b.object(b.message("s3://"+o.bucket+"/"+o.key), o)
		}
	}
	h.deliver(ctx, b)
	var errs []error
	for _, m := range b.msgs {
		if m.failed() {
			errs = append(errs, fmt.Errorf("%s: %s", m.id, m.why()))
		}
	}
	return errors.Join(errs...)
}

// object is an S3 object an event names.
type object struct {
	region, bucket, key, version, etag string
}

// objectOf reads an S3 event record: only created objects carry alerts.
func objectOf(rec events.S3EventRecord) (object, bool) {
	if !strings.HasPrefix(rec.EventName, "ObjectCreated:") {
		return object{}, false
	}
	key := rec.S3.Object.URLDecodedKey
	if key == "" {
		// Keys arrive URL-encoded (a space as '+').
		k, err := url.QueryUnescape(rec.S3.Object.Key)
		if err != nil {
			k = rec.S3.Object.Key
		}
		key = k
	}
	return object{region: rec.AWSRegion, bucket: rec.S3.Bucket.Name, key: key,
		version: rec.S3.Object.VersionID, etag: strings.Trim(rec.S3.Object.ETag, `"`)}, true
}

// s3Notification tells an SQS body that is an S3 event notification (or
// S3's test event, which names no object) from alerts, and lists the
// created objects.
func s3Notification(body []byte) ([]object, bool) {
	if !bytes.Contains(body, []byte(`"Records"`)) && !bytes.Contains(body, []byte(`s3:TestEvent`)) {
		return nil, false
	}
	var n struct {
		Event   string                 `json:"Event"`
		Records []events.S3EventRecord `json:"Records"`
	}
	// The first JSON value only: an NDJSON body is alerts, not this.
	if err := json.NewDecoder(bytes.NewReader(body)).Decode(&n); err != nil {
		return nil, false
	}
	if n.Event == "s3:TestEvent" && len(n.Records) == 0 {
		return nil, true
	}
	if len(n.Records) == 0 {
		return nil, false
	}
	var objs []object
	for _, r := range n.Records {
		if r.EventSource != "aws:s3" {
			return nil, false
		}
		if o, ok := objectOf(r); ok {
			objs = append(objs, o)
		}
	}
	return objs, true
}
