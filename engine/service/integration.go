package service

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ocsfmap/ocsfmap/engine"
	"github.com/ocsfmap/ocsfmap/engine/filter"
	integfile "github.com/ocsfmap/ocsfmap/engine/integration"
	"github.com/ocsfmap/ocsfmap/engine/internal/atomicfile"
	"github.com/ocsfmap/ocsfmap/engine/store"
	"github.com/ocsfmap/ocsfmap/engine/wal"
)

// loaded is an integration's configuration as last loaded successfully:
// swapped whole on reload, so a delivery never sees half of a new one.
type loaded struct {
	integ   *integfile.Integration // StateDir and StagingDir point into the data folder
	mapping *engine.Mapping
	rules   *filter.Filter   // the alert rules, compiled at load
	dl      *store.Deliverer // shared by the epochs: the role's credentials stay cached
	// What was loaded, for an epoch to record (epochcfg.go): the
	// integration file's bytes and the SHA-256 of the mapping file.
	src        []byte
	mappingSum string
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
	swapMu    sync.Mutex             // one configuration swap at a time (swapConfig, connect)
	configErr atomic.Pointer[string] // the last reload's failure, shown in the status
	epochErr  atomic.Pointer[string] // why the closing epoch cannot be rebuilt (epochcfg.go): the status is Failed
	walErr    atomic.Pointer[string] // the last append's failure, for /readyz
	rejects   *rejectFile            // request lines that were not alerts
	deadBytes deadLetterBytes        // the dead-letters folder's size, for the disk budget
	slots     chan struct{}          // a slot per request being read (http.go)

	accepted, rejected atomic.Int64
	recent             *ring // the last alerts received, for the console

	lost []LostRange // damage to the log found at open (damage.go); not changed after

	mu      sync.Mutex
	st      deliveryState
	backlog []pending // accepted, not delivered, in LSN order
}

// pending is one accepted batch waiting for delivery.
type pending struct {
	lsn      wal.LSN
	alerts   int
	accepted time.Time
}

// deliveryState is what survives a restart besides the log (see epoch.go):
// the range of the epoch being delivered, and the totals of delivered
// epochs.
type deliveryState struct {
	LogID     string  `json:"log_id"`    // names this log's files apart from another log's
	Delivered wal.LSN `json:"delivered"` // every record below is in the bucket
	// Closing is an epoch whose range is recorded: it is being delivered.
	Closing *epoch        `json:"closing,omitempty"`
	Totals  engine.Counts `json:"totals"`
}

// epoch is one log range [From, To) delivered as one batch.
type epoch struct {
	From wal.LSN `json:"from"`
	To   wal.LSN `json:"to,omitempty"`
	// cfg is the configuration the epoch is delivered under, whatever a
	// reload brings meanwhile; it is recorded beside the state
	// (epochcfg.go).
	cfg *loaded
}

const stateFile = "delivery.json"

func openIntegration(s *Service, file string, l *loaded) (*integration, error) {
	name := l.integ.Name
	dir := filepath.Join(s.cfg.DataDir, name)
	in := &integration{
		name: name, file: file, dir: dir, s: s,
		log:     s.log.With("integration", name),
		recent:  newRing(recentAlerts),
		rejects: openRejectFile(filepath.Join(dir, "rejected.ndjson"), s.cfg.MaxLogBytes/budgetShare),
		slots:   make(chan struct{}, s.cfg.MaxIngests),
	}
	in.setPaths(l)
	in.cfg.Store(l)
	// Alerts are for the service's user alone; a folder left by an earlier
	// integration of the same name is not this one's (identity.go).
	if err := claimDataDir(s.cfg.DataDir, dir, l.integ, in.log); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if err := in.readState(); err != nil {
		return nil, err
	}
	var err error
	if in.wal, err = wal.Open(filepath.Join(dir, "wal"), wal.Options{MaxBytes: s.cfg.MaxLogBytes, NoSync: s.cfg.NoSync, OpenFile: s.cfg.walOpenFile}); err != nil {
		return nil, fmt.Errorf("%s: write-ahead log: %w", name, err)
	}
	if err := in.checkLog(); err != nil {
		in.wal.Close()
		return nil, fmt.Errorf("%s: write-ahead log damage: %w", name, err)
	}
	if in.keys, err = openKeyBook(filepath.Join(dir, "idempotency-keys.ndjson"), s.cfg.KeyRetention, s.cfg.MaxKeys); err != nil {
		in.wal.Close()
		return nil, err
	}
	if err := in.replay(); err != nil {
		in.wal.Close()
		return nil, err
	}
	// Every epoch not committed is rebuilt, so nothing staged is kept.
	if err := os.RemoveAll(in.cfg.Load().integ.StagingDir); err != nil {
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
	return atomicfile.WriteFile(filepath.Join(in.dir, stateFile), b, atomicfile.Options{})
}

// mkdirPrivate makes dir and its missing parents for the service's user
// alone (0700), and narrows dir itself when an earlier version made it
// wider.
func mkdirPrivate(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	return os.Chmod(dir, 0o700)
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
			in.backlog = append(in.backlog, pending{lsn: lsn, alerts: b.alerts, accepted: b.accepted})
			alerts += int64(b.alerts)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("%s: replay: %w", in.name, err)
	}
	lost, _ := in.lostAlerts()
	in.accepted.Store(in.st.Totals.Read + alerts + lost)
	if len(in.backlog) > 0 {
		in.log.Info("replaying accepted alerts not yet delivered", "alerts", alerts, "batches", len(in.backlog))
	}
	return nil
}

// accept makes a batch durable (rec is its log record) and queues it for
// delivery.
func (in *integration) accept(ctx context.Context, b *batch, rec []byte) error {
	lsn, _, err := in.wal.Append(ctx, rec)
	if err != nil {
		return err
	}
	p := pending{lsn: lsn, alerts: b.alerts, accepted: b.accepted}
	in.accepted.Add(int64(b.alerts))
	in.rejected.Add(int64(b.rejected))
	in.mu.Lock()
	// Appends finish in any order; the backlog stays sorted by LSN.
	i := sort.Search(len(in.backlog), func(i int) bool { return in.backlog[i].lsn > lsn })
	in.backlog = append(in.backlog, pending{})
	copy(in.backlog[i+1:], in.backlog[i:])
	in.backlog[i] = p
	in.mu.Unlock()
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

func isClosed(c <-chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
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

// commit records the epoch delivered, drops it from the backlog and
// releases the log segments it alone held.
func (in *integration) commit(ep epoch, c engine.Counts) error {
	in.mu.Lock()
	in.st.Totals.Add(c)
	in.st.Delivered = ep.To
	in.st.Closing = nil
	err := in.writeState()
	if err == nil {
		in.removeEpochConfig(ep)
	}
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
	return nil
}

// keptDeadLetterFiles bounds the per-epoch dead-letter files kept.
const keptDeadLetterFiles = 200

// pruneDeadLetters drops the oldest epochs' dead letters past
// keptDeadLetterFiles or past their share of the disk budget (budget.go);
// the newest file is kept whatever its size.
func (in *integration) pruneDeadLetters() {
	size, names := folderFiles(filepath.Join(in.dir, "dead-letters"))
	for len(names) > 1 && (len(names) > keptDeadLetterFiles || size > in.s.cfg.MaxLogBytes/budgetShare) {
		if fi, err := os.Stat(names[0]); err == nil {
			size -= fi.Size()
		}
		os.Remove(names[0])
		names = names[1:]
	}
}
