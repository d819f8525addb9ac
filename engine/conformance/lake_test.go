package conformance

import (
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/compress"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
	"github.com/ocsfmap/ocsfmap/engine/ocsf"
)

// writeParquet writes rows (Arrow's JSON form) with a schema and codec.
func writeParquet(t *testing.T, path string, schema *arrow.Schema, rowsJSON string, codec compress.Compression) {
	t.Helper()
	rec, _, err := array.RecordFromJSON(memory.DefaultAllocator, schema, strings.NewReader(rowsJSON))
	if err != nil {
		t.Fatal(err)
	}
	defer rec.Release()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w, err := pqarrow.NewFileWriter(schema, f, parquet.NewWriterProperties(parquet.WithCompression(codec)), pqarrow.DefaultWriterProps())
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Write(rec); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestLakeContract: the file-level and row-order rules of the Security Lake
// contract, on files a writer other than ocsfmap's could produce. The
// records are not OCSF-complete; only the lake rules are looked at.
func TestLakeContract(t *testing.T) {
	dir := t.TempDir()
	good := arrow.NewSchema([]arrow.Field{
		{Name: "class_uid", Type: arrow.PrimitiveTypes.Int32, Nullable: true},
		{Name: "time", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
		{Name: "time_dt", Type: &arrow.TimestampType{Unit: arrow.Millisecond, TimeZone: "UTC"}, Nullable: true},
		{Name: "cloud", Type: arrow.StructOf(
			arrow.Field{Name: "region", Type: arrow.BinaryTypes.String, Nullable: true},
			arrow.Field{Name: "account", Type: arrow.StructOf(arrow.Field{Name: "uid", Type: arrow.BinaryTypes.String, Nullable: true}), Nullable: true},
		), Nullable: true},
	}, nil)
	bad := arrow.NewSchema([]arrow.Field{
		{Name: "class_uid", Type: arrow.PrimitiveTypes.Int32, Nullable: true},
		{Name: "time", Type: &arrow.TimestampType{Unit: arrow.Millisecond, TimeZone: "UTC"}, Nullable: true},
		{Name: "time_dt", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "cloud", Type: good.Field(3).Type, Nullable: true},
	}, nil)
	part := filepath.Join(dir, "ext", "src", "region=us-east-1", "accountId=external_gcp-1", "eventDay=20261101")
	// Rows 2 and 3: out of order, another class, another day, region, account.
	writeParquet(t, filepath.Join(part, "a.parquet"), good, `[
		{"class_uid": 2001, "time": 1793528130000, "time_dt": "2026-11-01T10:15:30Z", "cloud": {"region": "us-east-1", "account": {"uid": "gcp-1"}}},
		{"class_uid": 2006, "time": 1793528120000, "time_dt": "2026-11-01T10:15:20Z", "cloud": {"region": "us-east-1", "account": {"uid": "gcp-1"}}},
		{"class_uid": 2001, "time": 1793628130000, "time_dt": "2026-11-02T14:02:10Z", "cloud": {"region": "us-west-2", "account": {"uid": "gcp-2"}}}
	]`, compress.Codecs.Zstd)
	// No problem: a region with blanks around it (the lake trims them), and
	// records without a region or account (in the writer's default folders).
	writeParquet(t, filepath.Join(part, "c.parquet"), good, `[
		{"class_uid": 2001, "time": 1793528130000, "time_dt": "2026-11-01T10:15:30Z", "cloud": {"region": " us-east-1 ", "account": {"uid": "gcp-1"}}},
		{"class_uid": 2001, "time": 1793528130001, "time_dt": "2026-11-01T10:15:30.001Z", "cloud": {"account": {}}},
		{"class_uid": 2001, "time": 1793528130002, "time_dt": "2026-11-01T10:15:30.002Z"}
	]`, compress.Codecs.Zstd)
	writeParquet(t, filepath.Join(part, "b.parquet"), bad, `[
		{"class_uid": 2001, "time": "2026-11-01T10:15:30Z", "time_dt": "2026-11-01T10:15:30Z", "cloud": {"region": "us-east-1", "account": {"uid": "gcp-1"}}}
	]`, compress.Codecs.Gzip)

	got := map[string][]string{}
	c, err := New(Options{}, func(p Problem) {
		key := filepath.Base(p.File)
		if p.Row > 0 {
			key += "#" + string(rune('0'+p.Row))
		}
		if p.Rule == RuleCompression || p.Rule == RuleTimeType || p.Rule == RuleDatetime || p.Rule == RuleSchemaDrift ||
			p.Rule == RulePartition || p.Rule == RuleSorted || p.Rule == RuleOneClass {
			got[key] = append(got[key], p.Rule+" "+p.Pointer)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Check(dir); err != nil {
		t.Fatal(err)
	}
	want := map[string][]string{
		"a.parquet#2": {"one_class /class_uid", "sorted /time"},
		"a.parquet#3": {"partition /cloud/account/uid", "partition /cloud/region", "partition /time"},
		"b.parquet": {"compression /class_uid", "compression /cloud/account/uid", "compression /cloud/region",
			"compression /time", "compression /time_dt", "datetime_type /time_dt", "schema_drift ", "time_type /time"},
	}
	for k := range got {
		sort.Strings(got[k])
	}
	for k, w := range want {
		if !slices.Equal(got[k], w) {
			t.Errorf("%s: got %q\nwant %q", k, got[k], w)
		}
	}
	for k, g := range got {
		if _, ok := want[k]; !ok {
			t.Errorf("%s: unexpected %q", k, g)
		}
	}
}

func TestPartitionOf(t *testing.T) {
	p, ok := partitionOf("/x/ext/src/region=eu-west-1/accountid=123/eventDay=20261101/f.parquet")
	if !ok || p.source != "/x/ext/src" || p.region != "eu-west-1" || p.account != "123" || p.day != "20261101" {
		t.Errorf("partitionOf = %+v, %v", p, ok)
	}
	if _, ok := partitionOf("/x/region=eu-west-1/f.parquet"); ok {
		t.Error("a path without accountId= and eventDay= is not in a lake")
	}
}

// TestUnknownColumns: columns that are no attribute of the class, nested
// ones included; json_t and open objects have no columns to check.
func TestUnknownColumns(t *testing.T) {
	cat, err := ocsf.Load("1.1.0")
	if err != nil {
		t.Fatal(err)
	}
	cl, _ := cat.Class("security_finding")
	str := func(name string) arrow.Field {
		return arrow.Field{Name: name, Type: arrow.BinaryTypes.String, Nullable: true}
	}
	schema := arrow.NewSchema([]arrow.Field{
		str("message"), str("colour"), str("unmapped"),
		{Name: "cloud", Type: arrow.StructOf(str("region"), str("zone_name")), Nullable: true},
		{Name: "resources", Type: arrow.ListOf(arrow.StructOf(str("uid"), str("clusterName"), str("data"),
			arrow.Field{Name: "owner", Type: arrow.StructOf(str("name"), str("nickname")), Nullable: true})), Nullable: true},
	}, nil)
	var got []string
	for _, p := range unknownColumns("f.parquet", schema, cat, cl) {
		got = append(got, p.Pointer+" "+p.Rule)
	}
	want := []string{"/colour unknown_column", "/cloud/zone_name unknown_column", "/resources/clusterName unknown_column", "/resources/owner/nickname unknown_column"}
	if !slices.Equal(got, want) {
		t.Errorf("got %q\nwant %q", got, want)
	}
}
