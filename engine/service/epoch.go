package service

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/ocsfmap/ocsfmap/engine"
	"github.com/ocsfmap/ocsfmap/engine/store"
	"github.com/ocsfmap/ocsfmap/engine/wal"
)

// Delivery of the log, exactly once.
//
// An epoch is a range of log records delivered as one set of files, one
// per partition. Records stream from the log into the epoch's lake writer
// as they are accepted, so mapping keeps up with ingest; the lake buffers
// (and spills) them and writes no file yet. The epoch is cut at RollBytes
// of alerts or when its first alert is RollAge old, and its range is
// recorded; only then are its files written, named from the log, the
// epoch's start and the partition (epochFileName), and uploaded, in the
// background while the next epoch fills. Once S3 confirmed them all, the
// epoch is committed and its log segments let go.
//
// After a crash the closing epoch is rebuilt from its recorded range and
// the open one refilled from its start: every rebuilt file has the name and
// the rows of the one it replaces, and its upload overwrites it.

// run delivers the log until ctx is done or, once drain is closed, until
// everything accepted is delivered.
func (in *integration) run(ctx context.Context, drain <-chan struct{}) {
	closed := make(chan struct{})
	close(closed) // no epoch closing yet
	in.mu.Lock()
	pending := in.st.Closing
	in.mu.Unlock()
	if pending != nil {
		ep := *pending
		if ep.cfg = in.closingConfig(ctx, ep); ep.cfg == nil {
			<-closed
			return // ctx is done
		}
		in.finish(ctx, ep, nil, engine.Counts{})
	}
	for ctx.Err() == nil {
		from := in.nextFrom()
		if !in.waitRecords(ctx, drain, from) {
			break
		}
		ep := epoch{From: from}
		d, counts, err := in.fill(ctx, drain, &ep)
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			in.log.Error("filling an epoch failed; starting it again", "from", ep.From, "err", err)
			sleep(ctx, time.Second)
			continue
		}
		<-closed // one epoch closes at a time: commits stay in log order
		in.mu.Lock()
		if in.st.Closing != nil {
			// The previous epoch stopped before its commit (the service is
			// stopping): it and this one are rebuilt on the next start. No file
			// of an epoch whose range is not recorded may be written.
			in.mu.Unlock()
			d.Abort()
			break
		}
		// The configuration first: a recorded range is always rebuilt with
		// the configuration its files were named and made under.
		err = in.writeEpochConfig(ep)
		if err == nil {
			in.st.Closing, in.st.Open = &ep, nil
			if err = in.writeState(); err != nil {
				in.st.Closing = nil
			}
		}
		in.mu.Unlock()
		if err != nil {
			in.log.Error("cannot record the end of an epoch; starting it again", "err", err)
			d.Abort()
			sleep(ctx, time.Second)
			continue
		}
		closed = make(chan struct{})
		go func() {
			defer close(closed)
			in.finish(ctx, ep, d, counts)
		}()
	}
	<-closed
}

// nextFrom is where the next epoch starts.
func (in *integration) nextFrom() wal.LSN {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.st.Closing != nil {
		return in.st.Closing.To
	}
	return in.st.Delivered
}

// waitRecords waits until the log holds a record at or after from; false
// when ctx is done, or draining with nothing left.
func (in *integration) waitRecords(ctx context.Context, drain <-chan struct{}, from wal.LSN) bool {
	for {
		// LSNs in a gap of the log (damage, a cut) are not records to wait for.
		if n := in.wal.Next(); n > from && !in.wal.Missing(from, n) {
			return true
		}
		if isClosed(drain) {
			return false
		}
		wctx, cancel := context.WithCancel(ctx)
		go func() {
			select {
			case <-drain:
				cancel()
			case <-wctx.Done():
			}
		}()
		err := in.wal.Wait(wctx, from-1)
		cancel()
		if ctx.Err() != nil {
			return false
		}
		if err != nil && !errors.Is(err, context.Canceled) {
			in.log.Error("waiting for the log", "err", err)
			sleep(ctx, time.Second)
		}
	}
}

