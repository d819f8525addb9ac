// Package pqenc writes Arrow record batches as Parquet files, for the few
// shapes the lake writes (structs, lists, strings, 32/64-bit integers,
// doubles, booleans, millisecond timestamps), fast enough that a file of a
// few rows costs little more than its rows.
//
// Why not pqarrow's FileWriter: it sets up each file from scratch (schema
// conversion, a column writer with its encoders, statistics objects, page
// writer and metadata builders per column) and serializes the footer
// through generic Thrift, ~1.5-2 ms per file of ~50 columns whatever its
// rows. Thirty days of alerts make 12,000 small files, and that set-up was
// half the run. Here everything that depends on the schema alone is made
// once per writer (schema elements, level layout, the footer's fixed
// parts); a file is its pages and a few hundred bytes of footer.
//
// The Parquet schema is pqarrow's own (ToParquet with the caller's
// properties), and so is the ARROW:schema metadata, so files read back to
// the same Arrow schema as pqarrow's would. Output: data page v1, PLAIN
// values or (Options.Dictionary, strings, decided per column chunk: see
// dict.go) a PLAIN dictionary page and RLE_DICTIONARY indices,
// RLE/bit-packed levels, zstd, chunk statistics (a min or max over
// maxStatBytes left out, as pqarrow does at its default), TYPE_ORDER
// column orders.
package pqenc

import (
	"fmt"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/schema"
	"github.com/klauspost/compress/zstd"
)

// maxStatBytes leaves out a min or max statistic longer than this
// (pqarrow's default): long descriptions would otherwise bloat footers.
const maxStatBytes = 4096

type nodeKind uint8

const (
	leafNode nodeKind = iota
	structNode
	listNode
)

// node is one Arrow field on the way to its leaves: how it adds to the
// definition and repetition levels.
type node struct {
	kind     nodeKind
	optional bool    // adds a definition level when present
	children []*node // struct fields
	elem     *node   // list element
	elemRep  int16   // repetition level of a list's elements after the first
	leaf     *leaf   // leaf column
	leaves   []*leaf // every leaf at or below this node
}

// Format is the compiled Parquet form of one Arrow schema. Its Write is not
// safe for concurrent use (it reuses its buffers): each goroutine writing
// files takes a Clone.
type Format struct {
	arrow    *arrow.Schema
	pq       *schema.Schema
	opts     Options
	fields   []*node
	leaves   []*leaf
	head     []byte // footer: FileMetaData fields 1-2 (version, schema)
	tail     []byte // footer: fields 5-7 (key/value metadata, created_by, column orders) and the stop
	enc      *zstd.Encoder
	pageSize int
	// Scratch reused from page to page and file to file.
	footer                thriftWriter
	pageBuf, zbuf, hdrBuf []byte
	dictBuf               []byte
	statBuf               [8]byte // a numeric min or max
}

// Options of a Format.
type Options struct {
	// Props gives created_by (default "ocsfmap"); FromArrow also converts
	// the schema with it.
	Props *parquet.WriterProperties
	// Metadata is written as the file's key/value metadata (ARROW:schema).
	Metadata [][2]string
	// PageSize cuts data pages once their uncompressed values reach it.
	PageSize int
	// ZstdLevel is the zstd encoder level.
	ZstdLevel zstd.EncoderLevel
	// Dictionary encodes string columns with a dictionary where a chunk's
	// values repeat (dict.go); otherwise every value is PLAIN.
	Dictionary bool
	// StoreBelow stores a page shorter than this many bytes (at most 256)
	// in a zstd frame of one raw block instead of compressing it: still
	// zstd to every reader, without the encoder's fixed cost per page,
	// which small partitions' many tiny pages (a few values, or only
	// levels) pay over and over. Re-encoding 30 days of 200,000 alerts
	// (12,120 files): 64 took 27 % off the encoder's CPU for 0.5 % more
	// bytes; 128, 32 % for 3 %; one day's 404 files: 13 % for 0.0 %.
	StoreBelow int
}

