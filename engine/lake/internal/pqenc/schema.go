package pqenc

import (
	"bytes"
	"fmt"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
	"github.com/apache/arrow-go/v18/parquet/schema"
)

// FromArrow compiles sc as pqarrow would write it with props and arrProps:
// its Parquet schema, and the key/value metadata (ARROW:schema) of a file
// pqarrow writes, taken from an empty one.
func FromArrow(sc *arrow.Schema, props *parquet.WriterProperties, arrProps pqarrow.ArrowWriterProperties, opts Options) (*Format, error) {
	pq, err := pqarrow.ToParquet(sc, props, arrProps)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	fw, err := pqarrow.NewFileWriter(sc, &buf, props, arrProps)
	if err != nil {
		return nil, err
	}
	if err := fw.Close(); err != nil {
		return nil, err
	}
	rd, err := file.NewParquetReader(bytes.NewReader(buf.Bytes()))
	if err != nil {
		return nil, err
	}
	defer rd.Close()
	kv := rd.MetaData().KeyValueMetadata()
	for i, k := range kv.Keys() {
		opts.Metadata = append(opts.Metadata, [2]string{k, kv.Values()[i]})
	}
	opts.Props = props
	return New(sc, pq, opts)
}

// writeSchema writes FileMetaData's schema field (2): the elements of
// schema.ToThrift (an internal type of arrow-go, used by field here), in
// the subset the lake's schemas use.
func writeSchema(w *thriftWriter, root *schema.GroupNode) error {
	elems := schema.ToThrift(root)
	w.list(2, tStruct, len(elems))
	for _, e := range elems {
		if e.TypeLength != nil || e.Scale != nil || e.Precision != nil {
			return fmt.Errorf("pqenc: schema element %s: fixed length and decimals are not supported", e.Name)
		}
		w.begin(0)
		if e.Type != nil {
			w.i32(1, int32(*e.Type))
		}
		if e.RepetitionType != nil {
			w.i32(3, int32(*e.RepetitionType))
		}
		w.str(4, e.Name)
		if e.NumChildren != nil {
			w.i32(5, *e.NumChildren)
		}
		if e.ConvertedType != nil {
			w.i32(6, int32(*e.ConvertedType))
		}
		if e.FieldID != nil {
			w.i32(9, *e.FieldID)
		}
		if lt := e.LogicalType; lt != nil {
			w.begin(10)
			switch {
			case lt.STRING != nil:
				w.begin(1)
				w.end()
			case lt.LIST != nil:
				w.begin(3)
				w.end()
			case lt.TIMESTAMP != nil:
				w.begin(8)
				w.boolean(1, lt.TIMESTAMP.IsAdjustedToUTC)
				w.begin(2)
				switch u := lt.TIMESTAMP.Unit; {
				case u.MILLIS != nil:
					w.begin(1)
				case u.MICROS != nil:
					w.begin(2)
				default:
					w.begin(3)
				}
				w.end()
				w.end()
				w.end()
			case lt.INTEGER != nil:
				w.begin(10)
				w.field(1, tByte)
				w.b = append(w.b, byte(lt.INTEGER.BitWidth))
				w.boolean(2, lt.INTEGER.IsSigned)
				w.end()
			default:
				return fmt.Errorf("pqenc: schema element %s: logical type %v is not supported", e.Name, lt)
			}
			w.end()
		}
		w.end()
	}
	return nil
}
