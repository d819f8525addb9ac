package columnar

import (
	"math"
	"slices"
	"strconv"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/ocsfmap/ocsfmap/engine/internal/jsontext"
	"github.com/ocsfmap/ocsfmap/engine/plan"
)

// Layout is the columnar form of one plan tree: its Arrow schema, computed
// once. A Layout is immutable and safe to share; each Builder made from it
// is not.
type Layout struct {
	root   *plan.Node
	schema *arrow.Schema
}

// NewLayout computes the Arrow schema of a plan tree.
func NewLayout(root *plan.Node) *Layout {
	return &Layout{root: root, schema: ArrowSchema(root)}
}

// Schema is the Arrow schema every batch of this layout has.
func (l *Layout) Schema() *arrow.Schema { return l.schema }

// Root is the plan tree the layout was made from.
func (l *Layout) Root() *plan.Node { return l.root }

// Builder appends mapped records to typed columns in Arrow's layout. Every
// column is type-asserted once, when the Builder is made, into a tree of
// appender funcs that read plan.Record slots directly: appending a record
// does no lookups by name, no reflection and builds no generic document.
// The columns keep their capacity from one batch to the next.
//
// A missing value is a null, and so is what plan.Value.Absent leaves out of
// a record (an empty list, an empty JSON object). An object (struct) is null
// when every leaf below it is null; a list set by index holds its present
// items only, compacted as the record's JSON is (OCSF has no null
// elements), and is null when none is present.
//
// A Builder is not safe for concurrent use.
type Builder struct {
	layout *Layout
	mem    memory.Allocator
	cols   []column
	apps   []func(*plan.Record)
	rows   int
	bytes  int64
	// mismatched counts values whose kind does not fit their column (written
	// as null). The plan's types make it zero; tests and stats read it.
	mismatched int64
	scratch    []byte // JSON encoding buffer, reused
}

// NewBuilder makes a Builder for a plan tree. Use Layout.NewBuilder to make
// many builders of one tree without recomputing its schema.
func NewBuilder(mem memory.Allocator, root *plan.Node) *Builder {
	return NewLayout(root).NewBuilder(mem)
}

// NewBuilder makes a Builder whose NewRecordBatch copies into memory from
// mem (memory.DefaultAllocator when nil); its columns are Go slices.
func (l *Layout) NewBuilder(mem memory.Allocator) *Builder {
	if mem == nil {
		mem = memory.DefaultAllocator
	}
	b := &Builder{layout: l, mem: mem}
	b.cols = make([]column, len(l.root.Children))
	b.apps = make([]func(*plan.Record), len(l.root.Children))
	for i, c := range l.root.Children {
		b.cols[i] = newColumn(l.schema.Field(i).Type)
		b.apps[i] = b.compile(c, b.cols[i])
	}
	return b
}

// Schema is the schema of the batches this Builder makes.
func (b *Builder) Schema() *arrow.Schema { return b.layout.schema }

// Append adds one mapped record as a row. rec is not retained.
func (b *Builder) Append(rec *plan.Record) {
	for _, app := range b.apps {
		app(rec)
	}
	b.rows++
}

// Len is the number of rows appended since the last batch.
func (b *Builder) Len() int { return b.rows }

// Bytes approximates the memory the rows appended since the last batch take
// in Arrow form (value bytes, offsets and fixed-width slots; not bitmaps or
// builder slack).
func (b *Builder) Bytes() int64 { return b.bytes }

// Footprint is the memory the Builder's columns hold: the capacity they
// keep between batches, not only the rows appended.
func (b *Builder) Footprint() int64 {
	var n int
	for _, c := range b.cols {
		n += c.footprint()
	}
	return int64(n)
}

// Mismatched counts values written as null because their kind did not fit
// their column, since the last batch.
func (b *Builder) Mismatched() int64 { return b.mismatched }

