package lake

import (
	"fmt"
	"unsafe"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/bitutil"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// rowRef names row row of source array src.
type rowRef struct{ src, row int32 }

// gatherBatch returns the rows refs of srcs, batches of one schema, as one
// batch: how the writer reorders rows. Sorting a chunk into a run, and
// merging runs' segments into partitions' sorted files, each gather every
// column once. Arrow's compute.Take does the same from one source, but
// merging runs with it meant concatenating them first (a second copy), and
// its per-value appends cost twice this for the string columns that make
// up most of a finding.
func gatherBatch(mem memory.Allocator, schema *arrow.Schema, srcs []arrow.RecordBatch, refs []rowRef) (arrow.RecordBatch, error) {
	cols := make([]arrow.Array, schema.NumFields())
	defer func() {
		for _, c := range cols {
			if c != nil {
				c.Release()
			}
		}
	}()
	in := make([]arrow.Array, len(srcs))
	for i, f := range schema.Fields() {
		for s, b := range srcs {
			in[s] = b.Column(i)
		}
		c, err := gather(mem, f.Type, in, refs)
		if err != nil {
			return nil, fmt.Errorf("column %s: %w", f.Name, err)
		}
		cols[i] = c
	}
	return array.NewRecordBatch(schema, cols, int64(len(refs))), nil
}

// gather returns the rows refs of srcs (arrays of type dt) as one array.
func gather(mem memory.Allocator, dt arrow.DataType, srcs []arrow.Array, refs []rowRef) (arrow.Array, error) {
	data, err := gatherData(mem, dt, srcs, refs)
	if err != nil {
		return nil, err
	}
	defer data.Release()
	return array.MakeFromData(data), nil
}

func gatherData(mem memory.Allocator, dt arrow.DataType, srcs []arrow.Array, refs []rowRef) (arrow.ArrayData, error) {
	n := len(refs)
	validity, nulls := gatherValidity(mem, srcs, refs)
	var buffers []*memory.Buffer
	var children []arrow.ArrayData
	switch dt.ID() {
	case arrow.INT32:
		buffers = []*memory.Buffer{validity, gatherFixed(mem, n, values(srcs, (*array.Int32).Int32Values), refs)}
	case arrow.INT64:
		buffers = []*memory.Buffer{validity, gatherFixed(mem, n, values(srcs, (*array.Int64).Int64Values), refs)}
	case arrow.FLOAT64:
		buffers = []*memory.Buffer{validity, gatherFixed(mem, n, values(srcs, (*array.Float64).Float64Values), refs)}
	case arrow.TIMESTAMP:
		buffers = []*memory.Buffer{validity, gatherFixed(mem, n, values(srcs, (*array.Timestamp).TimestampValues), refs)}
	case arrow.BOOL:
		buffers = []*memory.Buffer{validity, gatherBools(mem, srcs, refs)}
	case arrow.STRING:
		offsets, data := gatherStrings(mem, srcs, refs)
		buffers = []*memory.Buffer{validity, offsets, data}
	case arrow.STRUCT:
		st := dt.(*arrow.StructType)
		fields := make([]arrow.Array, len(srcs))
		for i, f := range st.Fields() {
			for s, src := range srcs {
				fields[s] = src.(*array.Struct).Field(i)
			}
			child, err := gatherData(mem, f.Type, fields, refs)
			if err != nil {
				releaseAll(validity, children)
				return nil, err
			}
			children = append(children, child)
		}
		buffers = []*memory.Buffer{validity}
	case arrow.LIST:
		offsets, childRefs := gatherListOffsets(mem, srcs, refs)
		elems := make([]arrow.Array, len(srcs))
		for s, src := range srcs {
			elems[s] = src.(*array.List).ListValues()
		}
		child, err := gatherData(mem, dt.(*arrow.ListType).Elem(), elems, childRefs)
		if err != nil {
			releaseAll(validity, nil)
			offsets.Release()
			return nil, err
		}
		children = []arrow.ArrayData{child}
		buffers = []*memory.Buffer{validity, offsets}
	default:
		releaseAll(validity, nil)
		return nil, fmt.Errorf("gather: unsupported type %s", dt)
	}
	data := array.NewData(dt, n, buffers, children, nulls, 0)
	for _, b := range buffers {
		if b != nil {
			b.Release()
		}
	}
	for _, c := range children {
		c.Release()
	}
	return data, nil
}

func releaseAll(b *memory.Buffer, children []arrow.ArrayData) {
	if b != nil {
		b.Release()
	}
	for _, c := range children {
		c.Release()
	}
}

// newBuffer allocates a zeroed buffer of n bytes.
func newBuffer(mem memory.Allocator, n int) *memory.Buffer {
	b := memory.NewResizableBuffer(mem)
	b.Resize(n)
	return b
}

// gatherValidity returns the validity bitmap of the gathered rows, nil
// when none is null.
func gatherValidity(mem memory.Allocator, srcs []arrow.Array, refs []rowRef) (*memory.Buffer, int) {
	type bitmap struct {
		bits   []byte
		offset int
	}
	maps := make([]bitmap, len(srcs))
	hasNulls := false
	for s, src := range srcs {
		if src.NullN() > 0 {
			maps[s] = bitmap{src.NullBitmapBytes(), src.Data().Offset()}
			hasNulls = true
		}
	}
	if !hasNulls {
		return nil, 0
	}
	buf := newBuffer(mem, int(bitutil.BytesForBits(int64(len(refs)))))
	out := buf.Bytes()
	nulls := 0
	for k, r := range refs {
		m := maps[r.src]
		if m.bits == nil || bitutil.BitIsSet(m.bits, m.offset+int(r.row)) {
			bitutil.SetBit(out, k)
		} else {
			nulls++
		}
	}
	return buf, nulls
}

// values returns each source's values (offset applied).
func values[A any, T any](srcs []arrow.Array, get func(A) []T) [][]T {
	out := make([][]T, len(srcs))
	for s, src := range srcs {
		out[s] = get(any(src).(A))
	}
	return out
}

func gatherFixed[T int32 | int64 | float64 | arrow.Timestamp](mem memory.Allocator, n int, vals [][]T, refs []rowRef) *memory.Buffer {
	var zero T
	buf := newBuffer(mem, n*int(unsafe.Sizeof(zero)))
	out := arrow.GetData[T](buf.Bytes())
	for k, r := range refs {
		out[k] = vals[r.src][r.row]
	}
	return buf
}

func gatherBools(mem memory.Allocator, srcs []arrow.Array, refs []rowRef) *memory.Buffer {
	buf := newBuffer(mem, int(bitutil.BytesForBits(int64(len(refs)))))
	out := buf.Bytes()
	for k, r := range refs {
		if srcs[r.src].(*array.Boolean).Value(int(r.row)) {
			bitutil.SetBit(out, k)
		}
	}
	return buf
}

// gatherStrings copies the rows' strings into one data buffer; null rows
// are empty.
func gatherStrings(mem memory.Allocator, srcs []arrow.Array, refs []rowRef) (offsets, data *memory.Buffer) {
	offs := make([][]int32, len(srcs))
	bytes := make([][]byte, len(srcs))
	for s, src := range srcs {
		str := src.(*array.String)
		offs[s] = str.ValueOffsets()
		if b := str.Data().Buffers()[2]; b != nil {
			bytes[s] = b.Bytes()
		}
	}
	total := 0
	for _, r := range refs {
		o := offs[r.src]
		total += int(o[r.row+1] - o[r.row])
	}
	offsets = newBuffer(mem, (len(refs)+1)*4)
	data = newBuffer(mem, total)
	out := arrow.Int32Traits.CastFromBytes(offsets.Bytes())
	dst := data.Bytes()
	at := 0
	for k, r := range refs {
		o := offs[r.src]
		out[k] = int32(at)
		at += copy(dst[at:], bytes[r.src][o[r.row]:o[r.row+1]])
	}
	out[len(refs)] = int32(at)
	return offsets, data
}

// gatherListOffsets returns the offsets of the gathered lists and the
// element rows they hold, in order.
func gatherListOffsets(mem memory.Allocator, srcs []arrow.Array, refs []rowRef) (*memory.Buffer, []rowRef) {
	lists := make([]*array.List, len(srcs))
	total := 0
	for s, src := range srcs {
		lists[s] = src.(*array.List)
	}
	for _, r := range refs {
		lo, hi := lists[r.src].ValueOffsets(int(r.row))
		total += int(hi - lo)
	}
	offsets := newBuffer(mem, (len(refs)+1)*4)
	out := arrow.Int32Traits.CastFromBytes(offsets.Bytes())
	elems := make([]rowRef, 0, total)
	for k, r := range refs {
		out[k] = int32(len(elems))
		lo, hi := lists[r.src].ValueOffsets(int(r.row))
		for j := lo; j < hi; j++ {
			elems = append(elems, rowRef{r.src, int32(j)})
		}
	}
	out[len(refs)] = int32(len(elems))
	return offsets, elems
}
