package conformance

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
	"github.com/ocsfmap/ocsfmap/engine/ocsf"
)

// batchRows is how many rows are decoded at a time: memory holds one batch
// of one file, whatever the size of the lake.
const batchRows = 1024

// checkParquet reads a Parquet file batch by batch; workers turn each row
// back into the OCSF JSON record it stands for (see rowValue) and check
// it. Under region=/accountId=/eventDay= folders the lake contract is
// checked too.
func (c *Checker) checkParquet(path string, f *os.File) {
	first := &job{files: 1, path: path}
	readErr := func(row int64, msg string) {
		first.pre = append(first.pre, Problem{File: path, Row: row, Rule: RuleRead, Message: msg})
		c.submit(first)
	}
	pf, err := file.NewParquetReader(f)
	if err != nil {
		readErr(0, "not a readable Parquet file: "+err.Error())
		return
	}
	defer pf.Close()
	if part, inLake := partitionOf(path); inLake {
		first.lake, first.pre = c.lakeFile(path, pf, part)
	}
	fr, err := pqarrow.NewFileReader(pf, pqarrow.ArrowReadProperties{BatchSize: batchRows}, memory.DefaultAllocator)
	if err != nil {
		readErr(0, "Parquet schema: "+err.Error())
		return
	}
	rr, err := fr.GetRecordReader(context.Background(), nil, nil)
	if err != nil {
		readErr(0, "Parquet: "+err.Error())
		return
	}
	defer rr.Release()
	cols := &columns{schema: rr.Schema()}
	c.submit(first) // the file's own problems come first
	var row int64
	for rr.Next() {
		rec := rr.RecordBatch()
		rec.Retain()
		c.submit(&job{path: path, lake: first.lake, cols: cols, rec: rec, row0: row})
		row += rec.NumRows()
	}
	if err := rr.Err(); err != nil {
		c.submit(&job{path: path, pre: []Problem{{File: path, Row: row + 1, Rule: RuleRead, Message: "Parquet: " + err.Error()}}})
	}
}

// runParquet checks a job's record batch on a worker.
func (c *Checker) runParquet(j *job) {
	rec := j.rec
	cols := rec.Columns()
	names := make([]string, len(cols))
	for i := range cols {
		names[i] = rec.ColumnName(i)
	}
	n := int(rec.NumRows())
	j.res = make([]result, n)
	for i := 0; i < n; i++ {
		m := make(map[string]any, len(cols))
		for k, col := range cols {
			if v, ok := rowValue(col, i); ok {
				m[names[k]] = v
			}
		}
		l := loc{file: j.path, row: j.row0 + int64(i) + 1}
		probs, facts := c.recordParquet(l, m)
		j.res[i] = result{loc: l, probs: probs, facts: facts}
	}
}

// recordParquet checks a record read from Parquet: the columns a writer
// stores as JSON text (json_t attributes and open objects such as
// unmapped, which have no fixed columns) are parsed back first.
func (c *Checker) recordParquet(l loc, m map[string]any) ([]Problem, recordFacts) {
	if cat, cl := c.classFor(m); cl != nil {
		rehydrate(cat, cl.Attrs, m)
	}
	return c.checkRecord(l, m)
}

// classFor finds the catalog and class a record will be validated as, or
// nil; record reports why when it is nil.
func (c *Checker) classFor(m map[string]any) (*ocsf.Catalog, *ocsf.Class) {
	version := c.opts.Version
	if version == "" {
		meta, _ := m["metadata"].(map[string]any)
		version, _ = meta["version"].(string)
	}
	cat, err := ocsf.Load(version)
	if err != nil {
		return nil, nil
	}
	if c.opts.Class != "" {
		cl, _ := classOf(cat, c.opts.Class)
		return cat, cl
	}
	id, ok := toInt(m["class_uid"])
	if !ok {
		return nil, nil
	}
	cl, _ := cat.ClassByUID(id)
	return cat, cl
}

// rehydrate parses, in place, the strings that hold open objects (such
// as unmapped, an "object" with no fixed attributes, stored as JSON text):
// the schema wants an object there. json_t values stay as they are read:
// the schema takes any value, so parsing them would only cost time.
func rehydrate(cat *ocsf.Catalog, attrs map[string]*ocsf.Attr, m map[string]any) {
	for k, v := range m {
		a := attrs[k]
		if a == nil || a.BaseType != ocsf.ObjectType {
			continue
		}
		o, ok := cat.Object(a.Object)
		if !ok || len(o.Attrs) == 0 {
			m[k] = parseJSONValue(v)
			continue
		}
		switch x := v.(type) {
		case map[string]any:
			rehydrate(cat, o.Attrs, x)
		case []any:
			for _, e := range x {
				if em, ok := e.(map[string]any); ok {
					rehydrate(cat, o.Attrs, em)
				}
			}
		}
	}
}