// View returns the rows appended so far as a batch over the Builder's own
// buffers, without copying them. It is valid until the next Append or
// Reset; Release it before then. Reset starts the next batch.
func (b *Builder) View() arrow.RecordBatch { return b.record(nil) }

// Reset drops the rows appended so far and keeps the columns' capacity for
// the next batch.
func (b *Builder) Reset() {
	for _, c := range b.cols {
		c.reset()
	}
	b.rows = 0
	b.bytes = 0
	b.mismatched = 0
}

// NewRecordBatch returns the rows appended so far as a batch of its own
// (copied into memory from the Builder's allocator) and resets the Builder
// for the next one. The caller must Release the batch.
func (b *Builder) NewRecordBatch() arrow.RecordBatch {
	rec := b.record(b.mem)
	b.Reset()
	return rec
}

// record makes the batch of the rows appended so far: over the columns'
// buffers when mem is nil, else copied into memory from mem.
func (b *Builder) record(mem memory.Allocator) arrow.RecordBatch {
	arrs := make([]arrow.Array, len(b.cols))
	for i, c := range b.cols {
		d := c.data()
		if mem != nil {
			owned := copyData(mem, d)
			d.Release()
			d = owned
		}
		arrs[i] = array.MakeFromData(d)
		d.Release()
	}
	rec := array.NewRecordBatch(b.layout.schema, arrs, int64(b.rows))
	for _, a := range arrs {
		a.Release()
	}
	return rec
}

// Release drops the columns' buffers; the Builder is not used after.
func (b *Builder) Release() {
	b.cols, b.apps = nil, nil
}

// compile returns the appender of node n writing into column col.
func (b *Builder) compile(n *plan.Node, col column) func(*plan.Record) {
	switch {
	case n.Kind == plan.KindJSON:
		return b.compileJSON(n, col.(*stringColumn))
	case n.Kind == plan.KindObject && n.Leaf():
		// An object set as a whole: its slot holds a plan.Object.
		app := b.value(n.Elem, col)
		slot := n.Slot
		return func(r *plan.Record) { app(&r.Values[slot]) }
	case n.Kind == plan.KindObject:
		return b.compileObject(n, col.(*structColumn))
	case n.Kind == plan.KindList && len(n.Items) > 0:
		return b.compileItems(n, col.(*listColumn))
	case n.Kind == plan.KindList && n.Leaf():
		return b.compileWholeList(n, col.(*listColumn))
	case n.Kind == plan.KindList:
		// A list with neither items nor a slot holds nothing the mapping sets.
		return func(*plan.Record) { col.appendNull() }
	case n.Leaf():
		app := b.scalar(n.Kind, col)
		slot := n.Slot
		return func(r *plan.Record) { app(&r.Values[slot]) }
	}
	// A scalar node without a slot: always null, but present in the schema.
	return func(*plan.Record) { col.appendNull() }
}

func (b *Builder) compileObject(n *plan.Node, sc *structColumn) func(*plan.Record) {
	kids := make([]func(*plan.Record), len(n.Children))
	for i, c := range n.Children {
		kids[i] = b.compile(c, sc.fields[i])
	}
	// The fields are appended first: the struct is null when all of them
	// are, which spares a pass over the leaves below for every object.
	return func(r *plan.Record) {
		for _, k := range kids {
			k(r)
		}
		for _, f := range sc.fields {
			if f.lastValid() {
				sc.appendValid(true)
				return
			}
		}
		sc.appendValid(false)
	}
}

// compileItems handles a list set by index: one appender per item, all
// writing into the list's one value builder.
func (b *Builder) compileItems(n *plan.Node, lc *listColumn) func(*plan.Record) {
	type item struct {
		app   func(*plan.Record)
		slots []int
	}
	items := make([]item, len(n.Items))
	for i, it := range n.Items {
		items[i] = item{app: b.compile(it, lc.elem), slots: leafSlots(it, nil)}
	}
	return func(r *plan.Record) {
		b.bytes += 4
		open := false
		for i := range items {
			if !anySet(r, items[i].slots) {
				continue // a missing item is left out, not a null element
			}
			if !open {
				lc.begin()
				open = true
			}
			items[i].app(r)
		}
		if !open {
			lc.appendNull()
			return
		}
		lc.end()
	}
}