// New compiles the Parquet form of sc (pq, as pqarrow.ToParquet made it).
func New(sc *arrow.Schema, pq *schema.Schema, opts Options) (*Format, error) {
	f := &Format{arrow: sc, pq: pq, opts: opts, pageSize: opts.PageSize}
	if f.pageSize <= 0 {
		f.pageSize = 1 << 20
	}
	root := pq.Root()
	if root.NumFields() != sc.NumFields() {
		return nil, fmt.Errorf("pqenc: %d Parquet fields for %d Arrow fields", root.NumFields(), sc.NumFields())
	}
	for i, fld := range sc.Fields() {
		n, err := f.compile(fld.Type, root.Field(i), 0)
		if err != nil {
			return nil, fmt.Errorf("pqenc: field %s: %w", fld.Name, err)
		}
		f.fields = append(f.fields, n)
	}
	if len(f.leaves) != pq.NumColumns() {
		return nil, fmt.Errorf("pqenc: %d leaves for %d columns", len(f.leaves), pq.NumColumns())
	}
	for i, l := range f.leaves {
		c := pq.Column(i)
		l.path = c.ColumnPath()
		l.maxDef, l.maxRep = c.MaxDefinitionLevel(), c.MaxRepetitionLevel()
		l.physical = c.PhysicalType()
		// Statistics compare numbers signed and strings as unsigned bytes
		// (false < true either way): the orders of the types compile
		// accepts.
		want := schema.SortSIGNED
		if l.physical == parquet.Types.ByteArray {
			want = schema.SortUNSIGNED
		}
		if c.SortOrder() != want && l.physical != parquet.Types.Boolean {
			return nil, fmt.Errorf("pqenc: column %s: sort order %v is not supported", c.Path(), c.SortOrder())
		}
	}

	var w thriftWriter
	w.i32(1, 2) // version
	if err := writeSchema(&w, root); err != nil {
		return nil, err
	}
	f.head = w.b

	w = thriftWriter{last: 4}
	if len(opts.Metadata) > 0 {
		w.list(5, tStruct, len(opts.Metadata))
		for _, kv := range opts.Metadata {
			w.begin(0)
			w.str(1, kv[0])
			w.str(2, kv[1])
			w.end()
		}
	}
	createdBy := "ocsfmap"
	if opts.Props != nil {
		createdBy = opts.Props.CreatedBy()
	}
	w.str(6, createdBy)
	w.list(7, tStruct, len(f.leaves))
	for range f.leaves {
		w.begin(0)
		w.begin(1) // TYPE_ORDER
		w.end()
		w.end()
	}
	w.b = append(w.b, 0)
	f.tail = w.b

	level := opts.ZstdLevel
	if level == 0 {
		level = zstd.SpeedFastest
	}
	var err error
	f.enc, err = zstd.NewWriter(nil, zstd.WithEncoderLevel(level), zstd.WithEncoderConcurrency(1), zstd.WithZeroFrames(true),
		zstd.WithEncoderCRC(false)) // Parquet pages need no frame checksum
	if err != nil {
		return nil, err
	}
	return f, nil
}

// Clone returns a Format for the same schema with buffers of its own, for
// another goroutine.
func (f *Format) Clone() (*Format, error) { return New(f.arrow, f.pq, f.opts) }

// compile builds the node of an Arrow type and its Parquet node.
func (f *Format) compile(dt arrow.DataType, pn schema.Node, rep int16) (*node, error) {
	n := &node{optional: pn.RepetitionType() == parquet.Repetitions.Optional}
	if pn.RepetitionType() == parquet.Repetitions.Repeated {
		return nil, fmt.Errorf("unexpected repeated node %s", pn.Name())
	}
	first := len(f.leaves)
	switch t := dt.(type) {
	case *arrow.StructType:
		g, ok := pn.(*schema.GroupNode)
		if !ok || g.NumFields() != t.NumFields() {
			return nil, fmt.Errorf("struct %s does not match its Parquet group", pn.Name())
		}
		n.kind = structNode
		for i, c := range t.Fields() {
			cn, err := f.compile(c.Type, g.Field(i), rep)
			if err != nil {
				return nil, err
			}
			n.children = append(n.children, cn)
		}
	case *arrow.ListType:
		// optional group <name> (LIST) { repeated group list { <element> } }
		g, ok := pn.(*schema.GroupNode)
		if !ok || g.NumFields() != 1 {
			return nil, fmt.Errorf("list %s does not match its Parquet group", pn.Name())
		}
		inner, ok := g.Field(0).(*schema.GroupNode)
		if !ok || inner.RepetitionType() != parquet.Repetitions.Repeated || inner.NumFields() != 1 {
			return nil, fmt.Errorf("list %s is not a three-level list", pn.Name())
		}
		n.kind = listNode
		n.elemRep = rep + 1
		elem, err := f.compile(t.Elem(), inner.Field(0), rep+1)
		if err != nil {
			return nil, err
		}
		n.elem = elem
	case *arrow.StringType, *arrow.Int32Type, *arrow.Int64Type, *arrow.Float64Type, *arrow.BooleanType, *arrow.TimestampType:
		if _, ok := pn.(*schema.PrimitiveNode); !ok {
			return nil, fmt.Errorf("%s is not a Parquet primitive", pn.Name())
		}
		n.kind = leafNode
		n.leaf = &leaf{arrowType: dt.ID(), pageSize: f.pageSize}
		n.leaf.dict.ok = f.opts.Dictionary && dt.ID() == arrow.STRING
		f.leaves = append(f.leaves, n.leaf)
	default:
		return nil, fmt.Errorf("unsupported Arrow type %s", dt)
	}
	n.leaves = f.leaves[first:len(f.leaves):len(f.leaves)]
	return n, nil
}