// newDelivery starts the epoch's delivery job under the configuration l,
// uploading with dl: files staged in a folder of the epoch's own (wiped
// first: whatever an interrupted attempt left is rebuilt), dead letters in
// a file of the epoch's own.
func (in *integration) newDelivery(ctx context.Context, l *loaded, dl *store.Deliverer, from wal.LSN) (*engine.Delivery, string, error) {
	if dl == nil {
		// The engine would make an uploader of its own, which keeps no status.
		return nil, "", errors.New("no uploader: the AWS configuration did not load")
	}
	staging := filepath.Join(l.integ.StagingDir, fmt.Sprintf("%020d", from))
	if err := os.RemoveAll(staging); err != nil {
		return nil, "", err
	}
	deadPath := filepath.Join(in.dir, "dead-letters", fmt.Sprintf("%020d.ndjson", from))
	if err := os.Remove(deadPath); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, "", err
	}
	d, err := l.mapping.NewDelivery(ctx, engine.DeliveryOptions{
		Integration: l.integ, Deliverer: dl, Dir: staging,
		// The epoch is the roll: it holds at most RollBytes of alerts (a
		// partition's file is smaller still, zstd-compressed), so the lake
		// writes every file at Close, after the epoch's range is recorded.
		RollBytes: 1 << 62,
		RollAge:   100 * 365 * 24 * time.Hour,
		// The epoch filling and the one closing share what ingest leaves.
		Memory: max(in.s.cfg.Memory-in.s.cfg.IngestMemory, in.s.cfg.Memory/2) / 2,
		// A staged file lost in a crash is rebuilt from the log.
		NoSync:      true,
		DeadLetters: deadPath,
		// A dead letter keeps the start of a huge alert, not all of it (the disk budget).
		MaxDeadLetterRaw: maxStoredRaw,
		FileName:         func(keyDir string, n int) string { return epochFileName(in.st.LogID, from, keyDir, n) },
		Logger:           in.log,
	})
	return d, staging, err
}

// fill records the epoch's start, then maps records from the log as they
// come until the epoch is cut; ep.To is set to where it was cut.
func (in *integration) fill(ctx context.Context, drain <-chan struct{}, ep *epoch) (*engine.Delivery, engine.Counts, error) {
	in.mu.Lock()
	in.st.Open = &epoch{From: ep.From}
	err := in.writeState()
	in.mu.Unlock()
	if err != nil {
		return nil, engine.Counts{}, err
	}
	l := in.cfg.Load()
	ep.cfg = l
	d, _, err := in.newDelivery(ctx, l, l.dl, ep.From)
	if err != nil {
		return nil, engine.Counts{}, err
	}
	src := &logSource{in: in, from: ep.From, drain: drain, ctx: ctx}
	counts, err := d.Run(ctx, []engine.Input{{Name: in.name + "/log", Open: src.open}})
	to, serr := src.result()
	if err = errors.Join(err, serr); err != nil {
		d.Abort() // its range is not recorded: it must leave no file
		return nil, counts, err
	}
	ep.To = to
	return d, counts, nil
}

// finish closes the epoch's files, uploads them and commits the epoch,
// retrying until it is done or ctx ends. d nil: the epoch is rebuilt from
// its recorded range first, under the configuration it was cut under
// (ep.cfg); uploads go where the current configuration says.
func (in *integration) finish(ctx context.Context, ep epoch, d *engine.Delivery, counts engine.Counts) {
	backoff := time.Second
	for ctx.Err() == nil {
		staging := filepath.Join(ep.cfg.integ.StagingDir, fmt.Sprintf("%020d", ep.From))
		begin := time.Now()
		if d == nil {
			dl, err := in.uploaderFor(ctx, ep.cfg)
			if err == nil {
				d, staging, err = in.newDelivery(ctx, ep.cfg, dl, ep.From)
			}
			if err == nil {
				src := &logSource{in: in, from: ep.From, to: ep.To, ctx: ctx}
				counts, err = d.Run(ctx, []engine.Input{{Name: in.name + "/log", Open: src.open}})
				_, serr := src.result()
				err = errors.Join(err, serr)
			}
			if err != nil {
				if d != nil {
					d.Abort()
				}
				d = nil
				in.retry(ctx, &backoff, "rebuilding an epoch failed", ep, err)
				continue
			}
		}
		rep, err := d.Close(ctx)
		d = nil
		if err != nil && rep.FilesWritten {
			// Only uploads failed: the files are staged.
			err = in.uploadStaged(ctx, ep.cfg, staging)
		}
		if err != nil {
			in.retry(ctx, &backoff, "delivering an epoch failed", ep, err)
			continue
		}
		if want := ep.alerts(in); counts.Read != want {
			// Counts must add up; say so loudly (the files are delivered).
			in.log.Error("alerts read from the log differ from those accepted", "from", ep.From, "to", ep.To, "read", counts.Read, "accepted", want)
		}
		if err := in.commit(ep, counts); err != nil {
			in.retry(ctx, &backoff, "committing an epoch failed", ep, err)
			continue
		}
		os.RemoveAll(staging)
		in.log.Info("delivered", "alerts", counts.Read, "written", counts.Written, "filtered", counts.Filtered, "dead_lettered", counts.DeadLettered,
			"files", rep.Lake.Files, "bytes", rep.Lake.Bytes, "close_s", time.Since(begin).Seconds())
		return
	}
}

