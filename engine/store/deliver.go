package store

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"
)

// DeliverOptions tune a Deliverer. The zero value works.
type DeliverOptions struct {
	// KeyPrefix, when set, is the folder every key must be under (the
	// integration's KeyPrefix): a file elsewhere is refused, not uploaded
	// where the custom source's role may not write.
	KeyPrefix string
	// StateDir holds the integration status; empty keeps no status.
	StateDir string
	// Attempts is how many times one file is tried in all when the
	// destination is unreachable or failing (default 8); each try already
	// includes the SDK's own retries. Backoff between tries doubles from
	// MinBackoff (default 1s) up to MaxBackoff (default 30s), with jitter.
	Attempts   int
	MinBackoff time.Duration
	MaxBackoff time.Duration
	// Workers is how many files Deliver sends at once (default 4).
	Workers int
	Logger  *slog.Logger // default slog.Default()
	// OnPut, when set, is told of every upload attempt: how long it took
	// and its error (nil on success), for latency and error metrics.
	OnPut func(took time.Duration, err error)
}

// Report counts one Deliver call's files.
type Report struct {
	Objects int64 // files delivered and removed from staging
	Bytes   int64
	Failed  int64 // files left in staging after every attempt failed
}

// Deliverer moves finished files from staging to a Destination: upload with
// retries, then remove the staged file, then record the status. It is safe
// for concurrent use.
type Deliverer struct {
	dst     Destination
	o       DeliverOptions
	log     *slog.Logger
	book    *statusBook
	started time.Time

	mu       sync.Mutex
	inflight map[string]struct{} // staged paths being delivered: a file found twice goes up once

	afterPut func(key string) // test hook: runs after a successful Put, before removal
}

// NewDeliverer returns a Deliverer to dst.
func NewDeliverer(dst Destination, o DeliverOptions) *Deliverer {
	if o.Attempts <= 0 {
		o.Attempts = 8
	}
	if o.MinBackoff <= 0 {
		o.MinBackoff = time.Second
	}
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = 30 * time.Second
	}
	o.MaxBackoff = max(o.MaxBackoff, o.MinBackoff)
	if o.Workers <= 0 {
		o.Workers = 4
	}
	log := o.Logger
	if log == nil {
		log = slog.Default()
	}
	return &Deliverer{
		dst:      dst,
		o:        o,
		log:      log.With("destination", dst.String()),
		book:     bookFor(o.StateDir),
		started:  time.Now().UTC(),
		inflight: map[string]struct{}{},
	}
}

// Upload delivers one finished file: localPath goes up as relKey
// (slash-separated, under KeyPrefix), and is removed once the destination
// confirms it. Transient failures are retried; a file that still fails stays
// where it is, for the next run. A file already gone (delivered by another
// worker or process) is not an error.
func (d *Deliverer) Upload(ctx context.Context, relKey, localPath string) error {
	_, _, err := d.upload(ctx, relKey, localPath)
	return err
}

// upload returns the bytes delivered and whether this call did the work
// (false when another worker already has the file).
func (d *Deliverer) upload(ctx context.Context, key, localPath string) (int64, bool, error) {
	if err := validKey(key); err != nil {
		return 0, true, d.failed(key, err)
	}
	if !strings.HasPrefix(key, d.o.KeyPrefix) {
		return 0, true, d.failed(key, fmt.Errorf("%s is outside the integration's prefix %s: the lake writer must stage files under it", key, d.o.KeyPrefix))
	}
	if !d.claim(localPath) {
		return 0, false, nil
	}
	defer d.release(localPath)

	var n int64
	var err error
	for attempt := 1; ; attempt++ {
		begin := time.Now()
		n, err = d.dst.Put(ctx, key, localPath)
		if d.o.OnPut != nil && !errors.Is(err, fs.ErrNotExist) {
			d.o.OnPut(time.Since(begin), err)
		}
		if err == nil {
			d.log.Debug("delivered", "key", key, "bytes", n, "took", time.Since(begin).Round(time.Millisecond))
			break
		}
		if errors.Is(err, fs.ErrNotExist) {
			// Delivered and removed by an earlier run or another process.
			return 0, false, nil
		}
		if !retryable(err) || attempt >= d.o.Attempts || ctx.Err() != nil {
			return 0, true, d.failed(key, err)
		}
		wait := d.backoff(attempt)
		d.log.Warn("upload failed, retrying", "key", key, "attempt", attempt, "of", d.o.Attempts, "in", wait.Round(time.Millisecond), "err", err)
		select {
		case <-time.After(wait):
		case <-ctx.Done():
			return 0, true, d.failed(key, fmt.Errorf("upload %s: %w (last error: %v)", key, ctx.Err(), err))
		}
	}
	if d.afterPut != nil {
		d.afterPut(key)
	}
	if err := os.Remove(localPath); err != nil && !errors.Is(err, fs.ErrNotExist) {
		// The object is stored; a next run uploads the file again to the
		// same key, which overwrites rather than duplicates.
		d.log.Warn("delivered but could not remove the staged file", "path", localPath, "err", err)
	}
	d.record(n)
	return n, true, nil
}

