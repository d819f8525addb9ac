package service

import (
	"context"
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"time"

	"github.com/ocsfmap/ocsfmap/engine"
	"github.com/ocsfmap/ocsfmap/engine/source"
	"github.com/ocsfmap/ocsfmap/engine/wal"
)

// Delivery of the log, exactly once.
//
// An epoch is a range of log records delivered as one engine batch. The
// epoch is cut at RollBytes of alerts or when its first alert is RollAge
// old (or at a drain), and its range is recorded, with the configuration it
// is delivered under (epochcfg.go); then engine.Deliver maps the range,
// read in place from the log, into files named from the batch (the log and
// the epoch's start) and uploads them, in the background while the next
// epoch fills. Once Deliver reports every file in S3, the epoch is
// committed and its log segments let go.
//
// After a crash or a failed delivery the recorded epoch is delivered again:
// the same records make the same files under the same keys, and each
// upload overwrites the one before.

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
			return // ctx is done
		}
		in.finish(ctx, ep)
	}
	for ctx.Err() == nil {
		from := in.nextFrom()
		if !in.waitRecords(ctx, drain, from) {
			break
		}
		ep := epoch{From: from}
		to, err := in.cut(ctx, drain, from)
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			in.log.Error("cutting an epoch failed; starting it again", "from", from, "err", err)
			sleep(ctx, time.Second)
			continue
		}
		ep.To = to
		<-closed // one epoch closes at a time: commits stay in log order
		in.mu.Lock()
		stopped := in.st.Closing != nil // the previous one was not committed: the service is stopping
		in.mu.Unlock()
		if stopped || ctx.Err() != nil {
			break
		}
		// The configuration first: a recorded range is always delivered
		// with the configuration its files were named and made under.
		ep.cfg = in.cfg.Load()
		in.mu.Lock()
		err = in.writeEpochConfig(ep)
		if err == nil {
			in.st.Closing = &ep
			if err = in.writeState(); err != nil {
				in.st.Closing = nil
			}
		}
		in.mu.Unlock()
		if err != nil {
			in.log.Error("cannot record the end of an epoch; starting it again", "err", err)
			sleep(ctx, time.Second)
			continue
		}
		closed = make(chan struct{})
		go func() {
			defer close(closed)
			in.finish(ctx, ep)
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
		if err := in.waitLog(ctx, drain, time.Time{}, from-1); err != nil {
			return false
		}
	}
}

// waitLog waits until the log holds a record above after, the deadline
// passes (zero: none) or drain closes; an error only when ctx ends.
func (in *integration) waitLog(ctx context.Context, drain <-chan struct{}, deadline time.Time, after wal.LSN) error {
	wctx, cancel := context.WithCancel(ctx)
	if !deadline.IsZero() {
		wctx, cancel = context.WithDeadline(ctx, deadline)
	}
	defer cancel()
	go func() {
		select {
		case <-drain:
			cancel()
		case <-wctx.Done():
		}
	}()
	err := in.wal.Wait(wctx, after)
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if err != nil && !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) {
		in.log.Error("waiting for the log", "err", err)
		sleep(ctx, time.Second)
	}
	return nil
}

// cut waits until the epoch from `from` is complete: RollBytes of alerts,
// its first alert RollAge old, or a drain. It returns where it ends.
func (in *integration) cut(ctx context.Context, drain <-chan struct{}, from wal.LSN) (wal.LSN, error) {
	cfg := in.s.cfg
	next := from
	var bytes int64
	var first time.Time
	for {
		it := in.wal.Records(next, math.MaxUint64)
		for it.Next() {
			lsn := it.LSN()
			if lsn != next && !in.wal.Missing(next, lsn) {
				it.Close()
				return 0, fmt.Errorf("log record %d missing (read %d)", next, lsn)
			}
			b, err := decodeBatch(it.Record())
			if err != nil {
				it.Close()
				return 0, fmt.Errorf("log record %d: %w", lsn, err)
			}
			if first.IsZero() {
				first = b.accepted
			}
			next = lsn + 1
			if bytes += int64(len(b.ndjson)); bytes >= cfg.RollBytes {
				it.Close()
				return next, nil
			}
		}
		it.Close()
		if err := it.Err(); err != nil {
			return 0, err
		}
		// Step over a gap at the end of the log, or Wait returns at once.
		if n := in.wal.Next(); next < n && in.wal.Missing(next, n) {
			next = n
		}
		// Caught up with the log: cut by age or drain, or wait for more.
		if !first.IsZero() && (time.Since(first) >= cfg.RollAge || isClosed(drain)) {
			return next, nil
		}
		var deadline time.Time
		if !first.IsZero() {
			deadline = first.Add(cfg.RollAge)
		}
		if err := in.waitLog(ctx, drain, deadline, next-1); err != nil {
			return 0, err
		}
	}
}

