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
// On [Open] every segment is read and checked. A torn or corrupt tail of the
// last segment — the only one written when a crash can happen — is cut at the
// end of the last complete Append, reported by [Log.Repaired], and appends
// continue from there. Damage in an earlier segment cannot come from a crash,
// so it is an error rather than silently losing acknowledged records.
package wal