func (d *Deliverer) backoff(attempt int) time.Duration {
	b := d.o.MinBackoff << min(attempt-1, 20)
	if b <= 0 || b > d.o.MaxBackoff {
		b = d.o.MaxBackoff
	}
	// Jitter between half and all of b, so workers retry apart.
	return b/2 + rand.N(b/2+1)
}

func (d *Deliverer) claim(p string) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	if _, busy := d.inflight[p]; busy {
		return false
	}
	d.inflight[p] = struct{}{}
	return true
}

func (d *Deliverer) release(p string) {
	d.mu.Lock()
	delete(d.inflight, p)
	d.mu.Unlock()
}

func (d *Deliverer) record(n int64) {
	now := time.Now().UTC()
	err := d.book.update(func(st *Status) {
		if st.LastDelivery == nil || !st.LastDelivery.Started.Equal(d.started) {
			st.LastDelivery = &Delivery{Started: d.started}
		}
		st.LastDelivery.Objects++
		st.LastDelivery.Bytes += n
		st.LastDelivery.Last = now
		st.Total.Objects++
		st.Total.Bytes += n
		st.UpdatedAt = now
		st.State = Success
		st.Reason, st.Kind, st.FailedAt = "", "", time.Time{}
	})
	if err != nil {
		d.log.Warn("could not update the integration status", "err", err)
	}
}

func (d *Deliverer) failed(key string, err error) error {
	d.log.Error("delivery failed; the file stays staged for the next run", "key", key, "err", err)
	now := time.Now().UTC()
	if serr := d.book.update(func(st *Status) {
		st.UpdatedAt = now
		st.fail(now, err)
	}); serr != nil {
		d.log.Warn("could not update the integration status", "err", serr)
	}
	return err
}

// Deliver uploads every complete file under stagingDir to the same relative
// key, oldest partition first, Workers at a time, and removes emptied
// partition folders. Files being written (a leading "." or a .tmp suffix)
// are left alone; so are the files not yet sent when ctx ends. The error
// joins every file's failure; the status is left Failed when any failed.
func (d *Deliverer) Deliver(ctx context.Context, stagingDir string) (Report, error) {
	files, err := scanStaging(stagingDir)
	if err != nil {
		return Report{}, err
	}
	if len(files) > 0 {
		d.log.Info("delivering staged files", "files", len(files))
	}
	var (
		mu   sync.Mutex
		rep  Report
		errs []error
		wg   sync.WaitGroup
	)
	queue := make(chan staged)
	for range d.o.Workers {
		wg.Go(func() {
			for f := range queue {
				n, did, err := d.upload(ctx, f.key, f.path)
				mu.Lock()
				switch {
				case !did:
				case err != nil:
					rep.Failed++
					errs = append(errs, err)
				default:
					rep.Objects++
					rep.Bytes += n
				}
				mu.Unlock()
			}
		})
	}
send:
	for _, f := range files {
		select {
		case queue <- f:
		case <-ctx.Done():
			break send
		}
	}
	close(queue)
	wg.Wait()
	if len(errs) > 0 {
		last := errs[len(errs)-1]
		if err := d.book.update(func(st *Status) { st.fail(time.Now().UTC(), last) }); err != nil {
			d.log.Warn("could not update the integration status", "err", err)
		}
	}
	pruneEmpty(stagingDir)
	return rep, errors.Join(errs...)
}

type staged struct{ key, path string }

// scanStaging lists the complete files under stagingDir as (key, path) pairs in
// key order; a missing folder holds none.
func scanStaging(stagingDir string) ([]staged, error) {
	var files []staged
	err := filepath.WalkDir(stagingDir, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			if p == stagingDir && errors.Is(err, fs.ErrNotExist) {
				return fs.SkipAll
			}
			return err
		}
		if e.IsDir() && p != stagingDir && strings.HasPrefix(e.Name(), ".") {
			return fs.SkipDir // the lake writer's spill folders, a crashed run's included
		}
		if !e.Type().IsRegular() || isTemp(e.Name()) {
			return nil
		}
		rel, err := filepath.Rel(stagingDir, p)
		if err != nil {
			return err
		}
		files = append(files, staged{key: filepath.ToSlash(rel), path: p})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("scan staging %s: %w", stagingDir, err)
	}
	slices.SortFunc(files, func(a, b staged) int { return strings.Compare(a.key, b.key) })
	return files, nil
}

// Staged counts the complete files waiting in stagingDir.
func Staged(stagingDir string) (Counts, error) {
	files, err := scanStaging(stagingDir)
	var c Counts
	for _, f := range files {
		if fi, err := os.Stat(f.path); err == nil {
			c.Objects++
			c.Bytes += fi.Size()
		}
	}
	return c, err
}

// isTemp reports a file still being written: the lake writer writes
// ".<name>.tmp" and renames it when complete.
func isTemp(name string) bool {
	return strings.HasPrefix(name, ".") || strings.HasSuffix(name, ".tmp")
}

// pruneEmpty removes emptied partition folders below root, deepest first.
func pruneEmpty(root string) {
	var dirs []string
	filepath.WalkDir(root, func(p string, e fs.DirEntry, err error) error {
		if err == nil && e.IsDir() && p != root {
			dirs = append(dirs, p)
		}
		return nil
	})
	for i := len(dirs) - 1; i >= 0; i-- {
		os.Remove(dirs[i]) // fails, harmlessly, when not empty
	}
}