// finish delivers the recorded epoch, under the configuration it was cut
// under (ep.cfg), to where the current configuration says, and commits it;
// it retries until that is done or ctx ends.
func (in *integration) finish(ctx context.Context, ep epoch) {
	backoff := time.Second
	for ctx.Err() == nil {
		begin := time.Now()
		rep, err := in.deliver(ctx, ep)
		if err != nil {
			in.retry(ctx, &backoff, "delivering an epoch failed", ep, err)
			continue
		}
		if want := ep.alerts(in); rep.Read != want {
			// Counts must add up; say so loudly (the files are delivered).
			in.log.Error("alerts read from the log differ from those accepted", "from", ep.From, "to", ep.To, "read", rep.Read, "accepted", want)
		}
		if err := in.commit(ep, rep.Counts); err != nil {
			in.retry(ctx, &backoff, "committing an epoch failed", ep, err)
			continue
		}
		var bytes int64
		for _, f := range rep.Files {
			bytes += f.Bytes
		}
		in.log.Info("delivered", "alerts", rep.Read, "written", rep.Written, "filtered", rep.Filtered, "dead_lettered", rep.DeadLettered,
			"files", len(rep.Files), "bytes", bytes, "close_s", time.Since(begin).Seconds())
		return
	}
}

// deliver delivers the epoch as one engine batch, named after the log and
// the epoch's start: delivered again, it makes the same keys. Its dead
// letters are a file of the epoch's own.
func (in *integration) deliver(ctx context.Context, ep epoch) (engine.BatchReport, error) {
	dl, err := in.uploaderFor(ctx, ep.cfg)
	if err != nil {
		return engine.BatchReport{}, err
	}
	cfg := in.s.cfg
	return ep.cfg.mapping.Deliver(ctx, engine.Batch{
		ID:          fmt.Sprintf("%s-%020d", in.st.LogID, ep.From),
		Inputs:      []engine.Input{{Name: in.name + "/log", Open: func() (source.Records, error) { return in.logRecords(ep), nil }}},
		DeadLetters: filepath.Join(in.dir, "dead-letters", fmt.Sprintf("%020d.ndjson", ep.From)),
	}, engine.DeliverConfig{
		Destination: engine.IntegrationLake(ep.cfg.integ, dl),
		Integration: ep.cfg.integ, Rules: ep.cfg.rules,
		// What ingest leaves.
		Memory: max(cfg.Memory-cfg.IngestMemory, cfg.Memory/2),
		// A dead letter keeps the start of a huge alert, not all of it (the disk budget).
		MaxDeadLetterRaw: maxStoredRaw,
		Logger:           in.log,
	})
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

// logRecords are the alerts of the epoch's log records, read in place:
// each record holds its alerts one per line, split when they were
// accepted, so they are only cut at their newlines.
func (in *integration) logRecords(ep epoch) *logRecords {
	return &logRecords{in: in, it: in.wal.Records(ep.From, ep.To), next: ep.From, to: ep.To}
}

type logRecords struct {
	in       *integration
	it       *wal.Iter
	next, to wal.LSN // the LSN expected next, and the end
	lines    *source.Lines
	line     int   // of the alert in the epoch
	before   int64 // bytes of the records before lines'
	err      error
}

func (r *logRecords) Next() bool {
	for r.err == nil {
		if r.lines != nil && r.lines.Next() {
			r.line++
			return true
		}
		if r.lines != nil {
			r.before += r.lines.Bytes()
			r.lines = nil
		}
		if !r.it.Next() {
			r.err = r.it.Err()
			if r.err == nil && r.next < r.to && !r.in.wal.Missing(r.next, r.to) {
				r.err = fmt.Errorf("log records %d to %d are missing", r.next, r.to)
			}
			return false
		}
		lsn := r.it.LSN()
		if lsn != r.next && !r.in.wal.Missing(r.next, lsn) {
			r.err = fmt.Errorf("log record %d missing (read %d)", r.next, lsn)
			return false
		}
		b, err := decodeBatch(r.it.Record())
		if err != nil {
			r.err = fmt.Errorf("log record %d: %w", lsn, err)
			return false
		}
		r.lines, r.next = source.NewLines(b.ndjson), lsn+1
	}
	return false
}

func (r *logRecords) Record() []byte           { return r.lines.Record() }
func (r *logRecords) Where() (line, index int) { return r.line, 0 }
func (r *logRecords) Err() error               { return r.err }
func (r *logRecords) Close() error             { return r.it.Close() }

func (r *logRecords) Bytes() int64 {
	if r.lines != nil {
		return r.before + r.lines.Bytes()
	}
	return r.before
}
