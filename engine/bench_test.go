package engine

import (
	"bytes"
	"encoding/json"
	"os"
	"testing"

	"github.com/ocsfmap/ocsfmap/engine/filter"
)

// The per-record stages, on a generated corpus of realistic DSPM alerts
// (~1.4 KB each), one goroutine. Run: make bench, or
// GOMAXPROCS=1 go test -run '^$' -bench . -benchmem ./engine

func benchAlerts(b *testing.B) ([][]byte, int64) {
	alerts := corpus(b, 4096, 5)
	var size int64
	for _, a := range alerts {
		size += int64(len(a))
	}
	return alerts, size / int64(len(alerts))
}

// BenchmarkDecodeStdlib is the yardstick: encoding/json into map[string]any.
func BenchmarkDecodeStdlib(b *testing.B) {
	alerts, size := benchAlerts(b)
	b.SetBytes(size)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		var m map[string]any
		if err := json.Unmarshal(alerts[i%len(alerts)], &m); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkMap: decode the mapped fields, evaluate every rule, derive, and
// run the plan's per-record checks (the validation the pipeline does).
func BenchmarkMap(b *testing.B) {
	alerts, size := benchAlerts(b)
	pm := load(b, shipped[0]).Plan.NewMapper()
	b.SetBytes(size)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		pm.Map(alerts[i%len(alerts)])
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
}

// BenchmarkMapJSON adds rendering the OCSF JSON line (ocsfmap map).
func BenchmarkMapJSON(b *testing.B) {
	alerts, size := benchAlerts(b)
	pm := load(b, shipped[0]).Plan.NewMapper()
	b.SetBytes(size)
	b.ReportAllocs()
	var buf []byte
	for i := 0; b.Loop(); i++ {
		if _, err := pm.Map(alerts[i%len(alerts)]); err == nil {
			buf = pm.AppendJSON(buf[:0])
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
}

// BenchmarkMapFullValidate adds the full JSON Schema validation of a generic
// document per record (--validate full).
func BenchmarkMapFullValidate(b *testing.B) {
	alerts, size := benchAlerts(b)
	m := load(b, shipped[0])
	pm := m.Plan.NewMapper()
	b.SetBytes(size)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if _, err := pm.Map(alerts[i%len(alerts)]); err == nil {
			m.Validate(pm.Doc())
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
}

// BenchmarkMapRouted maps CloudTrail's samples with its mapping of two
// classes: the vars and the route once per record, then the rules of the
// record's class.
func BenchmarkMapRouted(b *testing.B) {
	var alerts [][]byte
	var size int64
	for _, f := range []string{"../testdata/aws-cloudtrail/elastic-api-calls.ndjson", "../testdata/aws-cloudtrail/elastic-console-login.ndjson"} {
		data, err := os.ReadFile(f)
		if err != nil {
			b.Fatal(err)
		}
		for _, line := range bytes.Split(bytes.TrimSpace(data), []byte("\n")) {
			alerts = append(alerts, line)
			size += int64(len(line))
		}
	}
	pm := load(b, cloudTrail).Plan.NewMapper()
	var classes [2]int
	for _, a := range alerts {
		if _, err := pm.Map(a); err != nil {
			b.Fatal(err)
		}
		classes[pm.Class()]++
	}
	if classes[0] == 0 || classes[1] == 0 {
		b.Fatalf("records per class %v: both classes wanted", classes)
	}
	b.SetBytes(size / int64(len(alerts)))
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		pm.Map(alerts[i%len(alerts)])
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
}

// BenchmarkRunRules runs the pipeline (read, alert rules, map, check; no
// sink) on one goroutine with an integration's alert rules on: the default
// rule an integration starts with (about a third of the alerts exported),
// and a rule that exports every alert.
func BenchmarkRunRules(b *testing.B) {
	alerts, size := benchAlerts(b)
	data := bytes.Join(alerts, []byte("\n"))
	m := load(b, shipped[0])
	for _, tc := range []struct{ name, scope string }{
		{"default", `lower(risk ?? "") in ["critical", "high"]`},
		{"everything", "true"},
	} {
		b.Run(tc.name, func(b *testing.B) {
			f, diags := filter.Compile([]filter.Rule{{Name: tc.name, Enabled: true, Scope: tc.scope}})
			if diags.HasErrors() {
				b.Fatal(diags)
			}
			b.SetBytes(size * int64(len(alerts)))
			b.ReportAllocs()
			for b.Loop() {
				c, err := m.Run(b.Context(), []Input{bytesInput("alerts.ndjson", data)}, Options{Filter: f, Workers: 1})
				if err != nil || c.Read != int64(len(alerts)) {
					b.Fatal(c, err)
				}
			}
			b.ReportMetric(float64(b.N*len(alerts))/b.Elapsed().Seconds(), "records/s")
		})
	}
}
