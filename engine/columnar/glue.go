package columnar

import (
	"fmt"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
)

// GlueDDL returns the Athena / Glue CREATE EXTERNAL TABLE statement for
// Parquet files of the given schema, laid out in Hive partitions (each
// partition key a string column, in path order). Column names are quoted
// with backticks at the top level (time, type and friends are reserved
// words); struct field names cannot be quoted in Hive DDL and need not be.
func GlueDDL(table string, schema *arrow.Schema, partitionKeys []string, location string) string {
	var sb strings.Builder
	fmt.Fprintf(&sb, "CREATE EXTERNAL TABLE IF NOT EXISTS %s (\n", quoteTable(table))
	for i, f := range schema.Fields() {
		sep := ","
		if i == len(schema.Fields())-1 {
			sep = ""
		}
		fmt.Fprintf(&sb, "  %s %s%s\n", quoteIdent(f.Name), hiveType(f.Type), sep)
	}
	sb.WriteString(")\n")
	if len(partitionKeys) > 0 {
		sb.WriteString("PARTITIONED BY (")
		for i, k := range partitionKeys {
			if i > 0 {
				sb.WriteString(", ")
			}
			fmt.Fprintf(&sb, "%s string", quoteIdent(strings.ToLower(k)))
		}
		sb.WriteString(")\n")
	}
	sb.WriteString("STORED AS PARQUET\n")
	if location != "" {
		fmt.Fprintf(&sb, "LOCATION '%s'\n", strings.ReplaceAll(location, "'", "''"))
	}
	sb.WriteString("TBLPROPERTIES ('classification'='parquet', 'parquet.compression'='ZSTD');\n")
	return sb.String()
}

// hiveType is the Glue / Hive type of an Arrow type written by this package.
func hiveType(t arrow.DataType) string {
	switch t := t.(type) {
	case *arrow.StringType:
		return "string"
	case *arrow.Int32Type:
		return "int"
	case *arrow.Int64Type:
		return "bigint"
	case *arrow.Float64Type:
		return "double"
	case *arrow.BooleanType:
		return "boolean"
	case *arrow.TimestampType:
		return "timestamp"
	case *arrow.ListType:
		return "array<" + hiveType(t.Elem()) + ">"
	case *arrow.StructType:
		var sb strings.Builder
		sb.WriteString("struct<")
		for i, f := range t.Fields() {
			if i > 0 {
				sb.WriteByte(',')
			}
			sb.WriteString(f.Name)
			sb.WriteByte(':')
			sb.WriteString(hiveType(f.Type))
		}
		sb.WriteByte('>')
		return sb.String()
	}
	// Not produced by ArrowSchema; Glue reads unknown scalars as strings.
	return "string"
}

func quoteIdent(s string) string { return "`" + strings.ReplaceAll(s, "`", "``") + "`" }

// quoteTable quotes each part of db.table.
func quoteTable(s string) string {
	parts := strings.Split(s, ".")
	for i, p := range parts {
		parts[i] = quoteIdent(p)
	}
	return strings.Join(parts, ".")
}