func parseJSONValue(v any) any {
	switch x := v.(type) {
	case string:
		d := json.NewDecoder(strings.NewReader(x))
		d.UseNumber()
		var out any
		if err := d.Decode(&out); err == nil && !d.More() {
			return out
		}
		return x
	case []any:
		for i, e := range x {
			x[i] = parseJSONValue(e)
		}
	}
	return v
}

// rowValue is row i of a column as a JSON value; false for null. Structs
// become objects without their null fields (and a struct with none set is
// absent, as the writer stores an absent object), integers int64,
// timestamps RFC 3339 with milliseconds in UTC, as OCSF's datetime_t.
func rowValue(arr arrow.Array, i int) (any, bool) {
	if arr.IsNull(i) {
		return nil, false
	}
	switch a := arr.(type) {
	case *array.String:
		return a.Value(i), true
	case *array.LargeString:
		return a.Value(i), true
	case *array.Binary:
		return string(a.Value(i)), true
	case *array.Int64:
		return a.Value(i), true
	case *array.Int32:
		return int64(a.Value(i)), true
	case *array.Int16:
		return int64(a.Value(i)), true
	case *array.Int8:
		return int64(a.Value(i)), true
	case *array.Uint32:
		return int64(a.Value(i)), true
	case *array.Float64:
		return a.Value(i), true
	case *array.Float32:
		return float64(a.Value(i)), true
	case *array.Boolean:
		return a.Value(i), true
	case *array.Timestamp:
		unit := a.DataType().(*arrow.TimestampType).Unit
		t := a.Value(i).ToTime(unit).UTC()
		return t.Format("2006-01-02T15:04:05.000Z"), true
	case *array.Struct:
		st := a.DataType().(*arrow.StructType)
		m := make(map[string]any, st.NumFields())
		for f := 0; f < st.NumFields(); f++ {
			if v, ok := rowValue(a.Field(f), i); ok {
				m[st.Field(f).Name] = v
			}
		}
		if len(m) == 0 {
			return nil, false
		}
		return m, true
	case array.ListLike:
		start, end := a.ValueOffsets(i)
		vals := a.ListValues()
		out := make([]any, 0, end-start)
		for j := start; j < end; j++ {
			v, _ := rowValue(vals, int(j))
			out = append(out, v)
		}
		return out, true
	}
	return fmt.Sprintf("<%s>", arr.DataType()), true
}

// dayOf is the UTC day of a time in milliseconds, as eventDay spells it.
func dayOf(ms int64) string { return time.UnixMilli(ms).UTC().Format("20060102") }

// columns is a Parquet file's schema, checked against the class of its
// first record that has one (on the reporting goroutine).
type columns struct {
	schema  *arrow.Schema
	checked bool
}

// unknownColumns reports columns that are no attribute of the class in
// that version: a row reports such a value only where it is set, but the
// column alone is enough to give Glue a table column OCSF does not have.
// Profiles are not applied: a profile's attribute is OCSF all the same.
func unknownColumns(path string, schema *arrow.Schema, cat *ocsf.Catalog, cl *ocsf.Class) []Problem {
	var out []Problem
	var walk func(ptr string, fields []arrow.Field, attrs map[string]*ocsf.Attr, owner string)
	walk = func(ptr string, fields []arrow.Field, attrs map[string]*ocsf.Attr, owner string) {
		for _, f := range fields {
			a, ok := attrs[f.Name]
			if !ok {
				out = append(out, Problem{File: path, Pointer: ptr + "/" + f.Name, Rule: RuleUnknownColumn,
					Message: fmt.Sprintf("column %s is not an attribute of %s in OCSF %s", strings.TrimPrefix(ptr+"/"+f.Name, "/"), owner, cat.Version)})
				continue
			}
			o, ok := cat.Object(a.Object)
			if a.BaseType != ocsf.ObjectType || !ok || len(o.Attrs) == 0 {
				continue // a value, json_t or an open object: no columns below to check
			}
			t := f.Type
			if l, ok := t.(arrow.ListLikeType); ok {
				t = l.Elem()
			}
			if st, ok := t.(*arrow.StructType); ok {
				walk(ptr+"/"+f.Name, st.Fields(), o.Attrs, a.Object)
			}
		}
	}
	walk("", schema.Fields(), cl.Attrs, cl.Name)
	return out
}
