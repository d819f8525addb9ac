package columnar

import (
	"unsafe"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// The columns below hold a batch's rows in Arrow's layout, in Go slices the
// Builder keeps from one batch to the next. Arrow's own builders start every
// batch from empty buffers and grow them by reallocating, copying and
// zeroing; here a batch after the first appends into capacity it already
// has. A column's data() is a view of its slices: valid until the column is
// appended to or reset.

// column is one Arrow column (or list element, or struct field) being built.
type column interface {
	appendNull()
	// data returns the rows as Arrow data over the column's slices.
	data() arrow.ArrayData
	reset()
	length() int
	lastValid() bool // whether the last row appended is not null
	footprint() int  // bytes of capacity held, this column and below
}

// validity is a column's null bitmap and row count.
type validity struct {
	bits  []byte
	n     int
	nulls int
}

func (v *validity) appendValid(ok bool) {
	if v.n&7 == 0 {
		v.bits = append(v.bits, 0)
	}
	if ok {
		v.bits[v.n>>3] |= 1 << (v.n & 7)
	} else {
		v.nulls++
	}
	v.n++
}

func (v *validity) lastValid() bool {
	i := v.n - 1
	return v.bits[i>>3]&(1<<(i&7)) != 0
}

func (v *validity) bitsCap() int { return cap(v.bits) }

func (v *validity) buffer() *memory.Buffer { return memory.NewBufferBytes(v.bits) }
func (v *validity) length() int            { return v.n }
func (v *validity) resetValidity()         { v.bits, v.n, v.nulls = v.bits[:0], 0, 0 }

// stringColumn is a utf8 column: int32 offsets (one more than rows) and the
// bytes of every value.
type stringColumn struct {
	validity
	offsets []int32
	bytes   []byte
}

func newStringColumn() *stringColumn { return &stringColumn{offsets: []int32{0}} }

func (c *stringColumn) append(s string) {
	c.bytes = append(c.bytes, s...)
	c.offsets = append(c.offsets, int32(len(c.bytes)))
	c.appendValid(true)
}

func (c *stringColumn) appendBytes(b []byte) {
	c.bytes = append(c.bytes, b...)
	c.offsets = append(c.offsets, int32(len(c.bytes)))
	c.appendValid(true)
}

func (c *stringColumn) appendNull() {
	c.offsets = append(c.offsets, int32(len(c.bytes)))
	c.appendValid(false)
}

func (c *stringColumn) data() arrow.ArrayData {
	return array.NewData(arrow.BinaryTypes.String, c.n,
		[]*memory.Buffer{c.buffer(), memory.NewBufferBytes(asBytes(c.offsets)), memory.NewBufferBytes(c.bytes)},
		nil, c.nulls, 0)
}

func (c *stringColumn) footprint() int { return c.bitsCap() + 4*cap(c.offsets) + cap(c.bytes) }

func (c *stringColumn) reset() {
	c.resetValidity()
	c.offsets, c.bytes = c.offsets[:1], c.bytes[:0]
}

// fixedColumn is a column of fixed-width numbers (int32, int64, float64,
// and timestamp, which is an int64).
type fixedColumn[T int32 | int64 | float64] struct {
	validity
	typ  arrow.DataType
	vals []T
}

func (c *fixedColumn[T]) append(v T) {
	c.vals = append(c.vals, v)
	c.appendValid(true)
}

func (c *fixedColumn[T]) appendNull() {
	c.vals = append(c.vals, 0)
	c.appendValid(false)
}

func (c *fixedColumn[T]) data() arrow.ArrayData {
	return array.NewData(c.typ, c.n, []*memory.Buffer{c.buffer(), memory.NewBufferBytes(asBytes(c.vals))}, nil, c.nulls, 0)
}

func (c *fixedColumn[T]) footprint() int {
	var zero T
	return c.bitsCap() + int(unsafe.Sizeof(zero))*cap(c.vals)
}

func (c *fixedColumn[T]) reset() { c.resetValidity(); c.vals = c.vals[:0] }

// boolColumn is a boolean column: its values are a bitmap too.
type boolColumn struct {
	validity
	vals validity // only bits is used: set = true
}

func (c *boolColumn) append(v bool) {
	c.vals.appendValid(v)
	c.appendValid(true)
}

func (c *boolColumn) appendNull() {
	c.vals.appendValid(false)
	c.appendValid(false)
}

func (c *boolColumn) data() arrow.ArrayData {
	return array.NewData(arrow.FixedWidthTypes.Boolean, c.n, []*memory.Buffer{c.buffer(), c.vals.buffer()}, nil, c.nulls, 0)
}

func (c *boolColumn) footprint() int { return c.bitsCap() + c.vals.bitsCap() }

func (c *boolColumn) reset() { c.resetValidity(); c.vals.resetValidity() }

// structColumn is a struct: a null row is a null in every field too.
type structColumn struct {
	validity
	typ    arrow.DataType
	fields []column
}

func (c *structColumn) appendNull() {
	c.appendValid(false)
	for _, f := range c.fields {
		f.appendNull()
	}
}

func (c *structColumn) data() arrow.ArrayData {
	kids := make([]arrow.ArrayData, len(c.fields))
	for i, f := range c.fields {
		kids[i] = f.data()
	}
	d := array.NewData(c.typ, c.n, []*memory.Buffer{c.buffer()}, kids, c.nulls, 0)
	for _, k := range kids {
		k.Release()
	}
	return d
}

func (c *structColumn) footprint() int {
	n := c.bitsCap()
	for _, f := range c.fields {
		n += f.footprint()
	}
	return n
}

func (c *structColumn) reset() {
	c.resetValidity()
	for _, f := range c.fields {
		f.reset()
	}
}

// listColumn is a list: a row is begun (appendValid(true)), its elements
// appended to elem, and ended; offsets has one more entry than rows.
type listColumn struct {
	validity
	typ     arrow.DataType
	offsets []int32
	elem    column
}

func (c *listColumn) begin() { c.appendValid(true) }

func (c *listColumn) end() { c.offsets = append(c.offsets, int32(c.elem.length())) }

func (c *listColumn) appendNull() {
	c.appendValid(false)
	c.end()
}

func (c *listColumn) data() arrow.ArrayData {
	elem := c.elem.data()
	defer elem.Release()
	return array.NewData(c.typ, c.n,
		[]*memory.Buffer{c.buffer(), memory.NewBufferBytes(asBytes(c.offsets))},
		[]arrow.ArrayData{elem}, c.nulls, 0)
}

func (c *listColumn) footprint() int { return c.bitsCap() + 4*cap(c.offsets) + c.elem.footprint() }

func (c *listColumn) reset() {
	c.resetValidity()
	c.offsets = c.offsets[:1]
	c.elem.reset()
}

// newColumn makes the column of an Arrow type the schema uses.
func newColumn(t arrow.DataType) column {
	switch t := t.(type) {
	case *arrow.StringType:
		return newStringColumn()
	case *arrow.Int32Type:
		return &fixedColumn[int32]{typ: t}
	case *arrow.Int64Type, *arrow.TimestampType:
		return &fixedColumn[int64]{typ: t}
	case *arrow.Float64Type:
		return &fixedColumn[float64]{typ: t}
	case *arrow.BooleanType:
		return &boolColumn{}
	case *arrow.StructType:
		c := &structColumn{typ: t, fields: make([]column, t.NumFields())}
		for i, f := range t.Fields() {
			c.fields[i] = newColumn(f.Type)
		}
		return c
	case *arrow.ListType:
		return &listColumn{typ: t, offsets: []int32{0}, elem: newColumn(t.Elem())}
	}
	panic("columnar: no column for Arrow type " + t.String())
}

// asBytes views a slice of numbers as its bytes.
func asBytes[T int32 | int64 | float64](s []T) []byte {
	if len(s) == 0 {
		return nil
	}
	return unsafe.Slice((*byte)(unsafe.Pointer(&s[0])), len(s)*int(unsafe.Sizeof(s[0])))
}

// copyData copies d and its children into buffers from mem: the batch it
// becomes owns its memory and outlives the Builder's next batch.
func copyData(mem memory.Allocator, d arrow.ArrayData) arrow.ArrayData {
	bufs := make([]*memory.Buffer, len(d.Buffers()))
	for i, b := range d.Buffers() {
		if b == nil {
			continue
		}
		nb := memory.NewResizableBuffer(mem)
		nb.Resize(b.Len())
		copy(nb.Bytes(), b.Bytes())
		bufs[i] = nb
	}
	kids := make([]arrow.ArrayData, len(d.Children()))
	for i, k := range d.Children() {
		kids[i] = copyData(mem, k)
	}
	out := array.NewData(d.DataType(), d.Len(), bufs, kids, d.NullN(), d.Offset())
	for _, b := range bufs {
		if b != nil {
			b.Release()
		}
	}
	for _, k := range kids {
		k.Release()
	}
	return out
}
