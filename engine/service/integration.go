package service

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ocsfmap/ocsfmap/engine"
	"github.com/ocsfmap/ocsfmap/engine/store"
	"github.com/ocsfmap/ocsfmap/engine/wal"
)

// loaded is an integration's configuration as last loaded successfully:
// swapped whole on reload, so a delivery never sees half of a new one.
type loaded struct {
	integ   *store.Integration // StateDir and StagingDir point into the data folder
	mapping *engine.Mapping
	dl      *store.Deliverer // shared by the epochs: the role's credentials stay cached
}

// integration is one integration at run time: its write-ahead log, what is
// accepted and not yet delivered, and the loop that delivers it.
type integration struct {
	name string
	file string // the integration file
	dir  string // <data>/<name>
	s    *Service
	log  *slog.Logger
	wal  *wal.Log
	keys *keyBook

	cfg       atomic.Pointer[loaded]
	configErr atomic.Pointer[string] // the last reload's failure, shown in the status
	walErr    atomic.Pointer[string] // the last append's failure, for /readyz
	rejects   *engine.DeadLetterFile // request lines that were not alerts

	accepted, rejected atomic.Int64
	recent             *ring // the last alerts received, for the console

	mu      sync.Mutex
	st      deliveryState
	backlog []pending     // accepted, not delivered, in LSN order
	wake    chan struct{} // signalled when backlog grows
}

// pending is one accepted batch waiting for delivery.
type pending struct {
	lsn      wal.LSN
	alerts   int
	bytes    int64
	accepted time.Time
}

// deliveryState is what survives a restart besides the log: which log
// range is being delivered (recorded before its files are written, so a
// replay rebuilds the same objects), and the totals of delivered epochs.
type deliveryState struct {
	LogID     string  `json:"log_id"`    // names this log's files apart from another log's
	Delivered wal.LSN `json:"delivered"` // every record below is in the bucket
	Open      *epoch  `json:"open,omitempty"`
	Totals    totals  `json:"totals"`
}

// epoch is one log range [From, To) delivered as one set of files.
type epoch struct {
	From wal.LSN `json:"from"`
	To   wal.LSN `json:"to"`
}

type totals struct {
	Read         int64            `json:"read"`
	Written      int64            `json:"written"`
	Filtered     int64            `json:"filtered"`
	DeadLettered int64            `json:"dead_lettered"`
	ByRule       map[string]int64 `json:"by_rule,omitempty"`
	ByCode       map[string]int64 `json:"by_code,omitempty"`
}

const stateFile = "delivery.json"

func openIntegration(s *Service, file string, l *loaded) (*integration, error) {
	name := l.integ.Name
	dir := filepath.Join(s.cfg.DataDir, name)
	in := &integration{
		name: name, file: file, dir: dir, s: s,
		log:     s.log.With("integration", name),
		recent:  newRing(recentAlerts),
		rejects: &engine.DeadLetterFile{Path: filepath.Join(dir, "rejected.ndjson")},
		wake:    make(chan struct{}, 1),
	}
	in.setPaths(l)
	in.cfg.Store(l)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	if err := in.readState(); err != nil {
		return nil, err
	}
	var err error
	if in.wal, err = wal.Open(filepath.Join(dir, "wal"), wal.Options{MaxBytes: s.cfg.MaxLogBytes, NoSync: s.cfg.NoSync}); err != nil {
		return nil, fmt.Errorf("%s: write-ahead log: %w", name, err)
	}
	if in.keys, err = openKeyBook(filepath.Join(dir, "idempotency-keys.ndjson"), s.cfg.KeyRetention); err != nil {
		in.wal.Close()
		return nil, err
	}
	if err := in.replay(); err != nil {
		in.wal.Close()
		return nil, err
	}
	return in, nil
}

// setPaths points the integration's state and staging into the data folder.
func (in *integration) setPaths(l *loaded) {
	integ := *l.integ
	integ.StateDir = filepath.Join(in.dir, "state")
	integ.StagingDir = filepath.Join(in.dir, "staging")
	l.integ = &integ
}

