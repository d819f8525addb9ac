package main

import (
	"bytes"
	"compress/flate"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/ocsfmap/ocsfmap/engine"
	"github.com/ocsfmap/ocsfmap/engine/source"
)

// batch is one invocation's work: messages (SQS messages, or the records of
// a direct S3 notification), and the inputs they bring (message bodies and
// S3 objects), each input once however many messages name it.
type batch struct {
	msgs   []*message
	inputs []*input
	byKey  map[string]*input // dedup: an SQS body by message id, an object by bucket/key/version/etag
	byName map[string]*input // engine input name → input
}

// message is what gets retried as a whole: an SQS message.
type message struct {
	id     string
	inputs []*input
	note   string // why it failed, when no input says
}

// input is one stream of alerts: an SQS body or an S3 object.
type input struct {
	name string // the engine.Input name; unique in the batch
	// contributor names what this input puts in the batch: the message id
	// for a body, the object (bucket, key, version, ETag) for an object. A
	// redelivery of the same contributors is the same batch, and rebuilds
	// the same object keys.
	contributor string
	body        []byte
	obj         *object
	file        string // the object, fetched
	err         error  // not delivered: its messages fail
}

func newBatch() *batch {
	return &batch{byKey: map[string]*input{}, byName: map[string]*input{}}
}

func (b *batch) message(id string) *message {
	m := &message{id: id}
	b.msgs = append(b.msgs, m)
	return m
}

func (b *batch) add(m *message, key string, in *input) {
	if have, ok := b.byKey[key]; ok {
		m.inputs = append(m.inputs, have)
		return
	}
	name := in.name
	for i := 2; b.byName[in.name] != nil; i++ {
		in.name = fmt.Sprintf("%s#%d", name, i)
	}
	b.byKey[key], b.byName[in.name] = in, in
	b.inputs = append(b.inputs, in)
	m.inputs = append(m.inputs, in)
}

// body adds an SQS message's body of alerts. The same message twice in one
// batch (SQS delivers at least once) is read once.
func (b *batch) body(m *message, body []byte) {
	b.add(m, "sqs\x00"+m.id, &input{name: "sqs:" + m.id, contributor: "sqs\x00" + m.id, body: body})
}

// object adds an alert file a notification names. Two notifications of
// the same object version are read once.
func (b *batch) object(m *message, o object) {
	key := "s3\x00" + o.bucket + "\x00" + o.key + "\x00" + o.version + "\x00" + o.etag
	b.add(m, key, &input{name: "s3://" + o.bucket + "/" + o.key, contributor: key, obj: &o})
}

// failed: some of the message's alerts are not in S3 (nor dead-lettered).
func (m *message) failed() bool {
	if m.note != "" {
		return true
	}
	for _, in := range m.inputs {
		if in.err != nil {
			return true
		}
	}
	return false
}

func (m *message) why() string {
	for _, in := range m.inputs {
		if in.err != nil {
			return in.err.Error()
		}
	}
	return m.note
}

// batchID names the batch, its files and its dead-letter object: the
// same inputs, the same keys.
func (b *batch) batchID() string {
	ids := make([]string, len(b.inputs))
	for i, in := range b.inputs {
		ids[i] = in.contributor
	}
	slices.Sort(ids)
	s := sha256.Sum256([]byte(strings.Join(ids, "\x01")))
	return fmt.Sprintf("%x", s[:16])
}

// budget splits what is left of the invocation: mapping stops at mapBy (what
// was read is still written), uploads stop at uploadBy, and what follows —
// dead letters, the answer — has the rest. A timeout must never be how a
// batch fails.
type budget struct{ mapBy, uploadBy, end time.Time }

func budgetOf(ctx context.Context, now time.Time) budget {
	deadline, ok := ctx.Deadline()
	if !ok {
		deadline = now.Add(15 * time.Minute)
	}
	left := deadline.Sub(now)
	reserve := min(max(left/10, time.Second), 20*time.Second)
	end := deadline.Add(-min(max(left/50, 200*time.Millisecond), 2*time.Second))
	return budget{mapBy: now.Add(left * 6 / 10), uploadBy: deadline.Add(-reserve), end: end}
}