// compileWholeList handles a list set as a whole by one rule: its slot holds
// a plan.List of scalars, or of plan.Objects.
func (b *Builder) compileWholeList(n *plan.Node, lc *listColumn) func(*plan.Record) {
	slot := n.Slot
	var elem func(*plan.Value)
	switch {
	case n.Elem == nil:
		elem = b.scalar(plan.KindString, lc.elem)
	case n.Elem.Kind == plan.KindObject:
		elem = b.value(n.Elem, lc.elem)
	case n.Elem.Kind != plan.KindList:
		elem = b.scalar(n.Elem.Kind, lc.elem)
	}
	return func(r *plan.Record) {
		v := &r.Values[slot]
		b.bytes += 4
		switch {
		case v.Absent():
			lc.appendNull()
		case v.Kind == plan.List && elem != nil:
			lc.begin()
			for i := range v.List {
				elem(&v.List[i])
			}
			lc.end()
		default:
			lc.appendNull()
			b.mismatched++
		}
	}
}

// compileJSON writes a json_t node as one JSON string. A node with Children
// (unmapped.theme, unmapped.age) is one object of its children's values.
func (b *Builder) compileJSON(n *plan.Node, sc *stringColumn) func(*plan.Record) {
	enc := b.jsonEncoder(n)
	return func(r *plan.Record) {
		buf, ok, err := enc(b.scratch[:0], r)
		b.scratch = buf[:0]
		if err != nil {
			b.mismatched++
			ok = false
		}
		if !ok {
			sc.appendNull()
			b.bytes += 4
			return
		}
		sc.appendBytes(buf) // copies buf into the column
		b.bytes += int64(len(buf)) + 4
	}
}

// jsonEncoder compiles the JSON encoding of a subtree. The encoder reports
// false when nothing below n has a value (the JSON is then null).
type jsonEnc func(dst []byte, r *plan.Record) ([]byte, bool, error)

