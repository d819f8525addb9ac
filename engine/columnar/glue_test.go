package columnar

import (
	"testing"

	"github.com/ocsfmap/ocsfmap/engine/columnar/columnartest"
)

func TestGlueDDL(t *testing.T) {
	root, _ := columnartest.FindingTree()
	got := GlueDDL("security_lake.zscaler_dspm", ArrowSchema(root),
		[]string{"region", "accountId", "eventDay"}, "s3://bucket/ext/zscaler/")
	want := "CREATE EXTERNAL TABLE IF NOT EXISTS `security_lake`.`zscaler_dspm` (\n" +
		"  `class_uid` int,\n" +
		"  `cloud` struct<account:struct<uid:string>,provider:string,region:string>,\n" +
		"  `compliance` struct<requirements:array<string>>,\n" +
		"  `finding` struct<title:string,types:array<string>,uid:string>,\n" +
		"  `metadata` struct<product:struct<name:string,vendor_name:string>,profiles:array<string>,version:string>,\n" +
		"  `resources` array<struct<data:string,labels:array<string>,name:string,owner:struct<type_id:int,uid:string>,uid:string>>,\n" +
		"  `severity` string,\n" +
		"  `time` bigint,\n" +
		"  `time_dt` timestamp,\n" +
		"  `unmapped` string\n" +
		")\n" +
		"PARTITIONED BY (`region` string, `accountid` string, `eventday` string)\n" +
		"STORED AS PARQUET\n" +
		"LOCATION 's3://bucket/ext/zscaler/'\n" +
		"TBLPROPERTIES ('classification'='parquet', 'parquet.compression'='ZSTD');\n"
	if got != want {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}
}
