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
	byKey  map[string]*input        // dedup: an SQS body by message id, an object by bucket/key/version/etag
	byName map[string]*input        // engine input name → input
	parts  map[part]map[string]bool // partition → contributors of its records
	// The last placed record's input and partition: records of one input
	// mostly share a partition.
	last    *input
	lastKey part
	lastDay int64
	lastOK  bool
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
	// contributor names what this input puts in a file: the message id
	// for a body, the object (bucket, key, version, ETag) for an object. A
	// redelivery of the same contributors rebuilds the same object keys.
	contributor string
	body        []byte
	obj         *object
	file        string // the object, fetched
	counts      engine.Counts
	parts       map[part]bool // partitions its written records went to
	err         error         // not delivered: its messages fail
	done        bool          // read to the end
}

// part is a partition as the object key spells it.
type part struct{ region, account, day string }

func newBatch() *batch {
	return &batch{byKey: map[string]*input{}, byName: map[string]*input{}, parts: map[part]map[string]bool{}}
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

// place records where a written record went; called for every record, in
// input order, from one goroutine.
func (b *batch) place(name string, p engine.Placement) {
	if b.last == nil || b.last.name != name {
		b.last, b.lastOK = b.byName[name], false
	}
	if b.lastOK && b.lastDay == p.Day && b.lastKey.region == p.Region && b.lastKey.account == p.Account {
		return // the same partition as the record before
	}
	in := b.last
	k := part{region: strings.Clone(p.Region), account: strings.Clone(p.Account), day: p.EventDay()}
	b.lastKey, b.lastDay, b.lastOK = k, p.Day, true
	if in.parts == nil {
		in.parts = map[part]bool{}
	}
	in.parts[k] = true
	c := b.parts[k]
	if c == nil {
		c = map[string]bool{}
		b.parts[k] = c
	}
	c[in.contributor] = true
}

// fileName names a partition's n-th file of this batch from the
// contributors of its records: a redelivered batch rebuilds the same key,
// and its upload overwrites. The name is UUID-shaped (version 8, RFC 9562)
// like the lake writer's own.
func (b *batch) fileName(keyDir string, n int) string {
	contributors := b.parts[partOf(keyDir)]
	ids := make([]string, 0, len(contributors))
	for c := range contributors {
		ids = append(ids, c)
	}
	if len(ids) == 0 { // not expected: every file holds placed records
		for _, in := range b.inputs {
			ids = append(ids, in.contributor)
		}
	}
	slices.Sort(ids)
	h := sha256.New()
	fmt.Fprintf(h, "ocsfmap-lambda\x00%s\x00%d\x00%s", keyDir, n, strings.Join(ids, "\x01"))
	s := h.Sum(nil)
	s[6] = s[6]&0x0f | 0x80
	s[8] = s[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", s[0:4], s[4:6], s[6:8], s[8:10], s[10:16])
}

// partOf reads the partition from a key folder
// (…/region=<r>/accountId=<a>/eventDay=<d>), whatever the keys are named.
func partOf(keyDir string) part {
	segs := strings.Split(keyDir, "/")
	val := func(i int) string {
		if i < 0 {
			return ""
		}
		_, v, _ := strings.Cut(segs[i], "=")
		return v
	}
	n := len(segs)
	return part{region: val(n - 3), account: val(n - 2), day: val(n - 1)}
}

// batchID names the batch's dead-letter object: the same inputs, the same key.
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

// deliver maps the batch's inputs into one delivery (one file per
// partition), uploads the files and decides which inputs are not in S3.
func (h *handler) deliver(ctx context.Context, b *batch) {
	start := time.Now()
	bud := budgetOf(ctx, start)
	if len(b.inputs) == 0 {
		return
	}
	// What an earlier invocation left is rebuilt by its redelivery; nothing
	// else is staged.
	if err := os.RemoveAll(h.integ.StagingDir); err != nil {
		h.failAll(b, fmt.Errorf("clear staging: %w", err))
		return
	}
	dlPath := filepath.Join(h.cfg.WorkDir, "dead-letters.ndjson")
	os.Remove(dlPath)
	objDir := filepath.Join(h.cfg.WorkDir, "objects")
	os.RemoveAll(objDir)
	defer os.RemoveAll(objDir)

	mapCtx, cancelMap := context.WithDeadline(ctx, bud.mapBy)
	defer cancelMap()
	h.fetch(mapCtx, b, objDir)

	named := 0
	d, err := h.m.NewDelivery(mapCtx, engine.DeliveryOptions{
		Integration: h.integ, Deliverer: h.dl,
		// One file per partition per batch: the files are cut by size
		// only, so a redelivery cuts them at the same records.
		RollAge:     100 * 365 * 24 * time.Hour,
		Memory:      h.cfg.Memory,
		DeadLetters: dlPath,
		FileName: func(keyDir string, n int) string {
			named++
			return b.fileName(keyDir, n)
		},
		Logger: h.log,
	})
	if err != nil {
		h.failAll(b, err)
		return
	}
	var fatal error
	var own []*engine.DeadLetter // bodies whose record boundaries were lost
	for _, in := range b.inputs {
		if in.err != nil {
			continue
		}
		if mapCtx.Err() != nil {
			in.err = errors.New("not read before the invocation's deadline")
			continue
		}
		counts, err := d.RunPlaced(mapCtx, []engine.Input{in.engineInput(h.cfg.MaxRecord, h.cfg.MaxObject)}, b.place)
		in.counts = counts
		switch {
		case err == nil && !in.done && mapCtx.Err() != nil:
			// Run stops reading only when the context ends.
			in.err = errors.New("not read to the end before the invocation's deadline")
		case err == nil:
		case readError(err) && in.obj == nil:
			// A body whose record boundaries are lost (a broken JSON
			// array): what was read stands, the body is a dead letter.
			dl := &engine.DeadLetter{Input: in.name, Code: "R400", Reason: "invalid JSON: " + err.Error() +
				fmt.Sprintf(" (%d record(s) before it were read)", counts.Read)}
			dl.SetRaw(in.body)
			own = append(own, dl)
			in.counts.DeadLettered++
		case readError(err):
			in.err = fmt.Errorf("%s: %w", in.name, err) // the object stays in the staging bucket
		default:
			in.err = err
			if !errors.Is(err, engine.ErrFailPolicy) {
				fatal = err
			}
		}
	}
	mapped := time.Now()
	closeCtx, cancelClose := context.WithDeadline(ctx, bud.uploadBy)
	defer cancelClose()
	rep, closeErr := d.Close(closeCtx)
	closed := time.Now()

	// Which partitions are not in S3: the files still staged. A file the
	// lake could not write leaves no trace: then every written record is
	// taken as undelivered.
	failedParts := map[part]bool{}
	staged, scanErr := stagedParts(h.integ.StagingDir)
	for k := range staged {
		failedParts[k] = true
	}
	allFailed := fatal != nil || scanErr != nil || rep.Lake.Files != int64(named)
	b.undelivered(failedParts, allFailed, firstErr(closeErr, fatal, scanErr))
	dlErr := h.deadLetters(bud, b, dlPath, own)
	if dlErr != nil {
		for _, in := range b.inputs {
			if in.err == nil && in.counts.DeadLettered > 0 {
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
	lvl := h.log.Info
	if failed > 0 {
		lvl = h.log.Warn
	}
	lvl("batch delivered", "messages", len(b.msgs), "inputs", len(b.inputs), "failed_messages", failed,
		"read", rep.Read, "written", rep.Written, "filtered", rep.Filtered, "dead_lettered", rep.DeadLettered+int64(len(own)),
		"files", rep.Lake.Files, "uploaded", rep.Uploaded.Objects, "bytes", rep.Uploaded.Bytes, "not_uploaded", len(staged),
		"took", time.Since(start).Round(time.Millisecond).String(),
		"fetch_map_took", mapped.Sub(start).Round(time.Millisecond).String(),
		"write_upload_took", closed.Sub(mapped).Round(time.Millisecond).String(),
		"err", firstErr(closeErr, fatal, dlErr))
}

// undelivered fails each input with a written record in a partition whose
// file is not in S3 (in any partition, when all is true); inputs whose
// records were all filtered or dead-lettered have no partition and stay
// delivered.
func (b *batch) undelivered(failed map[part]bool, all bool, cause error) {
	for _, in := range b.inputs {
		if in.err != nil {
			continue
		}
		for k := range in.parts {
			if all || failed[k] {
				in.err = fmt.Errorf("records of partition %s/%s/%s not delivered: %v", k.region, k.account, k.day, cause)
				break
			}
		}
	}
}

func firstErr(errs ...error) error {
	for _, e := range errs {
		if e != nil {
			return e
		}
	}
	return nil
}

func (h *handler) failAll(b *batch, err error) {
	h.log.Error("batch not delivered", "err", err)
	for _, in := range b.inputs {
		if in.err == nil {
			in.err = err
		}
	}
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
// bounded (see limitedInput); reaching its end marks the input read.
func (in *input) engineInput(maxRecord, maxObject int64) engine.Input {
	return engine.Input{Name: in.name, Open: func() (io.ReadCloser, error) {
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
		return &eofMark{ReadCloser: newLimitedInput(in.name, r, maxRecord, maxObject), done: &in.done}, nil
	}}
}

type eofMark struct {
	io.ReadCloser
	done *bool
}

func (e *eofMark) Read(p []byte) (int, error) {
	n, err := e.ReadCloser.Read(p)
	if err == io.EOF {
		*e.done = true
	}
	return n, err
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

// stagedParts lists the partitions of the files left in staging.
func stagedParts(dir string) (map[part]bool, error) {
	out := map[part]bool{}
	err := filepath.WalkDir(dir, func(p string, e os.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				return nil
			}
			return err
		}
		if !e.IsDir() && strings.HasSuffix(e.Name(), ".parquet") && !strings.HasPrefix(e.Name(), ".") {
			rel, _ := filepath.Rel(dir, filepath.Dir(p))
			out[partOf(filepath.ToSlash(rel))] = true
		}
		return nil
	})
	return out, err
}