func (b *Builder) jsonEncoder(n *plan.Node) jsonEnc {
	if len(n.Children) > 0 && (n.Kind == plan.KindObject || n.Kind == plan.KindJSON) {
		type kid struct {
			key []byte // `"name":`
			enc jsonEnc
		}
		kids := make([]kid, len(n.Children))
		names := make(map[string]bool, len(n.Children))
		for i, c := range n.Children {
			kids[i] = kid{key: append(jsontext.AppendString(nil, c.Name), ':'), enc: b.jsonEncoder(c)}
			names[c.Name] = true
		}
		slot := n.Slot
		return func(dst []byte, r *plan.Record) ([]byte, bool, error) {
			start := len(dst)
			dst = append(dst, '{')
			wrote := false
			// A json_t node set as a whole and by key: the whole value's keys
			// first (sorted), then the keyed children, which win.
			if slot >= 0 {
				if m, ok := r.Values[slot].JSON.(map[string]any); ok && r.Values[slot].Kind == plan.JSON {
					var err error
					for _, k := range sortedKeys(m) {
						if names[k] {
							continue
						}
						if wrote {
							dst = append(dst, ',')
						}
						dst = jsontext.AppendString(dst, k)
						dst = append(dst, ':')
						if dst, err = jsontext.AppendValue(dst, m[k]); err != nil {
							return dst[:start], false, err
						}
						wrote = true
					}
				}
			}
			for _, k := range kids {
				mark := len(dst)
				if wrote {
					dst = append(dst, ',')
				}
				dst = append(dst, k.key...)
				var ok bool
				var err error
				dst, ok, err = k.enc(dst, r)
				if err != nil {
					return dst[:start], false, err
				}
				if !ok {
					dst = dst[:mark]
					continue
				}
				wrote = true
			}
			if !wrote {
				return dst[:start], false, nil
			}
			return append(dst, '}'), true, nil
		}
	}
	if n.Kind == plan.KindList && len(n.Items) > 0 {
		items := make([]jsonEnc, len(n.Items))
		for i, it := range n.Items {
			items[i] = b.jsonEncoder(it)
		}
		return func(dst []byte, r *plan.Record) ([]byte, bool, error) {
			start := len(dst)
			dst = append(dst, '[')
			lastLen := -1 // length of dst after the last present item
			for i, enc := range items {
				if i > 0 {
					dst = append(dst, ',')
				}
				var ok bool
				var err error
				if dst, ok, err = enc(dst, r); err != nil {
					return dst[:start], false, err
				}
				if !ok {
					dst = append(dst, "null"...)
					continue
				}
				lastLen = len(dst)
			}
			if lastLen < 0 {
				return dst[:start], false, nil
			}
			return append(dst[:lastLen], ']'), true, nil
		}
	}
	if !n.Leaf() {
		return func(dst []byte, _ *plan.Record) ([]byte, bool, error) { return dst, false, nil }
	}
	slot := n.Slot
	kind := n.Kind
	if kind == plan.KindList && n.Elem != nil {
		kind = n.Elem.Kind
	}
	return func(dst []byte, r *plan.Record) ([]byte, bool, error) {
		v := &r.Values[slot]
		if v.Absent() {
			return dst, false, nil
		}
		start := len(dst)
		dst, err := appendValueJSON(dst, kind, v)
		if err != nil {
			return dst[:start], false, err
		}
		return dst, true, nil
	}
}

// value returns the appender of one value of shape n (a node of the shape
// of an object or list set as a whole): a plan.Object into a struct column,
// a plan.List into a list column, scalars as scalar does.
func (b *Builder) value(n *plan.Node, col column) func(*plan.Value) {
	switch n.Kind {
	case plan.KindObject:
		sc := col.(*structColumn)
		kids := make([]func(*plan.Value), len(n.Children))
		for i, c := range n.Children {
			kids[i] = b.value(c, sc.fields[i])
		}
		return func(v *plan.Value) {
			if v.Kind != plan.Object || len(v.List) != len(kids) {
				if v.Kind != plan.Null {
					b.mismatched++
				}
				sc.appendNull()
				return
			}
			for i, k := range kids {
				k(&v.List[i])
			}
			sc.appendValid(true)
		}
	case plan.KindList:
		lc := col.(*listColumn)
		var elem func(*plan.Value)
		if n.Elem == nil {
			elem = b.scalar(plan.KindString, lc.elem)
		} else {
			elem = b.value(n.Elem, lc.elem)
		}
		return func(v *plan.Value) {
			b.bytes += 4
			switch v.Kind {
			case plan.List:
				lc.begin()
				for i := range v.List {
					elem(&v.List[i])
				}
				lc.end()
				return
			case plan.Null:
			default:
				b.mismatched++
			}
			lc.appendNull()
		}
	}
	return b.scalar(n.Kind, col)
}

