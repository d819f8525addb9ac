package parity

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"

	"github.com/ocsfmap/ocsfmap/engine/ocsf"
	"github.com/ocsfmap/ocsfmap/engine/plan"
)

// lakeRecord is one row of the lake as a reader returns it, turned back
// into the OCSF record it stands for.
type lakeRecord struct {
	where string // file#row, from 1
	doc   any    // normalized (see normalize)
}

// parquetFiles lists the lake's data files, sorted.
func parquetFiles(t testing.TB, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if os.IsNotExist(err) && path == dir {
			return filepath.SkipDir // run wrote nothing
		}
		if err == nil && !d.IsDir() && strings.HasSuffix(path, ".parquet") {
			out = append(out, path)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(out)
	return out
}

// classLake is the part of a lake one class's files make up: a routed
// mapping's lake has a folder per class (ext/<vendor>/<class>/), a
// single-class mapping's one.
type classLake struct {
	p     *plan.Plan
	dir   string // the class's folder
	files []string
}

func (r *lakeRun) classLakes() []classLake {
	dest := r.m.LocalLake(r.lakeDir, "")
	out := make([]classLake, len(r.m.Plans))
	for i, p := range r.m.Plans {
		dir := filepath.Join(r.lakeDir, filepath.FromSlash(strings.TrimSuffix(dest.KeyPrefix(p.Class.Name), "/")))
		out[i] = classLake{p: p, dir: dir}
		for _, f := range r.files {
			if strings.HasPrefix(f, dir+string(filepath.Separator)) {
				out[i].files = append(out[i].files, f)
			}
		}
	}
	return out
}

// readPqarrow reads the lake with pqarrow, each class's files as its plan
// lays them out.
func (r *lakeRun) readPqarrow(t testing.TB) []lakeRecord {
	t.Helper()
	var out []lakeRecord
	for _, cl := range r.classLakes() {
		out = append(out, readPqarrow(t, cl.p, r.lakeDir, cl.files)...)
	}
	return out
}

// classOf is the index of the mapping's class a record says it is of.
func (r *lakeRun) classOf(doc any) int {
	m, _ := doc.(map[string]any)
	for i, p := range r.m.Plans {
		if fmt.Sprint(m["class_uid"]) == fmt.Sprint(p.Class.UID) {
			return i
		}
	}
	return 0
}

// readPqarrow reads every row of the files with arrow-go's pqarrow, the
// reader the engine's own tools use. Each row becomes the JSON record it
// stands for: a struct is an object (its null fields dropped later), a list
// an array whose null elements stay, a timestamp an RFC 3339 string with
// milliseconds in UTC, as the mapper writes datetime_t; strings that OCSF
// says hold JSON (json_t, open objects) are parsed.
func readPqarrow(t testing.TB, p *plan.Plan, dir string, files []string) []lakeRecord {
	t.Helper()
	var out []lakeRecord
	for _, path := range files {
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		pf, err := file.NewParquetReader(f)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		fr, err := pqarrow.NewFileReader(pf, pqarrow.ArrowReadProperties{BatchSize: 1024}, memory.DefaultAllocator)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		rr, err := fr.GetRecordReader(context.Background(), nil, nil)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		row := 0
		for rr.Next() {
			rec := rr.RecordBatch()
			for i := range int(rec.NumRows()) {
				m := make(map[string]any, rec.NumCols())
				for c, col := range rec.Columns() {
					v, err := arrowValue(col, i)
					if err != nil {
						t.Fatalf("%s#%d: column %s: %v", path, row+1, rec.ColumnName(c), err)
					}
					m[rec.ColumnName(c)] = v
				}
				row++
				rehydrate(p.Catalog(), p.Class.Attrs, m)
				out = append(out, lakeRecord{where: fmt.Sprintf("%s#%d", rel(dir, path), row), doc: normalize(m)})
			}
		}
		if err := rr.Err(); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		rr.Release()
		pf.Close()
	}
	return out
}

// arrowValue is row i of a column as a JSON value, nil for null.
func arrowValue(arr arrow.Array, i int) (any, error) {
	if arr.IsNull(i) {
		return nil, nil
	}
	switch a := arr.(type) {
	case *array.String:
		return a.Value(i), nil
	case *array.LargeString:
		return a.Value(i), nil
	case *array.Int64:
		return a.Value(i), nil
	case *array.Int32:
		return int64(a.Value(i)), nil
	case *array.Float64:
		return a.Value(i), nil
	case *array.Boolean:
		return a.Value(i), nil
	case *array.Timestamp:
		unit := a.DataType().(*arrow.TimestampType).Unit
		return a.Value(i).ToTime(unit).UTC().Format(datetimeLayout), nil
	case *array.Struct:
		st := a.DataType().(*arrow.StructType)
		m := make(map[string]any, st.NumFields())
		for f := range st.NumFields() {
			v, err := arrowValue(a.Field(f), i)
			if err != nil {
				return nil, err
			}
			m[st.Field(f).Name] = v
		}
		return m, nil
	case array.ListLike:
		start, end := a.ValueOffsets(i)
		out := make([]any, 0, end-start)
		for j := start; j < end; j++ {
			v, err := arrowValue(a.ListValues(), int(j))
			if err != nil {
				return nil, err
			}
			out = append(out, v)
		}
		return out, nil
	}
	return nil, fmt.Errorf("no JSON form for Arrow type %s", arr.DataType())
}

// datetimeLayout is how the mapper writes datetime_t.
const datetimeLayout = "2006-01-02T15:04:05.000Z07:00"

// duckDBQuery reads every row of a lake with DuckDB, as users query one,
// each row as DuckDB's to_json renders it, with the file and row it is in.
func duckDBQuery(dir string) string {
	glob := strings.ReplaceAll(filepath.ToSlash(dir), "'", "''") + "/**/*.parquet"
	return "SELECT to_json(t)::VARCHAR AS doc FROM read_parquet('" + glob +
		"', hive_partitioning=false, filename=true, file_row_number=true) t ORDER BY filename, file_row_number"
}

// duckDBRecords turns the rows of duckDBQuery back into records. DuckDB
// writes a timestamp with time zone its own way: the files' Arrow schema
// (read with pqarrow; a mapping writes one schema) says where they are, and
// they are rewritten as the mapper writes datetime_t.
func duckDBRecords(t testing.TB, p *plan.Plan, dir string, files []string, rows []map[string]any) []lakeRecord {
	t.Helper()
	if len(files) == 0 {
		return nil
	}
	schema := fileSchema(t, files[0])
	var out []lakeRecord
	for _, r := range rows {
		s, ok := r["doc"].(string)
		if !ok {
			t.Fatalf("DuckDB: to_json gave %T, not a string", r["doc"])
		}
		d := json.NewDecoder(strings.NewReader(s))
		d.UseNumber()
		var m map[string]any
		if err := d.Decode(&m); err != nil {
			t.Fatalf("DuckDB: to_json gave invalid JSON: %v\n%s", err, clip(s))
		}
		// The two virtual columns say where the row is; no OCSF class has
		// an attribute of either name.
		name, _ := m["filename"].(string)
		row, _ := m["file_row_number"].(json.Number)
		delete(m, "filename")
		delete(m, "file_row_number")
		n, _ := row.Int64()
		where := fmt.Sprintf("%s#%d", rel(dir, name), n+1)
		for _, f := range schema.Fields() {
			if v, ok := m[f.Name]; ok {
				m[f.Name] = duckTimestamps(f.Type, v)
			}
		}
		rehydrate(p.Catalog(), p.Class.Attrs, m)
		out = append(out, lakeRecord{where: where, doc: normalize(m)})
	}
	return out
}

func fileSchema(t testing.TB, path string) *arrow.Schema {
	t.Helper()
	pf, err := file.OpenParquetFile(path, false)
	if err != nil {
		t.Fatal(err)
	}
	defer pf.Close()
	fr, err := pqarrow.NewFileReader(pf, pqarrow.ArrowReadProperties{}, memory.DefaultAllocator)
	if err != nil {
		t.Fatal(err)
	}
	s, err := fr.Schema()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// duckTimestamps rewrites the timestamps DuckDB renders ("2026-11-01
// 20:00:29.174+00") under an Arrow type as the mapper writes them.
func duckTimestamps(dt arrow.DataType, v any) any {
	switch typ := dt.(type) {
	case *arrow.TimestampType:
		s, ok := v.(string)
		if !ok {
			return v
		}
		for _, layout := range []string{"2006-01-02 15:04:05.999999999-07", "2006-01-02 15:04:05.999999999-07:00", time.RFC3339Nano} {
			if ts, err := time.Parse(layout, s); err == nil {
				return ts.UTC().Format(datetimeLayout)
			}
		}
		return v
	case *arrow.StructType:
		if m, ok := v.(map[string]any); ok {
			for _, f := range typ.Fields() {
				if fv, ok := m[f.Name]; ok {
					m[f.Name] = duckTimestamps(f.Type, fv)
				}
			}
		}
	case arrow.ListLikeType:
		if l, ok := v.([]any); ok {
			for i := range l {
				l[i] = duckTimestamps(typ.Elem(), l[i])
			}
		}
	}
	return v
}

// rehydrate parses, in place, the strings that OCSF says hold JSON: json_t
// attributes and open objects (unmapped), which the lake stores as JSON
// text. Where OCSF has an object with attributes, it goes down into it; it
// never parses a string OCSF types as a string or an object with
// attributes, so an object written as text stays text and fails the
// comparison.
func rehydrate(cat *ocsf.Catalog, attrs map[string]*ocsf.Attr, m map[string]any) {
	for k, v := range m {
		a := attrs[k]
		if a == nil {
			continue
		}
		obj, isObj := cat.Object(a.Object)
		switch {
		case a.BaseType == ocsf.JSONType, a.BaseType == ocsf.ObjectType && (!isObj || len(obj.Attrs) == 0):
			if a.IsArray {
				if l, ok := v.([]any); ok {
					for i := range l {
						l[i] = parseJSONText(l[i])
					}
					continue
				}
			}
			m[k] = parseJSONText(v)
		case a.BaseType == ocsf.ObjectType:
			switch x := v.(type) {
			case map[string]any:
				rehydrate(cat, obj.Attrs, x)
			case []any:
				for _, e := range x {
					if em, ok := e.(map[string]any); ok {
						rehydrate(cat, obj.Attrs, em)
					}
				}
			}
		}
	}
}

func parseJSONText(v any) any {
	s, ok := v.(string)
	if !ok {
		return v
	}
	d := json.NewDecoder(strings.NewReader(s))
	d.UseNumber()
	var out any
	if err := d.Decode(&out); err != nil || d.More() {
		return v
	}
	return out
}

// normalize is a record as the law compares it: no null member in any
// object (null list elements stay: a hole is a difference), every number
// an int64 when it is a whole number that fits one, a float64 otherwise.
func normalize(v any) any {
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			if e != nil {
				out[k] = normalize(e)
			}
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = normalize(e)
		}
		return out
	case json.Number:
		if i, err := x.Int64(); err == nil {
			return i
		}
		f, err := x.Float64()
		if err != nil {
			return string(x) // out of float64's range: compared as text
		}
		return normalize(f)
	case float64:
		if x == math.Trunc(x) && math.Abs(x) < 1<<63 {
			return int64(x)
		}
		return x
	case int32:
		return int64(x)
	case int:
		return int64(x)
	}
	return v
}

