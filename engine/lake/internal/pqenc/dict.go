package pqenc

import (
	"encoding/binary"
	"math/bits"
)

// Dictionary encoding (Options.Dictionary) of string columns: a chunk's
// distinct values go once into a dictionary page, and its data pages hold
// RLE/bit-packed indices into it. Where the lake's plan makes a column
// constant (class_name, metadata.product.name, …), a caption of an enum id
// (severity, state, activity_name) or a value with few distinct values
// (region, provider, resource type, policy name), a row costs an index of a
// few bits instead of its bytes, and zstd gets that much less to chew on.
//
// Whether a column gets a dictionary is decided per chunk from what it
// holds: every string column starts with one; a chunk whose values are
// mostly distinct (ids, descriptions, templates) falls back to PLAIN for
// the rest of the chunk, as parquet-mr does, and the column then skips the
// dictionary for the next chunks of this Format, trying again now and then.

const (
	// A chunk falls back to PLAIN once it has seen fallbackMinValues values
	// of which more than half were distinct.
	fallbackMinValues = 1024
	// A dictionary pays when the bytes it keeps from zstd exceed, by this
	// many per value looked up in its map, what its pages add: a lookup
	// (hashing the string) costs about what zstd's fastest level spends on
	// that many bytes.
	lookupBytes = 10
	// Dictionaries of up to smallDict entries are searched linearly before
	// the map: cheaper than hashing for the few captions of an enum.
	smallDict = 8
	// A column whose last chunk did not pay writes this many chunks PLAIN
	// before trying a dictionary again.
	dictRetryChunks = 64
	// dictMinValues: a chunk smaller than this tells nothing about a
	// column's cardinality, so the decision for the next chunk stands.
	dictMinValues = 32
	// dictMinRows: a row group of fewer rows is written PLAIN. In files of
	// a few dozen rows (a 30-day backfill averages 16 per partition) zstd
	// already folds the repeats of PLAIN values, and a dictionary page's
	// header and the chunk's longer metadata made files 4 % bigger.
	dictMinRows = 128
)

// dictState is a string leaf's dictionary.
type dictState struct {
	ok       bool // the leaf may use a dictionary: a string column, Options.Dictionary
	use      bool // the chunk being built encodes values as indices
	used     bool // some data page of the chunk holds indices: a dictionary page precedes them
	fellBack bool // the chunk switched to PLAIN
	skip     int  // chunks to write PLAIN before trying again
	index    map[string]uint32
	bytes    int      // PLAIN size of the entries
	idx      []uint32 // indices of the page being built
	seen     int      // values in the chunk so far
	plain    int      // their PLAIN size
	hashed   int      // values looked up in the map
	// The entries in index order. They point into the batch being written,
	// which outlives the chunk: a dictionary is never kept past its chunk.
	entries []string
	// The last value and its index: runs of one value (constants, and the
	// rows of one account in a partition) skip the map.
	prev    string
	prevIdx uint32
	hasPrev bool
}

// startChunk resets the dictionary for a chunk of rows rows and decides
// whether the chunk starts with one.
func (d *dictState) startChunk(rows int) {
	if !d.ok {
		return
	}
	d.use = d.skip == 0 && rows >= dictMinRows
	if d.skip > 0 && rows >= dictMinRows {
		d.skip--
	}
	d.used, d.fellBack = false, false
	d.release() // after a failed Write
	d.idx, d.seen, d.plain, d.hashed, d.bytes = d.idx[:0], 0, 0, 0, 0
	d.prev, d.hasPrev = "", false
}

// endChunk learns from the chunk just written whether the next ones should
// try a dictionary: not when it fell back, nor when the bytes it saved did
// not pay for its lookups.
func (d *dictState) endChunk() {
	if !d.ok || !d.use && !d.fellBack || d.seen < dictMinValues {
		return
	}
	saved := d.plain - d.bytes - d.seen*dictWidth(len(d.entries))/8
	if d.fellBack || saved < d.hashed*lookupBytes {
		d.skip = dictRetryChunks
	}
}

// release drops the chunk's entries, which point into its batch.
func (d *dictState) release() {
	clear(d.index)
	clear(d.entries)
	d.entries = d.entries[:0]
	d.prev = ""
}

// lookup returns the index of s, adding it to the dictionary when new. ok
// is false when the dictionary should not grow (it would exceed maxBytes,
// or the values are mostly distinct): the caller falls back to PLAIN.
// added reports a new entry (its statistics are the caller's).
func (d *dictState) lookup(s string, maxBytes int) (i uint32, added, ok bool) {
	d.seen++
	d.plain += 4 + len(s)
	if d.hasPrev && s == d.prev {
		return d.prevIdx, false, true
	}
	found := false
	if len(d.entries) <= smallDict {
		for k, e := range d.entries {
			if e == s {
				i, found = uint32(k), true
				break
			}
		}
	} else {
		d.hashed++
		i, found = d.index[s]
	}
	if !found {
		if d.bytes+4+len(s) > maxBytes || d.seen >= fallbackMinValues && 2*len(d.entries) > d.seen {
			return 0, false, false
		}
		i = uint32(len(d.entries))
		d.entries = append(d.entries, s)
		if len(d.entries) > smallDict {
			if d.index == nil {
				d.index = make(map[string]uint32)
			}
			if len(d.index) == 0 {
				for k, e := range d.entries {
					d.index[e] = uint32(k)
				}
			} else {
				d.index[s] = i
			}
		}
		d.bytes += 4 + len(s)
		added = true
	}
	d.prev, d.prevIdx, d.hasPrev = s, i, true
	return i, added, true
}

// appendPlain appends the PLAIN encoding of the entries idx names.
func (d *dictState) appendPlain(dst []byte, idx []uint32) []byte {
	for _, k := range idx {
		dst = binary.LittleEndian.AppendUint32(dst, uint32(len(d.entries[k])))
		dst = append(dst, d.entries[k]...)
	}
	return dst
}

// appendEntries appends the dictionary page's values: every entry, PLAIN.
func (d *dictState) appendEntries(dst []byte) []byte {
	for _, e := range d.entries {
		dst = binary.LittleEndian.AppendUint32(dst, uint32(len(e)))
		dst = append(dst, e...)
	}
	return dst
}

// width is the bit width of the indices of a dictionary of n entries (at
// least 1: some readers refuse width 0).
func dictWidth(n int) int { return max(1, bits.Len32(uint32(max(n, 1)-1))) }

// appendIndices appends a dictionary-encoded data page's values: the bit
// width, then the indices in the RLE / bit-packed hybrid (no length prefix).
func appendIndices(dst []byte, idx []uint32, width int) []byte {
	return appendHybrid(append(dst, byte(width)), idx, width)
}
