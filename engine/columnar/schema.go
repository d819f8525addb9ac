// Package columnar turns a mapping plan's output tree into Arrow: the schema
// every file of one mapping version carries, and builders that append mapped
// records straight from plan.Record slots into typed column builders.
//
// Only columnar and lake import Arrow.
package columnar

import (
	"fmt"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/ocsfmap/ocsfmap/engine/plan"
)

// TimestampType is the Arrow type of datetime_t values: milliseconds, UTC.
// Parquet stores it as TIMESTAMP(MILLIS, isAdjustedToUTC=true); Athena and
// DuckDB read it as a timestamp with time zone. Never nanoseconds: Athena
// cannot read them.
var TimestampType = &arrow.TimestampType{Unit: arrow.Millisecond, TimeZone: "UTC"}

// ArrowSchema returns the Arrow schema of the records a plan writes. It depends
// on the tree alone, never on data, so every file one mapping version writes
// has the same schema. Field order follows the tree (the plan sorts children
// by name); every field is nullable so a missing value is a null, never a
// missing column.
func ArrowSchema(root *plan.Node) *arrow.Schema {
	fields := make([]arrow.Field, 0, len(root.Children))
	for _, c := range root.Children {
		fields = append(fields, arrowField(c))
	}
	return arrow.NewSchema(fields, nil)
}

func arrowField(n *plan.Node) arrow.Field {
	return arrow.Field{Name: n.Name, Type: arrowType(n), Nullable: true}
}

// arrowType maps one node to its Arrow type.
func arrowType(n *plan.Node) arrow.DataType {
	switch n.Kind {
	case plan.KindString, plan.KindJSON:
		// json_t is a JSON document in a string column: Athena reads it with
		// json_extract, and its shape never changes the schema.
		return arrow.BinaryTypes.String
	case plan.KindInt:
		return arrow.PrimitiveTypes.Int32
	case plan.KindLong:
		// long_t and timestamp_t (ms since the epoch) alike: Security Lake
		// stores timestamp_t as INT64, not as a Parquet timestamp.
		return arrow.PrimitiveTypes.Int64
	case plan.KindFloat:
		return arrow.PrimitiveTypes.Float64
	case plan.KindBool:
		return arrow.FixedWidthTypes.Boolean
	case plan.KindDatetime:
		return TimestampType
	case plan.KindObject:
		if n.Elem != nil {
			// Set as a whole: the struct of its shape, the same type rules
			// setting those attributes one by one would give it.
			return arrowType(n.Elem)
		}
		fields := make([]arrow.Field, 0, len(n.Children))
		for _, c := range n.Children {
			fields = append(fields, arrowField(c))
		}
		return arrow.StructOf(fields...)
	case plan.KindList:
		return arrow.ListOf(elemType(n))
	}
	panic(fmt.Sprintf("columnar: node %q has unknown kind %d", n.Path, n.Kind))
}

// elemType is the element type of a list node. A list without Elem (a
// malformed tree) falls back to strings rather than failing at write time.
func elemType(n *plan.Node) arrow.DataType {
	if n.Elem == nil {
		return arrow.BinaryTypes.String
	}
	return arrowType(n.Elem)
}