// decodeRecord parses one line of `map` output, normalized.
func decodeRecord(line []byte) (any, error) {
	d := json.NewDecoder(bytes.NewReader(line))
	d.UseNumber()
	var m map[string]any
	if err := d.Decode(&m); err != nil {
		return nil, err
	}
	return normalize(m), nil
}

// key is a normalized record's identity for matching: its JSON, whose
// object keys encoding/json sorts.
func key(doc any) string {
	b, err := json.Marshal(doc)
	if err != nil {
		return fmt.Sprintf("unencodable %v: %#v", err, doc)
	}
	return string(b)
}

// difference is one attribute where two normalized records differ.
type difference struct {
	path string // JSON pointer
	what string // "lake absent", "map absent" or "differs"
	text string // for people, with both values
}

// diff lists the attributes where two normalized records differ, at most
// max of them.
func diff(want, got any, path string, max int, out []difference) []difference {
	if len(out) >= max {
		return out
	}
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			break
		}
		names := map[string]bool{}
		for k := range w {
			names[k] = true
		}
		for k := range g {
			names[k] = true
		}
		sorted := make([]string, 0, len(names))
		for k := range names {
			sorted = append(sorted, k)
		}
		sort.Strings(sorted)
		for _, k := range sorted {
			wv, inW := w[k]
			gv, inG := g[k]
			p := path + "/" + k
			switch {
			case !inG:
				out = append(out, difference{p, "lake absent", fmt.Sprintf("%s: map %s, lake absent", p, clip(key(wv)))})
			case !inW:
				out = append(out, difference{p, "map absent", fmt.Sprintf("%s: map absent, lake %s", p, clip(key(gv)))})
			default:
				out = diff(wv, gv, p, max, out)
			}
			if len(out) >= max {
				return out
			}
		}
		return out
	case []any:
		g, ok := got.([]any)
		if !ok || len(g) != len(w) {
			break
		}
		for i := range w {
			out = diff(w[i], g[i], fmt.Sprintf("%s/%d", path, i), max, out)
		}
		return out
	}
	if key(want) != key(got) {
		p := or(path, "/")
		out = append(out, difference{p, "differs", fmt.Sprintf("%s: map %s, lake %s", p, clip(key(want)), clip(key(got)))})
	}
	return out
}

// timeOf is a record's time, as text.
func timeOf(doc any) string {
	if m, ok := doc.(map[string]any); ok {
		return key(m["time"])
	}
	return ""
}

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func clip(s string) string {
	if len(s) > 160 {
		return s[:160] + "…"
	}
	return s
}

func rel(dir, path string) string {
	if r, err := filepath.Rel(dir, path); err == nil {
		return r
	}
	return path
}
