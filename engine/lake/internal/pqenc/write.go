package pqenc

import (
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"math/bits"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/parquet"
)

// Codes of the Parquet Thrift enums written here.
const (
	pageData     = 0 // PageType DATA_PAGE
	encPlain     = 0 // Encoding PLAIN
	encRLE       = 3 // Encoding RLE
	encRLEDict   = 8 // Encoding RLE_DICTIONARY
	pageDict     = 2 // PageType DICTIONARY_PAGE
	codecZstd    = 6 // CompressionCodec ZSTD
	parquetMagic = "PAR1"
)

// chunkMeta is what the footer says of one column chunk.
type chunkMeta struct {
	offset, compressed, uncompressed int64
	dict                             int64 // bytes of the dictionary page at offset (0: none)
}

// Write writes batch as one Parquet file to w, rowGroupRows rows per row
// group at most (0: one row group), and returns the bytes written.
func (f *Format) Write(w io.Writer, batch arrow.RecordBatch, rowGroupRows int) (int64, error) {
	if !batch.Schema().Equal(f.arrow) {
		return 0, fmt.Errorf("pqenc: batch schema differs from the format's")
	}
	rows := int(batch.NumRows())
	if rowGroupRows <= 0 {
		rowGroupRows = max(rows, 1)
	}
	cw := &countingWriter{w: w}
	if _, err := io.WriteString(cw, parquetMagic); err != nil {
		return cw.n, err
	}
	ft := &f.footer
	ft.b, ft.last, ft.outer = ft.b[:0], 0, ft.outer[:0]
	ft.b = append(ft.b, f.head...)
	ft.last = 2
	ft.i64(3, int64(rows))
	groups := (rows + rowGroupRows - 1) / rowGroupRows
	ft.list(4, tStruct, groups)
	metas := make([]chunkMeta, len(f.leaves))
	for lo := 0; lo < rows; lo += rowGroupRows {
		hi := min(rows, lo+rowGroupRows)
		start := cw.n
		ft.begin(0)
		ft.list(1, tStruct, len(f.leaves))
		k := 0
		for c, n := range f.fields {
			for _, l := range n.leaves {
				l.reset(hi - lo)
			}
			f.stripe(n, batch.Column(c), lo, hi)
			for _, l := range n.leaves {
				f.flushPage(l)
				m := chunkMeta{offset: cw.n, compressed: int64(len(l.chunk)), uncompressed: l.uncompressed}
				if l.dict.used {
					dp, raw := f.dictPage(l)
					m.dict = int64(len(dp))
					m.compressed += m.dict
					m.uncompressed += raw
					if _, err := cw.Write(dp); err != nil {
						return cw.n, err
					}
				}
				metas[k] = m
				if _, err := cw.Write(l.chunk); err != nil {
					return cw.n, err
				}
				f.writeChunkMeta(ft, l, metas[k])
				l.dict.endChunk()
				l.dict.release()
				k++
			}
		}
		f.endRowGroup(ft, metas, start, cw.n-start, hi-lo, lo/rowGroupRows)
	}
	ft.b = append(ft.b, f.tail...)
	size := len(ft.b)
	ft.b = binary.LittleEndian.AppendUint32(ft.b, uint32(size))
	ft.b = append(ft.b, parquetMagic...)
	_, err := cw.Write(ft.b)
	return cw.n, err
}

// flushPage compresses the leaf's page, if it has level entries, into its
// chunk.
func (f *Format) flushPage(l *leaf) {
	n := len(l.defs)
	if n == 0 {
		return
	}
	page := f.pageBuf[:0]
	if l.maxRep > 0 {
		page = appendLevels(page, l.reps, bits.Len16(uint16(l.maxRep)))
	}
	if l.maxDef > 0 {
		page = appendLevels(page, l.defs, bits.Len16(uint16(l.maxDef)))
	}
	enc := int32(encPlain)
	if len(l.dict.idx) > 0 {
		// Indices of this page (the values of a page are all indices or all
		// PLAIN: a fallback cuts the page first).
		page = appendIndices(page, l.dict.idx, dictWidth(len(l.dict.entries)))
		enc = encRLEDict
		l.dict.used = true
		l.dict.idx = l.dict.idx[:0]
	} else {
		page = append(page, l.vals...)
	}
	f.pageBuf = page
	f.zbuf = f.compress(page, f.zbuf[:0])

	var h thriftWriter
	h.b = f.hdrBuf[:0]
	h.i32(1, pageData)
	h.i32(2, int32(len(page)))
	h.i32(3, int32(len(f.zbuf)))
	h.begin(5)
	h.i32(1, int32(n))
	h.i32(2, enc)
	h.i32(3, encRLE)
	h.i32(4, encRLE)
	h.end()
	h.b = append(h.b, 0)
	f.hdrBuf = h.b

	l.chunk = append(l.chunk, h.b...)
	l.chunk = append(l.chunk, f.zbuf...)
	l.uncompressed += int64(len(h.b) + len(page))
	l.numValues += int64(n)
	l.defs, l.reps, l.vals, l.bits = l.defs[:0], l.reps[:0], l.vals[:0], 0
}

