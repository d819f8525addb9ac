package source

import (
	"bytes"
	"encoding/json"
	"io"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// cpuTime returns the CPU time the process has used (user + system, all
// threads, so GC work counts). The machine is shared: wall-clock ns/op rises
// with other load, CPU time per record much less.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// reportCPU adds cpu-ns/record and the records/s one core sustains at that cost.
func reportCPU(b *testing.B, start time.Duration, records int) float64 {
	ns := float64(cpuTime()-start) / float64(records)
	b.ReportMetric(ns, "cpu-ns/record")
	b.ReportMetric(1e9/ns, "records/cpu-s")
	return ns
}

// dspmFields are the alert fields the DSPM mappings read (the vendor table's
// "DSPM Cloud Alert Field" column, plus region), one dotted path for a nested one.
var dspmFields = []string{
	"csp_event_timestamp", "alert_status", "alert_status_description", "alert_description", "risk",
	"alert_id", "policy_name", "alert_created_dt", "alert_updated_dt", "policy_type",
	"policy_threat_category", "policy_theme", "age", "account_name", "organisation_name",
	"csp", "resource_id", "account_id", "organisation_id", "resource_name",
	"resource_type", "tags", "cluster_name", "cluster_type", "namespace",
	"associated_cloud", "identity_id", "identity_type", "identity_source", "identity_name",
	"identity_power_category", "compliance_benchmark", "compliance_control_number", "region",
	"data_classification.sensitivity",
}

// sampleAlert returns a realistic ~1.4 KB DSPM alert: the vendor table's
// fields with typical values, plus fields no mapping reads.
func sampleAlert() []byte {
	return sampleAlertN(0)
}

// sampleAlertN varies the identifiers so records differ like a real stream's.
func sampleAlertN(n int) []byte {
	id := strconv.Itoa(100000 + n)
	return []byte(`{"alert_id":"dspm-alert-` + id + `","alert_status":"Open","alert_status_description":"Alert opened by policy evaluation",` +
		`"alert_description":"Sensitive data (PII: email addresses, \"national IDs\") found in a public S3 bucket.\nReview its policy.",` +
		`"risk":"High","policy_name":"Public bucket with sensitive data","policy_type":"Data Exposure","policy_threat_category":"Data Leakage",` +
		`"policy_theme":"Exposure","age":` + strconv.Itoa(n%90) + `,"csp_event_timestamp":"2024-06-10T08:15:30.123Z","alert_created_dt":1717999999000,` +
		`"alert_updated_dt":"2024-06-10T08:20:00Z","account_name":"prod-data","organisation_name":"Example Corp","csp":"AWS",` +
		`"resource_id":"arn:aws:s3:::example-prod-customer-exports-` + id + `","account_id":"123456789012","organisation_id":"o-a1b2c3d4e5",` +
		`"resource_name":"example-prod-customer-exports","resource_type":"S3 Bucket","region":"us-east-1",` +
		`"tags":["env:prod","owner:data-platform","cost-center:4711","classification:confidential"],` +
		`"cluster_name":null,"cluster_type":"","namespace":"","associated_cloud":"AWS",` +
		`"identity_id":"AROAEXAMPLEID` + id + `","identity_type":"IAM Role","identity_source":"aws-iam",` +
		`"identity_name":"data-export-role@example.com","identity_power_category":"Admin",` +
		`"compliance_benchmark":"CIS AWS Foundations 2.0","compliance_control_number":"2.1.5",` +
		`"data_classification":{"sensitivity":"Restricted","classes":["PII","Email","National ID"],"records":18234},` +
		`"scan_id":"c0ffee00-1234-4abc-9def-00000000` + id[:4] + `",` +
		`"first_seen":1717990000,"object_count":48213,"exposed":true,"score":87.5}`)
}

func TestSampleAlert(t *testing.T) {
	a := sampleAlert()
	t.Logf("sample alert: %d bytes, %d fields extracted", len(a), len(dspmFields))
	if n := len(a); n < 1300 || n > 1600 {
		t.Errorf("sample alert is %d bytes, want about 1.4 KB", n)
	}
	var ref map[string]any
	if err := json.Unmarshal(a, &ref); err != nil {
		t.Fatal(err)
	}
	e := NewExtractor(dspmFields)
	dst := make([]any, len(dspmFields))
	if err := e.Extract(a, dst); err != nil {
		t.Fatal(err)
	}
	compareFields(t, "sample", dspmFields, dst, ref, a)
}

// BenchmarkExtract compares Extract of the ~35 mapped fields with decoding the
// whole alert into map[string]any with encoding/json; run with GOMAXPROCS=1
// (-cpu 1) for the per-core figure. ratio = encoding/json ns / Extract ns.
func BenchmarkExtract(b *testing.B) {
	recs := make([][]byte, 64)
	for i := range recs {
		recs[i] = sampleAlertN(i)
	}
	var extractNs float64
	b.Run("extract", func(b *testing.B) {
		e := NewExtractor(dspmFields)
		dst := make([]any, len(dspmFields))
		b.SetBytes(int64(len(recs[0])))
		b.ReportAllocs()
		start := cpuTime()
		for i := 0; b.Loop(); i++ {
			if err := e.Extract(recs[i%len(recs)], dst); err != nil {
				b.Fatal(err)
			}
		}
		extractNs = reportCPU(b, start, b.N)
	})
	b.Run("encoding_json", func(b *testing.B) {
		b.SetBytes(int64(len(recs[0])))
		b.ReportAllocs()
		start := cpuTime()
		for i := 0; b.Loop(); i++ {
			var m map[string]any
			if err := json.Unmarshal(recs[i%len(recs)], &m); err != nil {
				b.Fatal(err)
			}
		}
		jsonNs := reportCPU(b, start, b.N)
		if extractNs > 0 {
			b.ReportMetric(jsonNs/extractNs, "x-extract-cost") // how many Extracts one Unmarshal costs
		}
	})
}

// BenchmarkExtractDeferred is the alert rules' side of one scan per alert:
// the rule's field (risk) decoded, the mapping's ~35 deferred. "rule" scans
// for risk alone (what a filter of its own did), "deferred" adds noting the
// mapping's fields (what an alert the rules leave out costs), "deferred+rest"
// decodes them too (an exported alert), "all" decodes every field at once.
func BenchmarkExtractDeferred(b *testing.B) {
	recs := make([][]byte, 64)
	for i := range recs {
		recs[i] = sampleAlertN(i)
	}
	fields := append(append([]string(nil), dspmFields...), "risk")
	for _, tc := range []struct {
		name   string
		fields []string
		defer_ int
		rest   bool
	}{
		{"rule", []string{"risk"}, 0, false},
		{"deferred", fields, len(dspmFields), false},
		{"deferred+rest", fields, len(dspmFields), true},
		{"all", fields, 0, false},
	} {
		b.Run(tc.name, func(b *testing.B) {
			e := NewExtractor(tc.fields)
			e.Defer(tc.defer_)
			dst := make([]any, len(tc.fields))
			b.ReportAllocs()
			start := cpuTime()
			for i := 0; b.Loop(); i++ {
				if err := e.Extract(recs[i%len(recs)], dst); err != nil {
					b.Fatal(err)
				}
				if tc.rest {
					if err := e.ExtractDeferred(dst); err != nil {
						b.Fatal(err)
					}
				}
			}
			reportCPU(b, start, b.N)
		})
	}
}

// BenchmarkReaderNDJSON measures splitting an in-memory NDJSON stream.
func BenchmarkReaderNDJSON(b *testing.B) {
	benchmarkReader(b, func(buf *bytes.Buffer, rec []byte) { buf.Write(rec); buf.WriteByte('\n') }, "", "")
}

// BenchmarkReaderArray measures splitting a pretty JSON array, which tracks
// strings and brackets instead of looking for newlines.
func BenchmarkReaderArray(b *testing.B) {
	benchmarkReader(b, func(buf *bytes.Buffer, rec []byte) { buf.Write(rec); buf.WriteString(",\n") }, "[\n", "{}]")
}

func benchmarkReader(b *testing.B, write func(*bytes.Buffer, []byte), head, tail string) {
	var buf bytes.Buffer
	buf.WriteString(head)
	const n = 2000
	for i := 0; i < n; i++ {
		write(&buf, sampleAlertN(i))
	}
	buf.WriteString(tail)
	input := buf.Bytes()
	b.SetBytes(int64(len(input)))
	b.ReportAllocs()
	start := cpuTime()
	for b.Loop() {
		r := NewReader("bench", bytes.NewReader(input))
		count := 0
		for {
			_, err := r.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
			count++
		}
		if count < n {
			b.Fatalf("read %d records, want %d", count, n)
		}
	}
	reportCPU(b, start, b.N*n)
}
