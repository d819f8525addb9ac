// Package wal is the write-ahead log in front of the `ocsfmap serve` ingest:
// an HTTP request is answered 202 only after its alerts are durable here, and
// whatever was accepted and not yet delivered is read back from here after a
// restart.
//
// # Layout
//
// A log is a folder of segment files, each named by the LSN of its first
// record in 20 decimal digits (00000000000000000001.wal, …), so the names sort
// in log order and carry the numbering across restarts without any other
// metadata. Only the last segment is written; a new one is started once the
// current one would grow past [Options.SegmentBytes]. Whole segments are
// removed from the front by [Log.TruncateFront] once the caller has delivered
// their records.
//
// # Record format
//
// Records follow each other with no padding or header, little-endian:
//
//	len  uint32   bit 31: more records of the same Append follow; bits 0-30: len(data), > 0
//	crc  uint32   CRC-32 Castagnoli of data
//	data [len]byte
//
// The "more" bit makes one Append atomic across a crash: a call's records are
// written together, and if a crash tears them, recovery drops the whole call
// rather than keeping its first half. That matters to the service, which keeps
// an Append's Idempotency-Key with its alerts: half a request kept and
// acknowledged again on retry would lose the other half. Empty records are
// refused because a zero-filled tail (a common leftover of a crash) would
// otherwise read as an endless run of valid empty records (crc32c of nothing is
// 0).
//
// # Durability
//
// One writer goroutine takes every pending Append, writes them with one write
// call and one fdatasync (group commit), then wakes the callers: concurrent
// requests share a sync. A new segment and a removed one are made durable by a
// sync of the folder. Readers see only records whose sync has completed.
//
// # Recovery
//
// On [Open] every segment is read and checked, and cut at the end of its
// last complete Append wherever a problem starts. What is found there is one
// of two things:
//
//   - A torn tail: the newest segment (the only one written when a crash can
//     happen) ends inside a record or inside an Append's group, with no valid
//     record after, or only zeros follow. Those bytes were never synced, so
//     never acknowledged; the cut is reported by [Log.Repaired].
//   - Damage: anything else — a checksum that fails with bytes after it, a
//     length no write produces, a problem in an older segment, LSNs missing
//     between segments (a segment removed or cut at a record boundary).
//     Acknowledged records are lost there. The segment is first copied aside
//     as <name>.wal.damaged (the quarantine), then cut.
//
// Either way the cut is recorded as a [Gap] in the journal gaps.ndjson
// (appended and synced before any segment is changed, so a crash during
// recovery finds and records the same cut again, once) and [Log.Gaps]
// reports every gap of the log's life. A gap's LSNs are never handed out
// again: appends resume past every LSN the cut bytes could have held
// (a record takes at least 9 bytes), in a new segment. A caller that
// records ranges of LSNs (the service's epochs) therefore never sees a
// recorded range take in other records; it steps over gaps with
// [Log.Missing] and counts what a damaged gap lost with [Log.ReadCut].
//
// The limit of this without a second fsync per commit: damage confined to
// the final Append of the newest segment (its length word or its last
// bytes) reads like a torn write, so it is cut as torn — its LSNs are still
// skipped. The other way round, after a power loss a never-synced write with
// a page missing in its middle reads as damage: a false alarm, never a
// silent loss. Segments that overlap are the one thing Open refuses, with
// ErrCorrupt naming the segment to move away.
//
// # Full disk
//
// A failed write or sync (ENOSPC) fails the Appends being committed, and the
// writer cuts what they wrote off the segment and syncs that: an error from
// Append means nothing of the call is in the log, everything acknowledged
// stays, and later Appends succeed once space returns. Only if that cut
// fails too does the log refuse all appends until the next Open.
// [Options.OpenFile] is the seam the tests use to inject these failures.
package wal
