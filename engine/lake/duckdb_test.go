package lake

import (
	"context"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/ocsfmap/ocsfmap/engine/columnar/columnartest"
	"github.com/ocsfmap/ocsfmap/engine/lake/duckdbtest"
)

func duckdb(t *testing.T, queries map[string]string) map[string][]map[string]any {
	return duckdbtest.Query(t, queries)
}

func TestDuckDBInterop(t *testing.T) {
	root, s := columnartest.FindingTree()
	dir := t.TempDir()
	opts := testOptions(dir, s)
	opts.RollBytes = 32 << 10 // several files in the busier partitions
	w, err := New(root, opts)
	if err != nil {
		t.Fatal(err)
	}
	g := columnartest.NewGen(s, 4, 2, 11)
	counts := writeN(t, w, g, 2000)
	if err := w.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	nfiles := len(parquetFiles(t, dir))
	if nfiles <= len(counts) {
		t.Fatalf("%d files for %d partitions: want some partitions with several files", nfiles, len(counts))
	}

	glob := strings.ReplaceAll(filepath.ToSlash(dir), "'", "''") + "/**/*.parquet"
	src := "read_parquet('" + glob + "', hive_partitioning=true, hive_types_autocast=false)"
	res := duckdb(t, map[string]string{
		"total":      "SELECT count(*) AS n FROM " + src,
		"partitions": `SELECT region, "accountId" AS account, "eventDay" AS day, count(*) AS n FROM ` + src + " GROUP BY ALL",
		"describe":   "SELECT column_name, column_type FROM (DESCRIBE SELECT * FROM " + src + ")",
		"nested": "SELECT finding.uid AS uid, resources[1].owner.uid AS owner, resources[1].owner.type_id AS owner_type, " +
			"compliance.requirements[2] AS req2, len(finding.types) AS ntypes, json_extract_string(unmapped, '$.theme') AS theme, " +
			"epoch_ms(time_dt) = time AS same_time FROM " + src + " WHERE finding.uid IN ('alert-1', 'alert-5')  ORDER BY uid",
		"codecs":  "SELECT DISTINCT compression FROM parquet_metadata('" + glob + "')",
		"schemas": "SELECT count(DISTINCT sig) AS n, count(*) AS files FROM (SELECT file_name, string_agg(name || ':' || coalesce(type, '') || ':' || coalesce(logical_type::VARCHAR, '') || ':' || coalesce(repetition_type, ''), ',') AS sig FROM parquet_schema('" + glob + "') GROUP BY file_name)",
		"sorted":  "SELECT count(*) AS bad FROM (SELECT time < lag(time) OVER (PARTITION BY filename ORDER BY file_row_number) AS unsorted FROM read_parquet('" + glob + "', filename=true, file_row_number=true)) WHERE unsorted",
	})

	if got := res["total"][0]["n"]; got != "2000" {
		t.Errorf("count(*) = %v", got)
	}
	if len(res["partitions"]) != len(counts) {
		t.Errorf("%d partitions, want %d", len(res["partitions"]), len(counts))
	}
	for _, r := range res["partitions"] {
		key := "region=" + r["region"].(string) + "/accountId=" + r["account"].(string) + "/eventDay=" + r["day"].(string)
		if strconv.Itoa(counts[key]) != r["n"] {
			t.Errorf("%s: %v rows, want %d", key, r["n"], counts[key])
		}
	}
	types := map[string]string{}
	for _, r := range res["describe"] {
		types[r["column_name"].(string)] = r["column_type"].(string)
	}
	for col, want := range map[string]string{
		"time": "BIGINT", "time_dt": "TIMESTAMP WITH TIME ZONE", "class_uid": "INTEGER", "unmapped": "VARCHAR",
		"region": "VARCHAR", "accountId": "VARCHAR", "eventDay": "VARCHAR",
		"finding":   "STRUCT(title VARCHAR, \"types\" VARCHAR[], uid VARCHAR)",
		"resources": "STRUCT(\"data\" VARCHAR, labels VARCHAR[], \"name\" VARCHAR, \"owner\" STRUCT(type_id INTEGER, uid VARCHAR), uid VARCHAR)[]",
	} {
		if types[col] != want {
			t.Errorf("column %s: %s, want %s", col, types[col], want)
		}
	}
	nested := res["nested"]
	if len(nested) != 2 {
		t.Fatalf("nested: %v", nested)
	}
	// Gen: record 1 has an owner and both requirements; record 5 no owner.
	if r := nested[0]; r["uid"] != "alert-1" || r["owner"] != "owner-1" || r["owner_type"] != float64(1) ||
		r["req2"] != "NIST 800-53 SC-28" || r["ntypes"] != "2" || r["theme"] != "theme-1" || r["same_time"] != true {
		t.Errorf("alert-1: %v", r)
	}
	if r := nested[1]; r["uid"] != "alert-5" || r["owner"] != nil {
		t.Errorf("alert-5: %v", r)
	}
	if len(res["codecs"]) != 1 || res["codecs"][0]["compression"] != "ZSTD" {
		t.Errorf("codecs: %v", res["codecs"])
	}
	if r := res["schemas"][0]; r["n"] != "1" || r["files"] != strconv.Itoa(nfiles) {
		t.Errorf("schemas: %v (want 1 schema over %d files)", r, nfiles)
	}
	if r := res["sorted"][0]; r["bad"] != "0" {
		t.Errorf("rows out of time order: %v", r["bad"])
	}
}
