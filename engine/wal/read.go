package wal

import (
	"context"
	"errors"
	"fmt"
)

// view is the part of one segment a Read may visit, fixed when it starts.
type view struct {
	seg   *segment
	end   LSN // after the segment's last durable record
	size  int64
	index []int64
}

// Read calls fn for every durable record with LSN >= from, in order, up to
// the last record durable when Read was called; records appended meanwhile
// are left for the next call. A from below First starts at First (those
// records were removed by TruncateFront). rec is valid only during the call
// to fn, which must not modify it.
//
// Read returns the LSN after the last record fn accepted (from, raised to
// First, when there was nothing to visit): pass it as from to continue. If fn returns an error, Read stops and returns it, with next the
// LSN of the record fn refused. Records are read from the files, so Read
// runs concurrently with Append and with other Reads; a checksum mismatch is
// an error wrapping ErrCorrupt.
func (l *Log) Read(from LSN, fn func(lsn LSN, rec []byte) error) (next LSN, err error) {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return from, ErrClosed
	}
	from = max(from, l.segs[0].first)
	var views []view
	for _, s := range l.segs {
		if s.next() <= from || s.count == 0 {
			continue
		}
		s.refs++
		views = append(views, view{seg: s, end: s.next(), size: s.size, index: s.index})
	}
	l.mu.Unlock()
	defer func() {
		l.mu.Lock()
		for _, v := range views {
			v.seg.refs--
			if v.seg.refs == 0 && v.seg.dead {
				v.seg.rf.Close()
			}
		}
		l.mu.Unlock()
	}()

	next = from
	var r recReader
	for _, v := range views {
		lsn := max(next, v.seg.first)
		k := uint64(lsn-v.seg.first) / indexEvery
		r.reset(v.seg.rf, v.index[k], v.size)
		for cur := v.seg.first + LSN(k*indexEvery); cur < lsn; cur++ {
			if _, _, err := r.next(true); err != nil {
				return next, readErr(v.seg, cur, err)
			}
		}
		for ; lsn < v.end; lsn++ {
			rec, _, err := r.next(false)
			if err != nil {
				return next, readErr(v.seg, lsn, err)
			}
			if err := fn(lsn, rec); err != nil {
				return next, err
			}
			next = lsn + 1
		}
	}
	return next, nil
}

func readErr(s *segment, lsn LSN, err error) error {
	if errors.Is(err, errTorn) || errors.Is(err, errBadRecord) {
		return fmt.Errorf("%w: %s, LSN %d: %v", ErrCorrupt, s.path, lsn, err)
	}
	return fmt.Errorf("wal: read %s, LSN %d: %w", s.path, lsn, err)
}

// Wait blocks until a record with an LSN above after is durable, ctx ends
// (returning its error) or the log is closed (ErrClosed) or has failed (the
// writer's error).
func (l *Log) Wait(ctx context.Context, after LSN) error {
	for {
		l.mu.Lock()
		switch {
		case l.durable > after+1:
			l.mu.Unlock()
			return nil
		case l.closed:
			l.mu.Unlock()
			return ErrClosed
		case l.err != nil:
			err := l.err
			l.mu.Unlock()
			return err
		}
		ch := l.notify
		l.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		case <-l.closeCh:
			return ErrClosed
		}
	}
}
