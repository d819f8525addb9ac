package service

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"time"
)

// A batch is one accepted request as it is kept in the write-ahead log: the
// request's Idempotency-Key (empty when it had none), when it was accepted,
// and its alerts as NDJSON. Keeping the key in the same record as the
// alerts makes "accepted" and "this key was seen" durable in one fsync, so
// a retry after a crash is recognised whatever moment the crash hit.
//
//	version byte (1) | uvarint len(key) | key | varint accepted unix ms |
//	uint32 alerts | uint32 rejected (little-endian) | NDJSON alerts, each ending in '\n'
//
// The counts have a fixed width so the header can be written before the
// body is split into alerts, straight after it (appendHeader, setCounts).
type batch struct {
	key      string
	accepted time.Time
	alerts   int
	rejected int    // lines of the request that were not JSON (not in ndjson)
	ndjson   []byte // the accepted alerts
}

const batchVersion = 1

func (b *batch) appendTo(dst []byte) []byte {
	dst, at := b.appendHeader(dst)
	setCounts(dst[at:], b.alerts, b.rejected)
	return append(dst, b.ndjson...)
}

// appendHeader appends the record's header with room for the counts at
// dst[at:at+8], to be filled by setCounts once they are known.
func (b *batch) appendHeader(dst []byte) (out []byte, at int) {
	dst = append(dst, batchVersion)
	dst = binary.AppendUvarint(dst, uint64(len(b.key)))
	dst = append(dst, b.key...)
	dst = binary.AppendVarint(dst, b.accepted.UnixMilli())
	return append(dst, make([]byte, 8)...), len(dst)
}

func setCounts(at []byte, alerts, rejected int) {
	binary.LittleEndian.PutUint32(at, uint32(alerts))
	binary.LittleEndian.PutUint32(at[4:], uint32(rejected))
}

var errBatch = errors.New("malformed batch record")

// decodeBatch reads a record written by appendTo; ndjson aliases rec.
func decodeBatch(rec []byte) (batch, error) {
	var b batch
	if len(rec) == 0 || rec[0] != batchVersion {
		return b, fmt.Errorf("%w: unknown version", errBatch)
	}
	r := rec[1:]
	klen, n := binary.Uvarint(r)
	if n <= 0 || uint64(len(r)-n) < klen {
		return b, errBatch
	}
	b.key = string(r[n : n+int(klen)])
	r = r[n+int(klen):]
	ms, n := binary.Varint(r)
	if n <= 0 {
		return b, errBatch
	}
	b.accepted = time.UnixMilli(ms)
	r = r[n:]
	if len(r) < 8 {
		return b, errBatch
	}
	b.alerts = int(binary.LittleEndian.Uint32(r))
	b.rejected = int(binary.LittleEndian.Uint32(r[4:]))
	b.ndjson = r[8:]
	if got := bytes.Count(b.ndjson, []byte{'\n'}); got != b.alerts {
		return b, fmt.Errorf("%w: %d alerts announced, %d present", errBatch, b.alerts, got)
	}
	return b, nil
}