// scalar returns the appender of one scalar value into a column of the given
// kind. Values of a neighbouring kind are converted where that loses nothing
// (an integral Float into a long column, a number into a string column);
// anything else is a null and counted in Mismatched.
func (b *Builder) scalar(kind plan.Kind, col column) func(*plan.Value) {
	switch kind {
	case plan.KindString:
		sb := col.(*stringColumn)
		return func(v *plan.Value) {
			switch v.Kind {
			case plan.String:
				sb.append(v.Str)
				b.bytes += int64(len(v.Str)) + 4
				return
			case plan.Null:
			case plan.Int:
				b.scratch = strconv.AppendInt(b.scratch[:0], v.Int, 10)
				sb.appendBytes(b.scratch)
				b.bytes += int64(len(b.scratch)) + 4
				return
			case plan.Float:
				b.scratch = jsontext.AppendFloat(b.scratch[:0], v.Float)
				sb.appendBytes(b.scratch)
				b.bytes += int64(len(b.scratch)) + 4
				return
			case plan.Bool:
				sb.append(strconv.FormatBool(v.Int != 0))
				b.bytes += 9
				return
			default:
				b.mismatched++
			}
			sb.appendNull()
			b.bytes += 4
		}
	case plan.KindJSON:
		sb := col.(*stringColumn)
		return func(v *plan.Value) {
			if !v.Absent() {
				buf, err := appendValueJSON(b.scratch[:0], plan.KindJSON, v)
				b.scratch = buf
				if err == nil {
					sb.appendBytes(buf)
					b.bytes += int64(len(buf)) + 4
					return
				}
				b.mismatched++
			}
			sb.appendNull()
			b.bytes += 4
		}
	case plan.KindInt:
		ib := col.(*fixedColumn[int32])
		return func(v *plan.Value) {
			b.bytes += 4
			if i, ok := b.integer(v); ok && i >= math.MinInt32 && i <= math.MaxInt32 {
				ib.append(int32(i))
				return
			} else if ok {
				b.mismatched++
			}
			ib.appendNull()
		}
	case plan.KindLong:
		ib := col.(*fixedColumn[int64])
		return func(v *plan.Value) {
			b.bytes += 8
			if i, ok := b.integer(v); ok {
				ib.append(i)
				return
			}
			ib.appendNull()
		}
	case plan.KindDatetime:
		tb := col.(*fixedColumn[int64])
		return func(v *plan.Value) {
			b.bytes += 8
			if i, ok := b.integer(v); ok {
				tb.append(i)
				return
			}
			tb.appendNull()
		}
	case plan.KindFloat:
		fb := col.(*fixedColumn[float64])
		return func(v *plan.Value) {
			b.bytes += 8
			switch v.Kind {
			case plan.Float:
				fb.append(v.Float)
				return
			case plan.Int:
				fb.append(float64(v.Int))
				return
			case plan.Null:
			default:
				b.mismatched++
			}
			fb.appendNull()
		}
	case plan.KindBool:
		bb := col.(*boolColumn)
		return func(v *plan.Value) {
			b.bytes++
			switch v.Kind {
			case plan.Bool, plan.Int:
				bb.append(v.Int != 0)
				return
			case plan.Null:
			default:
				b.mismatched++
			}
			bb.appendNull()
		}
	}
	// Objects and lists as list elements of a whole-list leaf: the plan
	// does not produce them (Value.List holds scalars).
	return func(v *plan.Value) {
		if v.Kind != plan.Null {
			b.mismatched++
		}
		col.appendNull()
	}
}

// integer reads an integer-valued Value; ok is false for null and for kinds
// that do not hold an integer (counted as mismatched).
func (b *Builder) integer(v *plan.Value) (int64, bool) {
	switch v.Kind {
	case plan.Int, plan.Bool:
		return v.Int, true
	case plan.Float:
		if v.Float == math.Trunc(v.Float) && math.Abs(v.Float) < 1<<63 {
			return int64(v.Float), true
		}
	case plan.Null:
		return 0, false
	}
	b.mismatched++
	return 0, false
}

// leafSlots appends the slots of every leaf at or below n.
func leafSlots(n *plan.Node, dst []int) []int {
	if n.Leaf() {
		dst = append(dst, n.Slot)
	}
	for _, c := range n.Children {
		dst = leafSlots(c, dst)
	}
	for _, it := range n.Items {
		dst = leafSlots(it, dst)
	}
	return dst
}

func anySet(r *plan.Record, slots []int) bool {
	for _, s := range slots {
		if !r.Values[s].Absent() {
			return true
		}
	}
	return false
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