// deliver delivers the batch's inputs as one engine batch (one file per
// partition, named from the batch) and decides which inputs are not in S3.
func (h *handler) deliver(ctx context.Context, b *batch) {
	start := time.Now()
	bud := budgetOf(ctx, start)
	if len(b.inputs) == 0 {
		return
	}
	objDir := filepath.Join(h.cfg.WorkDir, "objects")
	os.RemoveAll(objDir)
	defer os.RemoveAll(objDir)

	mapCtx, cancelMap := context.WithDeadline(ctx, bud.mapBy)
	defer cancelMap()
	h.fetch(mapCtx, b, objDir)
	var inputs []engine.Input
	for _, in := range b.inputs {
		if in.err == nil {
			inputs = append(inputs, in.engineInput(h.cfg.MaxRecord, h.cfg.MaxObject))
		}
	}
	upCtx, cancelUp := context.WithDeadline(ctx, bud.uploadBy)
	defer cancelUp()
	dlPath := filepath.Join(h.cfg.WorkDir, "dead-letters.ndjson")
	rep, err := h.m.Deliver(upCtx, engine.Batch{ID: b.batchID(), Inputs: inputs, DeadLetters: dlPath, ReadCtx: mapCtx}, h.delivery)
	own := b.outcome(rep, err)
	dlErr := h.deadLetters(bud, b, dlPath, own)
	if dlErr != nil {
		ownDead := map[string]bool{}
		for _, d := range own {
			ownDead[d.Input] = true
		}
		for _, in := range b.inputs {
			if o := rep.Inputs[in.name]; in.err == nil && (ownDead[in.name] || o != nil && o.DeadLettered > 0) {
				in.err = fmt.Errorf("dead letters not kept: %w", dlErr)
			}
		}
	}
	failed := 0
	for _, m := range b.msgs {
		if m.failed() {
			failed++
		}
	}
	var uploaded, bytes int64
	for _, f := range rep.Files {
		if f.Err == nil {
			uploaded++
			bytes += f.Bytes
		}
	}
	lvl := h.log.Info
	if failed > 0 {
		lvl = h.log.Warn
	}
	lvl("batch delivered", "messages", len(b.msgs), "inputs", len(b.inputs), "failed_messages", failed,
		"read", rep.Read, "written", rep.Written, "filtered", rep.Filtered, "dead_lettered", rep.DeadLettered+int64(len(own)),
		"files", len(rep.Files), "uploaded", uploaded, "bytes", bytes, "not_uploaded", int64(len(rep.Files))-uploaded,
		"took", time.Since(start).Round(time.Millisecond).String(), "err", firstErr(err, dlErr))
}

// outcome fails each input with a record not delivered: in a file that
// did not reach S3, in any file when the lake failed, or not read to its
// end. A body whose record boundaries were lost (a broken JSON array) is
// the exception: what was read of it stands, and the body becomes a dead
// letter, returned. An input with no record in a file (all filtered or
// dead-lettered) never fails with the files.
func (b *batch) outcome(rep engine.BatchReport, err error) (own []*engine.DeadLetter) {
	inFailedFile := map[string]error{}
	for _, f := range rep.Files {
		for _, name := range f.Inputs {
			if f.Err != nil && inFailedFile[name] == nil {
				inFailedFile[name] = fmt.Errorf("records in %s not delivered: %w", f.Key, f.Err)
			}
		}
	}
	for _, in := range b.inputs {
		if in.err != nil {
			continue
		}
		o := rep.Inputs[in.name]
		switch {
		case o == nil:
			in.err = fmt.Errorf("not delivered: %v", err)
		case inFailedFile[in.name] != nil:
			in.err = inFailedFile[in.name]
		case !rep.FilesWritten && o.Written > 0:
			in.err = fmt.Errorf("records not delivered: %v", err)
		case o.Err == nil:
		case readError(o.Err) && in.obj == nil:
			dl := &engine.DeadLetter{Input: in.name, Code: "R400", Reason: "invalid JSON: " + o.Err.Error() +
				fmt.Sprintf(" (%d record(s) before it were read)", o.Written+o.DeadLettered)}
			dl.SetRaw(in.body)
			own = append(own, dl)
		case readError(o.Err):
			in.err = fmt.Errorf("%s: %w", in.name, o.Err) // the object stays in the staging bucket
		case o.Err == engine.ErrUnread && err != nil:
			in.err = fmt.Errorf("%w: %v", o.Err, err)
		default:
			in.err = o.Err
		}
	}
	return own
}

