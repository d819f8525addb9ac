// Package source is the decode stage: it reads alert inputs (NDJSON, JSON
// arrays, a single JSON object, any of them gzip-compressed, from files or
// stdin) one record at a time, and extracts from each record only the fields a
// mapping reads.
//
// Reading and decoding are split on purpose. A [Reader] only finds record
// boundaries and never parses a record, so one malformed NDJSON line becomes
// one bad record (dead-lettered with its input name and line) instead of
// stopping the stream. An [Extractor] then validates the whole record as JSON
// while decoding only the requested fields; values nobody maps are skipped
// without allocating. That is what lets the per-record path run several times
// faster than decoding each record into a map[string]any with encoding/json.
package source
