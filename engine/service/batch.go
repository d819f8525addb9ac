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
//	uvarint alerts | uvarint rejected | NDJSON alerts, each ending in '\n'
type batch struct {
	key      string
	accepted time.Time
	alerts   int
	rejected int    // lines of the request that were not JSON (not in ndjson)
	ndjson   []byte // the accepted alerts
}

const batchVersion = 1

func (b *batch) appendTo(dst []byte) []byte {
	dst = append(dst, batchVersion)
	dst = binary.AppendUvarint(dst, uint64(len(b.key)))
	dst = append(dst, b.key...)
	dst = binary.AppendVarint(dst, b.accepted.UnixMilli())
	dst = binary.AppendUvarint(dst, uint64(b.alerts))
	dst = binary.AppendUvarint(dst, uint64(b.rejected))
	return append(dst, b.ndjson...)
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
	alerts, n := binary.Uvarint(r)
	if n <= 0 {
		return b, errBatch
	}
	r = r[n:]
	rejected, n := binary.Uvarint(r)
	if n <= 0 {
		return b, errBatch
	}
	b.alerts, b.rejected = int(alerts), int(rejected)
	b.ndjson = r[n:]
	if got := bytes.Count(b.ndjson, []byte{'\n'}); got != b.alerts {
		return b, fmt.Errorf("%w: %d alerts announced, %d present", errBatch, b.alerts, got)
	}
	return b, nil
}