func firstErr(errs ...error) error {
	for _, e := range errs {
		if e != nil {
			return e
		}
	}
	return nil
}

// readError is an input that cannot be read as alerts (as opposed to the
// lake or the dead letters failing).
func readError(err error) bool {
	var se *source.SyntaxError
	var ce flate.CorruptInputError
	return errors.As(err, &se) || errors.As(err, &ce) || errors.Is(err, source.ErrRecordTooLarge) || errors.Is(err, errObjectTooLarge) ||
		errors.Is(err, gzip.ErrHeader) || errors.Is(err, gzip.ErrChecksum) || errors.Is(err, io.ErrUnexpectedEOF)
}

// engineInput opens the body or the fetched object, decompressed and
// bounded (see limitedInput).
func (in *input) engineInput(maxRecord, maxObject int64) engine.Input {
	return engine.ReaderInput(in.name, func() (io.ReadCloser, error) {
		var r io.ReadCloser
		if in.obj != nil {
			f, err := os.Open(in.file)
			if err != nil {
				return nil, err
			}
			r = f
		} else {
			r = io.NopCloser(bytes.NewReader(in.body))
		}
		return newLimitedInput(in.name, r, maxRecord, maxObject), nil
	})
}

// fetch copies each object to a local file before any is mapped, a few at
// a time: an object that cannot be read fails its messages without a
// record of it written.
func (h *handler) fetch(ctx context.Context, b *batch, dir string) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		for _, in := range b.inputs {
			if in.obj != nil {
				in.err = err
			}
		}
		return
	}
	var wg sync.WaitGroup
	sem := make(chan struct{}, 8)
	for i, in := range b.inputs {
		if in.obj == nil {
			continue
		}
		in.file = filepath.Join(dir, fmt.Sprintf("%06d%s", i, path.Ext(in.obj.key)))
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			if in.err = h.fetchOne(ctx, in); in.err != nil {
				h.log.Warn("alert file not read", "object", in.name, "err", in.err)
			}
		}()
	}
	wg.Wait()
}

func (h *handler) fetchOne(ctx context.Context, in *input) error {
	o := in.obj
	if !h.cfg.stagingBucket(o.bucket) {
		// Any SQS body shaped like a notification could name any bucket
		// the function's role may read.
		return fmt.Errorf("%s: bucket %q is not a staging bucket (OCSFMAP_STAGING_BUCKETS): not read", in.name, o.bucket)
	}
	body, info, err := h.objects.Get(ctx, o.region, o.bucket, o.key, o.version)
	if err != nil {
		return err
	}
	defer body.Close()
	if info.Size > h.cfg.MaxObject {
		return fmt.Errorf("%s: %w: %d bytes, over %d (OCSFMAP_MAX_OBJECT)", in.name, errObjectTooLarge, info.Size, h.cfg.MaxObject)
	}
	if o.etag == "" { // name files after what was read
		in.contributor += strings.Trim(info.ETag, `"`)
	}
	f, err := os.Create(in.file)
	if err != nil {
		return err
	}
	n, err := io.Copy(f, io.LimitReader(body, h.cfg.MaxObject+1))
	if err != nil {
		f.Close()
		return fmt.Errorf("read %s: %w", in.name, err)
	}
	if n > h.cfg.MaxObject {
		f.Close()
		return fmt.Errorf("%s: %w: over %d bytes (OCSFMAP_MAX_OBJECT)", in.name, errObjectTooLarge, h.cfg.MaxObject)
	}
	return f.Close()
}