func (in *integration) retry(ctx context.Context, backoff *time.Duration, msg string, ep epoch, err error) {
	if ctx.Err() != nil {
		return
	}
	in.log.Error(msg+"; retrying", "from", ep.From, "to", ep.To, "in", *backoff, "err", err)
	sleep(ctx, *backoff)
	*backoff = min(*backoff*2, 30*time.Second)
}

// alerts counts the alerts of the epoch's batches in the backlog.
func (ep epoch) alerts(in *integration) int64 {
	in.mu.Lock()
	defer in.mu.Unlock()
	var n int64
	for _, p := range in.backlog {
		if p.lsn >= ep.From && p.lsn < ep.To {
			n += int64(p.alerts)
		}
	}
	return n
}

// errCut ends a log read where the epoch is cut.
var errCut = errors.New("epoch cut")

// logSource streams the NDJSON alerts of log records from `from`: up to
// `to` when it is set (a rebuild), else as they are accepted until the
// epoch is cut, and then `to` says where.
type logSource struct {
	in    *integration
	from  wal.LSN
	to    wal.LSN
	drain <-chan struct{}
	ctx   context.Context

	mu  sync.Mutex // the streaming goroutine sets to and err
	err error      // why the stream failed, besides what the pipe says
}

func (s *logSource) open() (io.ReadCloser, error) {
	pr, pw := io.Pipe()
	go func() {
		err := s.stream(pw)
		s.mu.Lock()
		s.err = err
		s.mu.Unlock()
		pw.CloseWithError(err)
	}()
	return pr, nil
}

// result is where the stream was cut, and why it failed.
func (s *logSource) result() (wal.LSN, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.to, s.err
}

func (s *logSource) setTo(to wal.LSN) {
	s.mu.Lock()
	s.to = to
	s.mu.Unlock()
}

func (s *logSource) stream(w io.Writer) error {
	end, _ := s.result() // set for a rebuild
	rebuild := end != 0
	cfg := s.in.s.cfg
	next := s.from
	var bytes int64
	var first time.Time
	for {
		_, err := s.in.wal.Read(next, func(lsn wal.LSN, rec []byte) error {
			if rebuild && lsn >= end {
				return errCut
			}
			if lsn != next && !s.in.wal.Missing(next, lsn) {
				return fmt.Errorf("log record %d missing (read %d)", next, lsn)
			}
			b, err := decodeBatch(rec)
			if err != nil {
				return fmt.Errorf("log record %d: %w", lsn, err)
			}
			if first.IsZero() {
				first = b.accepted
			}
			if _, err := w.Write(b.ndjson); err != nil {
				return err
			}
			next = lsn + 1
			if bytes += int64(len(b.ndjson)); !rebuild && bytes >= cfg.RollBytes {
				return errCut
			}
			return nil
		})
		switch {
		case errors.Is(err, errCut):
			s.setTo(next)
			return nil
		case err != nil:
			return err
		case rebuild:
			if next < end && !s.in.wal.Missing(next, end) {
				return fmt.Errorf("log records %d to %d are missing", next, end)
			}
			return nil
		}
		// Step over a gap at the end of the log, or Wait returns at once.
		if n := s.in.wal.Next(); next < n && s.in.wal.Missing(next, n) {
			next = n
		}
		// Caught up with the log: cut by age or drain, or wait for more.
		if !first.IsZero() && (time.Since(first) >= cfg.RollAge || isClosed(s.drain)) {
			s.setTo(next)
			return nil
		}
		wctx, cancel := context.WithCancel(s.ctx)
		if !first.IsZero() {
			wctx, cancel = context.WithDeadline(s.ctx, first.Add(cfg.RollAge))
		}
		go func() {
			select {
			case <-s.drain:
				cancel()
			case <-wctx.Done():
			}
		}()
		err = s.in.wal.Wait(wctx, next-1)
		cancel()
		if s.ctx.Err() != nil {
			return s.ctx.Err()
		}
		if err != nil && !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) {
			return err
		}
	}
}
