package pqenc

import (
	"encoding/binary"
	"math"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/parquet"
)

// leaf is one Parquet column: its fixed facts, and the page being built and
// the chunk written so far for the current row group.
type leaf struct {
	arrowType      arrow.Type
	physical       parquet.Type
	path           parquet.ColumnPath
	maxDef, maxRep int16

	// The page being built.
	defs, reps []int16
	vals       []byte // PLAIN values
	bits       int    // booleans: values bit-packed into vals so far
	// The chunk.
	chunk        []byte // page headers and compressed pages
	uncompressed int64  // header and uncompressed page bytes
	numValues    int64  // level entries (nulls included)
	nulls        int64
	hasMinMax    bool
	min, max     []byte // PLAIN encoding of the extremes
	minI, maxI   int64
	minF, maxF   float64
	dict         dictState
	// pageSize: PLAIN values or dictionary bytes over this cut a page or
	// end a dictionary (the Format's).
	pageSize int
}

func (l *leaf) reset(rows int) {
	l.defs, l.reps, l.vals, l.bits = l.defs[:0], l.reps[:0], l.vals[:0], 0
	l.chunk, l.uncompressed, l.numValues, l.nulls = l.chunk[:0], 0, 0, 0
	l.hasMinMax, l.min, l.max = false, l.min[:0], l.max[:0]
	l.dict.startChunk(rows)
}

// pageBytes is the size of the page's values so far: PLAIN bytes, or
// what its dictionary indices would take unpacked.
func (l *leaf) pageBytes() int { return len(l.vals) + 4*len(l.dict.idx) }

// null records an absent value at levels def, rep.
func (l *leaf) null(def, rep int16) {
	l.defs = append(l.defs, def)
	if l.maxRep > 0 {
		l.reps = append(l.reps, rep)
	}
	l.nulls++
}

// value records arr[i], present, at levels def, rep.
func (l *leaf) value(arr arrow.Array, i int, def, rep int16) {
	if l.dict.use {
		s := arr.(*array.String).Value(i)
		k, added, ok := l.dict.lookup(s, l.pageSize)
		if ok {
			l.defs = append(l.defs, def)
			if l.maxRep > 0 {
				l.reps = append(l.reps, rep)
			}
			l.dict.idx = append(l.dict.idx, k)
			if added {
				l.statString(s)
			}
			return
		}
		// The rest of the chunk is PLAIN, the page so far included (a page
		// is cut only where a row starts).
		l.vals = l.dict.appendPlain(l.vals, l.dict.idx)
		l.dict.idx = l.dict.idx[:0]
		l.dict.use, l.dict.fellBack = false, true
	}
	l.defs = append(l.defs, def)
	if l.maxRep > 0 {
		l.reps = append(l.reps, rep)
	}
	switch l.arrowType {
	case arrow.STRING:
		s := arr.(*array.String).Value(i)
		l.vals = binary.LittleEndian.AppendUint32(l.vals, uint32(len(s)))
		l.vals = append(l.vals, s...)
		l.statString(s)
	case arrow.INT32:
		v := arr.(*array.Int32).Value(i)
		l.vals = binary.LittleEndian.AppendUint32(l.vals, uint32(v))
		l.statInt(int64(v))
	case arrow.INT64:
		v := arr.(*array.Int64).Value(i)
		l.vals = binary.LittleEndian.AppendUint64(l.vals, uint64(v))
		l.statInt(v)
	case arrow.TIMESTAMP:
		v := int64(arr.(*array.Timestamp).Value(i))
		l.vals = binary.LittleEndian.AppendUint64(l.vals, uint64(v))
		l.statInt(v)
	case arrow.FLOAT64:
		v := arr.(*array.Float64).Value(i)
		l.vals = binary.LittleEndian.AppendUint64(l.vals, math.Float64bits(v))
		l.statFloat(v)
	case arrow.BOOL:
		v := arr.(*array.Boolean).Value(i)
		if l.bits%8 == 0 {
			l.vals = append(l.vals, 0)
		}
		if v {
			l.vals[len(l.vals)-1] |= 1 << (l.bits % 8)
		}
		l.bits++
		b := int64(0)
		if v {
			b = 1
		}
		l.statInt(b)
	}
}

func (l *leaf) statString(s string) {
	if !l.hasMinMax {
		l.min = append(l.min[:0], s...)
		l.max = append(l.max[:0], s...)
		l.hasMinMax = true
		return
	}
	// string(b) in a comparison does not allocate.
	if s < string(l.min) {
		l.min = append(l.min[:0], s...)
	} else if s > string(l.max) {
		l.max = append(l.max[:0], s...)
	}
}

func (l *leaf) statInt(v int64) {
	if !l.hasMinMax {
		l.minI, l.maxI, l.hasMinMax = v, v, true
		return
	}
	l.minI = min(l.minI, v)
	l.maxI = max(l.maxI, v)
}

func (l *leaf) statFloat(v float64) {
	if math.IsNaN(v) {
		return
	}
	if !l.hasMinMax {
		l.minF, l.maxF, l.hasMinMax = v, v, true
		return
	}
	l.minF = min(l.minF, v)
	l.maxF = max(l.maxF, v)
}

// stripe records rows [lo, hi) of arr, a top-level column, in the leaves
// of n, cutting a page at a row start once one holds pageSize bytes.
func (f *Format) stripe(n *node, arr arrow.Array, lo, hi int) {
	for i := lo; i < hi; i++ {
		for _, l := range n.leaves {
			if l.pageBytes() >= f.pageSize {
				f.flushPage(l)
			}
		}
		f.visit(n, arr, i, 0, 0)
	}
}

// visit records arr[i] at the levels of its parent (def, rep).
func (f *Format) visit(n *node, arr arrow.Array, i int, def, rep int16) {
	if n.optional {
		if arr.IsNull(i) {
			for _, l := range n.leaves {
				l.null(def, rep)
			}
			return
		}
		def++
	}
	switch n.kind {
	case leafNode:
		n.leaf.value(arr, i, def, rep)
	case structNode:
		st := arr.(*array.Struct)
		for k, c := range n.children {
			f.visit(c, st.Field(k), i, def, rep)
		}
	case listNode:
		lst := arr.(*array.List)
		lo, hi := lst.ValueOffsets(i)
		if lo == hi {
			// Present but empty: the leaves below end at this level.
			for _, l := range n.elem.leaves {
				l.null(def, rep)
			}
			return
		}
		vals := lst.ListValues()
		for j := lo; j < hi; j++ {
			r := rep
			if j > lo {
				r = n.elemRep
			}
			f.visit(n.elem, vals, int(j), def+1, r)
		}
	}
}
