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
	it := l.Records(from, maxLSN)
	defer it.Close()
	for it.Next() {
		if err := fn(it.LSN(), it.Record()); err != nil {
			return it.LSN(), err
		}
	}
	return it.NextLSN(), it.Err()
}

const maxLSN = LSN(1<<64 - 1)

// Iter is a pull iterator over the log's records, read in place from the
// segment files (see Records).
type Iter struct {
	l      *Log
	views  []view
	vi     int  // the view being read
	placed bool // the reader is positioned in views[vi]
	r      recReader
	next   LSN // the LSN the next record has
	to     LSN
	cur    LSN
	rec    []byte
	err    error
}

// Records iterates over the durable records with from <= LSN < to, up to
// the last record durable when it was called (as Read does):
//
//	it := l.Records(from, to)
//	defer it.Close()
//	for it.Next() { use(it.LSN(), it.Record()) }
//	err := it.Err()
//
// The segments it reads stay open until Close, whatever TruncateFront
// removes meanwhile.
func (l *Log) Records(from, to LSN) *Iter {
	it := &Iter{l: l, to: to}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		it.err, it.next = ErrClosed, from
		return it
	}
	it.next = max(from, l.segs[0].first)
	for _, s := range l.segs {
		if s.next() <= it.next || s.count == 0 || s.first >= to {
			continue
		}
		s.refs++
		it.views = append(it.views, view{seg: s, end: s.next(), size: s.size, index: s.index})
	}
	return it
}

// Next advances to the next record: false after the last one or on an
// error, which Err returns.
func (it *Iter) Next() bool {
	for it.err == nil && it.vi < len(it.views) && it.next < it.to {
		v := it.views[it.vi]
		if !it.placed {
			lsn := max(it.next, v.seg.first)
			k := uint64(lsn-v.seg.first) / indexEvery
			it.r.reset(v.seg.rf, v.index[k], v.size)
			for cur := v.seg.first + LSN(k*indexEvery); cur < lsn; cur++ {
				if _, _, err := it.r.next(true); err != nil {
					it.err = readErr(v.seg, cur, err)
					return false
				}
			}
			it.next, it.placed = lsn, true
		}
		if it.next >= v.end {
			it.vi++
			it.placed = false
			continue
		}
		rec, _, err := it.r.next(false)
		if err != nil {
			it.err = readErr(v.seg, it.next, err)
			return false
		}
		it.rec, it.cur = rec, it.next
		it.next++
		return true
	}
	it.rec = nil
	return false
}

// Record is the current record, valid until the next call to Next; it
// must not be modified.
func (it *Iter) Record() []byte { return it.rec }

// LSN is the current record's LSN.
func (it *Iter) LSN() LSN { return it.cur }

// NextLSN is the LSN after the last record Next returned (from, raised to
// First, before the first): where a later iteration continues.
func (it *Iter) NextLSN() LSN {
	if it.rec != nil {
		return it.cur + 1
	}
	return it.next
}

func (it *Iter) Err() error { return it.err }

// Close lets go of the segments the iterator holds.
func (it *Iter) Close() error {
	l := it.l
	l.mu.Lock()
	for _, v := range it.views {
		v.seg.refs--
		if v.seg.refs == 0 && v.seg.dead {
			v.seg.rf.Close()
		}
	}
	it.views = nil
	l.mu.Unlock()
	return nil
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