func (in *integration) readState() error {
	b, err := os.ReadFile(filepath.Join(in.dir, stateFile))
	switch {
	case errors.Is(err, os.ErrNotExist):
		var id [6]byte
		rand.Read(id[:])
		in.st = deliveryState{LogID: hex.EncodeToString(id[:]), Delivered: 1}
		return in.writeState()
	case err != nil:
		return err
	}
	if err := json.Unmarshal(b, &in.st); err != nil {
		return fmt.Errorf("%s: %w", filepath.Join(in.dir, stateFile), err)
	}
	return nil
}

// writeState replaces the state file durably: temp file, fsync, rename,
// fsync of the folder.
func (in *integration) writeState() error {
	b, err := json.MarshalIndent(in.st, "", "  ")
	if err != nil {
		return err
	}
	return writeFileSync(filepath.Join(in.dir, stateFile), b)
}

func writeFileSync(path string, b []byte) error {
	tmp := path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	return syncDir(filepath.Dir(path))
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// replay rebuilds, from the log, the backlog of what is not delivered and
// the idempotency keys of everything the log still holds.
func (in *integration) replay() error {
	var alerts int64
	_, err := in.wal.Read(in.wal.First(), func(lsn wal.LSN, rec []byte) error {
		b, err := decodeBatch(rec)
		if err != nil {
			return fmt.Errorf("record %d: %w", lsn, err)
		}
		in.keys.remember(b.key, response{Accepted: b.alerts, Rejected: b.rejected}, b.accepted)
		if lsn >= in.st.Delivered {
			in.backlog = append(in.backlog, pending{lsn: lsn, alerts: b.alerts, bytes: int64(len(b.ndjson)), accepted: b.accepted})
			alerts += int64(b.alerts)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("%s: replay: %w", in.name, err)
	}
	in.accepted.Store(in.st.Totals.Read + alerts)
	if len(in.backlog) > 0 {
		in.log.Info("replaying accepted alerts not yet delivered", "alerts", alerts, "batches", len(in.backlog))
	}
	return nil
}

// accept makes a batch durable and queues it for delivery.
func (in *integration) accept(ctx context.Context, b *batch) error {
	rec := b.appendTo(make([]byte, 0, len(b.ndjson)+64))
	lsn, _, err := in.wal.Append(ctx, rec)
	if err != nil {
		return err
	}
	in.accepted.Add(int64(b.alerts))
	in.rejected.Add(int64(b.rejected))
	in.mu.Lock()
	p := pending{lsn: lsn, alerts: b.alerts, bytes: int64(len(b.ndjson)), accepted: b.accepted}
	// Appends finish in any order; the backlog stays sorted by LSN.
	i := sort.Search(len(in.backlog), func(i int) bool { return in.backlog[i].lsn > lsn })
	in.backlog = append(in.backlog, pending{})
	copy(in.backlog[i+1:], in.backlog[i:])
	in.backlog[i] = p
	in.mu.Unlock()
	select {
	case in.wake <- struct{}{}:
	default:
	}
	return nil
}

// backlogInfo is what waits: alerts, and the age of the oldest.
func (in *integration) backlogInfo(now time.Time) (alerts int64, age time.Duration) {
	in.mu.Lock()
	defer in.mu.Unlock()
	for _, p := range in.backlog {
		alerts += int64(p.alerts)
	}
	if len(in.backlog) > 0 {
		age = now.Sub(in.backlog[0].accepted)
	}
	return alerts, age
}

// nextEpoch waits until the backlog should become files — RollBytes of
// alerts, the oldest RollAge old, or draining — and returns the range. It
// takes the contiguous run of LSNs from the last delivered one (an append
// with a lower LSN may still be on its way to the backlog).
func (in *integration) nextEpoch(ctx context.Context, drain <-chan struct{}) (epoch, bool) {
	for {
		in.mu.Lock()
		from := in.st.Delivered
		to, bytes := from, int64(0)
		for _, p := range in.backlog {
			if p.lsn != to {
				break
			}
			to++
			bytes += p.bytes
			if bytes >= in.s.cfg.RollBytes {
				break
			}
		}
		var oldest time.Time
		if to > from {
			oldest = in.backlog[0].accepted
		}
		in.mu.Unlock()
		draining := isClosed(drain)
		if to > from && (bytes >= in.s.cfg.RollBytes || time.Since(oldest) >= in.s.cfg.RollAge || draining) {
			return epoch{From: from, To: to}, true
		}
		if draining {
			return epoch{}, false // nothing left
		}
		wait := in.s.cfg.RollAge
		if to > from {
			wait = max(time.Until(oldest.Add(in.s.cfg.RollAge)), time.Millisecond)
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return epoch{}, false
		case <-in.wake:
		case <-drain:
		case <-t.C:
		}
		t.Stop()
	}
}

func isClosed(c <-chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

// run delivers the log until ctx is done, or, once drain is closed, until
// everything accepted is delivered.
func (in *integration) run(ctx context.Context, drain <-chan struct{}) {
	backoff := time.Second
	for ctx.Err() == nil {
		in.mu.Lock()
		open := in.st.Open
		in.mu.Unlock()
		if open == nil {
			ep, ok := in.nextEpoch(ctx, drain)
			if !ok {
				return
			}
			in.mu.Lock()
			in.st.Open = &ep
			err := in.writeState()
			in.mu.Unlock()
			if err != nil {
				in.log.Error("cannot record the delivery about to start", "err", err)
				sleep(ctx, backoff)
				continue
			}
			open = &ep
		}
		if err := in.deliver(ctx, *open); err != nil {
			if ctx.Err() != nil {
				return
			}
			in.log.Error("delivery failed; retrying", "from", open.From, "to", open.To, "in", backoff, "err", err)
			sleep(ctx, backoff)
			backoff = min(backoff*2, 30*time.Second)
			continue
		}
		backoff = time.Second
	}
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// deliver writes the epoch's alerts into files named from the epoch,
// uploads them, and only then records the epoch delivered and lets its log
// segments go. Any failure leaves the epoch open: it is tried again, in
// this process or after a restart, and rebuilds the same objects.
func (in *integration) deliver(ctx context.Context, ep epoch) error {
	l := in.cfg.Load()
	staging := l.integ.StagingDir
	// What an interrupted attempt left is rebuilt; nothing else is staged.
	if err := os.RemoveAll(staging); err != nil {
		return err
	}
	deadPath := filepath.Join(in.dir, "dead-letters", fmt.Sprintf("%020d.ndjson", ep.From))
	if err := os.Remove(deadPath); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	d, err := l.mapping.NewDelivery(ctx, engine.DeliveryOptions{
		Integration: l.integ, Deliverer: l.dl,
		RollBytes: in.s.cfg.RollBytes,
		// The epoch is the age roll; within it, files are cut by size
		// only, so a replay cuts them at the same rows.
		RollAge:     100 * 365 * 24 * time.Hour,
		Memory:      in.s.cfg.Memory,
		DeadLetters: deadPath,
		FileName:    func(keyDir string, n int) string { return epochFileName(in.st.LogID, ep.From, keyDir, n) },
		Logger:      in.log,
	})
	if err != nil {
		return err
	}
	counts, runErr := d.Run(ctx, []engine.Input{in.epochInput(ep)})
	rep, err := d.Close(ctx)
	if err = errors.Join(runErr, err); err != nil {
		if rep.Uploaded.Failed == 0 || runErr != nil {
			return err
		}
		// The files are staged: upload them until S3 takes them.
		if err := in.uploadStaged(ctx, l); err != nil {
			return err
		}
	}
	if want := int64(ep.alerts(in)); counts.Read != want {
		// Counts must add up; say so loudly, but the files are delivered.
		in.log.Error("alerts read from the log differ from those accepted", "from", ep.From, "to", ep.To, "read", counts.Read, "accepted", want)
	}
	return in.commit(ep, counts)
}

// epochFileName is a UUID-shaped name (version 8, RFC 9562) derived from
// the log, the epoch's first record, the partition and the file's number
// in it: the same on every replay of the epoch, different for any other.
func epochFileName(logID string, from wal.LSN, keyDir string, n int) string {
	h := sha256.Sum256(fmt.Appendf(nil, "%s\x00%d\x00%s\x00%d", logID, from, keyDir, n))
	h[6] = h[6]&0x0f | 0x80
	h[8] = h[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", h[0:4], h[4:6], h[6:8], h[8:10], h[10:16])
}

// uploadStaged retries the staged files with backoff until none is left.
func (in *integration) uploadStaged(ctx context.Context, l *loaded) error {
	backoff := time.Second
	for {
		rep, err := l.dl.Deliver(ctx, l.integ.StagingDir)
		if err == nil && rep.Failed == 0 {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		in.log.Warn("staged files not delivered; retrying", "failed", rep.Failed, "in", backoff, "err", err)
		sleep(ctx, backoff)
		backoff = min(backoff*2, 30*time.Second)
	}
}

// alerts counts the alerts of the epoch's batches in the backlog (-1 when
// they are not all there).
func (ep epoch) alerts(in *integration) int {
	in.mu.Lock()
	defer in.mu.Unlock()
	n := 0
	for _, p := range in.backlog {
		if p.lsn >= ep.From && p.lsn < ep.To {
			n += p.alerts
		}
	}
	return n
}

// commit records the epoch delivered, drops it from the backlog and
// releases the log segments it alone held.
func (in *integration) commit(ep epoch, c engine.Counts) error {
	in.mu.Lock()
	t := &in.st.Totals
	t.Read += c.Read
	t.Written += c.Written
	t.Filtered += c.Filtered
	t.DeadLettered += c.DeadLettered
	t.ByRule = addMap(t.ByRule, c.ByRule)
	t.ByCode = addMap(t.ByCode, c.ByCode)
	in.st.Delivered = ep.To
	in.st.Open = nil
	err := in.writeState()
	i := sort.Search(len(in.backlog), func(i int) bool { return in.backlog[i].lsn >= ep.To })
	in.backlog = append(in.backlog[:0], in.backlog[i:]...)
	in.mu.Unlock()
	if err != nil {
		return err
	}
	// The keys of the records about to go must outlive them.
	if err := in.keys.sync(); err != nil {
		return err
	}
	if err := in.wal.TruncateFront(ep.To); err != nil {
		in.log.Warn("cannot remove delivered log segments", "err", err)
	}
	in.pruneDeadLetters()
	in.log.Info("delivered", "alerts", c.Read, "written", c.Written, "filtered", c.Filtered, "dead_lettered", c.DeadLettered)
	return nil
}

func addMap(dst, src map[string]int64) map[string]int64 {
	for k, n := range src {
		if dst == nil {
			dst = map[string]int64{}
		}
		dst[k] += n
	}
	return dst
}

// keptDeadLetterFiles bounds the per-epoch dead-letter files kept.
const keptDeadLetterFiles = 200

func (in *integration) pruneDeadLetters() {
	dir := filepath.Join(in.dir, "dead-letters")
	names, _ := filepath.Glob(filepath.Join(dir, "*.ndjson"))
	sort.Strings(names)
	for len(names) > keptDeadLetterFiles {
		os.Remove(names[0])
		names = names[1:]
	}
}

// epochInput streams the NDJSON alerts of the epoch's log records.
func (in *integration) epochInput(ep epoch) engine.Input {
	name := fmt.Sprintf("%s/wal[%d,%d)", in.name, ep.From, ep.To)
	return engine.Input{Name: name, Open: func() (io.ReadCloser, error) {
		return newLogReader(in.wal, ep.From, ep.To), nil
	}}
}