// dictPage returns l's dictionary page (header and compressed entries) and
// its uncompressed size with the header.
func (f *Format) dictPage(l *leaf) ([]byte, int64) {
	f.pageBuf = l.dict.appendEntries(f.pageBuf[:0])
	f.zbuf = f.compress(f.pageBuf, f.zbuf[:0])
	var h thriftWriter
	h.b = f.hdrBuf[:0]
	h.i32(1, pageDict)
	h.i32(2, int32(len(f.pageBuf)))
	h.i32(3, int32(len(f.zbuf)))
	h.begin(7) // dictionary_page_header
	h.i32(1, int32(len(l.dict.entries)))
	h.i32(2, encPlain)
	h.end()
	h.b = append(h.b, 0)
	f.hdrBuf = h.b
	f.dictBuf = append(append(f.dictBuf[:0], h.b...), f.zbuf...)
	return f.dictBuf, int64(len(h.b) + len(f.pageBuf))
}

// writeChunkMeta writes the ColumnChunk of l (a RowGroup.columns element).
func (f *Format) writeChunkMeta(w *thriftWriter, l *leaf, m chunkMeta) {
	w.begin(0)
	w.i64(2, m.offset) // file_offset
	w.begin(3)         // meta_data
	w.i32(1, int32(l.physical))
	if l.dict.used {
		w.list(2, tI32, 3)
		w.b = binary.AppendVarint(w.b, encPlain)
		w.b = binary.AppendVarint(w.b, encRLE)
		w.b = binary.AppendVarint(w.b, encRLEDict)
	} else {
		w.list(2, tI32, 2)
		w.b = binary.AppendVarint(w.b, encPlain)
		w.b = binary.AppendVarint(w.b, encRLE)
	}
	w.list(3, tBinary, len(l.path))
	for _, p := range l.path {
		w.b = binary.AppendUvarint(w.b, uint64(len(p)))
		w.b = append(w.b, p...)
	}
	w.i32(4, codecZstd)
	w.i64(5, l.numValues)
	w.i64(6, m.uncompressed)
	w.i64(7, m.compressed)
	w.i64(9, m.offset+m.dict) // data_page_offset
	if m.dict > 0 {
		w.i64(11, m.offset) // dictionary_page_offset
	}
	w.begin(12) // statistics
	w.i64(3, l.nulls)
	if l.hasMinMax {
		// Like parquet-mr and pqarrow: an extreme too long is left out,
		// not truncated (a reader could take a truncated one as exact).
		if max := statValue(&f.statBuf, l, l.max, l.maxI, l.maxF); len(max) <= maxStatBytes {
			w.binary(5, max)
		}
		if min := statValue(&f.statBuf, l, l.min, l.minI, l.minF); len(min) <= maxStatBytes {
			w.binary(6, min)
		}
	}
	w.end()
	w.end()
	w.end()
}

// statValue is the PLAIN encoding of one extreme of l: the string s as it
// is, or the number n or x (as l's type has it) written into buf.
func statValue(buf *[8]byte, l *leaf, s []byte, n int64, x float64) []byte {
	dst := buf[:0]
	switch l.physical {
	case parquet.Types.ByteArray:
		return s
	case parquet.Types.Int32:
		return binary.LittleEndian.AppendUint32(dst, uint32(int32(n)))
	case parquet.Types.Boolean:
		return append(dst, byte(n))
	case parquet.Types.Double:
		return binary.LittleEndian.AppendUint64(dst, math.Float64bits(x))
	default: // INT64, timestamps
		return binary.LittleEndian.AppendUint64(dst, uint64(n))
	}
}

// endRowGroup closes a RowGroup whose columns were written.
func (f *Format) endRowGroup(w *thriftWriter, metas []chunkMeta, start, compressed int64, rows, ordinal int) {
	var total int64
	for _, m := range metas {
		total += m.uncompressed
	}
	w.i64(2, total)
	w.i64(3, int64(rows))
	w.i64(5, start)
	w.i64(6, compressed)
	w.field(7, tI16)
	w.b = binary.AppendVarint(w.b, int64(ordinal))
	w.end()
}

type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// compress appends page as a zstd frame to dst: compressed, or stored as
// one raw block when it is shorter than Options.StoreBelow.
func (f *Format) compress(page, dst []byte) []byte {
	if len(page) >= f.opts.StoreBelow || len(page) > 255 { // the content size below is one byte
		return f.enc.EncodeAll(page, dst)
	}
	// Magic; frame header: single segment, content size in one byte; one
	// block: last, raw, its size.
	dst = append(dst, 0x28, 0xb5, 0x2f, 0xfd, 0x20, byte(len(page)))
	bh := uint32(len(page))<<3 | 1
	dst = append(dst, byte(bh), byte(bh>>8), byte(bh>>16))
	return append(dst, page...)
}
