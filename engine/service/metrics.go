package service

import (
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/ocsfmap/ocsfmap/engine/store"
)

// metrics are the service's Prometheus series, every one named ocsfmap_…,
// in a registry of its own (one per Service, so tests do not share one).
type metrics struct {
	reg       *prometheus.Registry
	uploads   *prometheus.HistogramVec
	s3Errors  *prometheus.CounterVec
	requests  *prometheus.CounterVec
	ingestDur *prometheus.HistogramVec
}

func newMetrics(s *Service) *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		uploads: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "ocsfmap_upload_duration_seconds",
			Help:    "Time of one S3 upload attempt of a Parquet file.",
			Buckets: prometheus.ExponentialBuckets(0.005, 2, 14),
		}, []string{"integration"}),
		s3Errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ocsfmap_s3_errors_total",
			Help: "Failed S3 upload attempts, by kind of failure.",
		}, []string{"integration", "kind"}),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ocsfmap_ingest_requests_total",
			Help: "Ingest requests, by HTTP status.",
		}, []string{"integration", "code"}),
		ingestDur: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "ocsfmap_ingest_duration_seconds",
			Help:    "Time to answer an ingest request (the 202 waits for the fsync).",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 14),
		}, []string{"integration"}),
	}
	m.reg.MustRegister(m.uploads, m.s3Errors, m.requests, m.ingestDur,
		statusCollector{s},
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{Namespace: "ocsfmap"}))
	return m
}

func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// observePut feeds the upload histogram and the error counter.
func (m *metrics) observePut(integration string) func(time.Duration, error) {
	hist := m.uploads.WithLabelValues(integration)
	return func(took time.Duration, err error) {
		hist.Observe(took.Seconds())
		if err != nil {
			kind := store.KindOf(err).String()
			if kind == "" {
				kind = "other"
			}
			m.s3Errors.WithLabelValues(integration, kind).Inc()
		}
	}
}

func (m *metrics) observeIngest(integration string, code int, took time.Duration) {
	m.requests.WithLabelValues(integration, strconv.Itoa(code)).Inc()
	m.ingestDur.WithLabelValues(integration).Observe(took.Seconds())
}

// statusCollector reads the counts of every integration's status at scrape
// time, so the series and the status never disagree.
type statusCollector struct{ s *Service }

var (
	descAccepted = prometheus.NewDesc("ocsfmap_alerts_accepted_total", "Alerts accepted (durable in the write-ahead log).", []string{"integration"}, nil)
	descRejected = prometheus.NewDesc("ocsfmap_alerts_rejected_total", "Request lines that were not JSON objects (dead-lettered, never accepted).", []string{"integration"}, nil)
	descWritten  = prometheus.NewDesc("ocsfmap_alerts_written_total", "Alerts written to delivered Parquet files.", []string{"integration"}, nil)
	descFiltered = prometheus.NewDesc("ocsfmap_alerts_filtered_total", "Alerts no enabled alert rule exported.", []string{"integration"}, nil)
	descDead     = prometheus.NewDesc("ocsfmap_alerts_dead_lettered_total", "Alerts that could not be mapped, by code.", []string{"integration", "code"}, nil)
	descByRule   = prometheus.NewDesc("ocsfmap_alerts_exported_by_rule_total", "Alerts exported, by the alert rule that matched.", []string{"integration", "rule"}, nil)
	descObjects  = prometheus.NewDesc("ocsfmap_objects_delivered_total", "Parquet objects confirmed by S3.", []string{"integration"}, nil)
	descBytes    = prometheus.NewDesc("ocsfmap_bytes_delivered_total", "Bytes of Parquet objects confirmed by S3.", []string{"integration"}, nil)
	descBacklog  = prometheus.NewDesc("ocsfmap_backlog_alerts", "Alerts accepted and not yet delivered.", []string{"integration"}, nil)
	descAge      = prometheus.NewDesc("ocsfmap_backlog_age_seconds", "Age of the oldest alert not yet delivered.", []string{"integration"}, nil)
	descLogBytes = prometheus.NewDesc("ocsfmap_wal_bytes", "Bytes of the write-ahead log on disk.", []string{"integration"}, nil)
	descLost     = prometheus.NewDesc("ocsfmap_alerts_lost_total", "Accepted alerts lost to damage of the write-ahead log (see the status's log_damage).", []string{"integration"}, nil)
	descDamaged  = prometheus.NewDesc("ocsfmap_wal_damaged_records_total", "Write-ahead log records (accepted requests) lost to damage, delivered ones excepted.", []string{"integration"}, nil)
	descUp       = prometheus.NewDesc("ocsfmap_integration_status", "1 for the integration's current state (Pending, Success, Failed).", []string{"integration", "state"}, nil)
)

func (c statusCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descAccepted, descRejected, descWritten, descFiltered, descDead, descByRule, descObjects, descBytes, descBacklog, descAge, descLogBytes, descLost, descDamaged, descUp} {
		ch <- d
	}
}

func (c statusCollector) Collect(ch chan<- prometheus.Metric) {
	for _, st := range c.s.Statuses() {
		n := st.Name
		counter := func(d *prometheus.Desc, v int64, labels ...string) {
			ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), append([]string{n}, labels...)...)
		}
		gauge := func(d *prometheus.Desc, v float64, labels ...string) {
			ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, append([]string{n}, labels...)...)
		}
		counter(descAccepted, st.Alerts.Accepted)
		counter(descRejected, st.Alerts.Rejected)
		counter(descWritten, st.Alerts.Written)
		counter(descFiltered, st.Alerts.Filtered)
		for code, v := range st.Alerts.DeadByCode {
			counter(descDead, v, code)
		}
		for rule, v := range st.Alerts.ExportedByRule {
			counter(descByRule, v, rule)
		}
		counter(descLost, st.Alerts.Lost)
		counter(descDamaged, st.Alerts.LostBatches)
		counter(descObjects, st.Objects)
		counter(descBytes, st.Bytes)
		gauge(descBacklog, float64(st.Backlog.Alerts))
		gauge(descAge, st.Backlog.AgeSeconds)
		gauge(descLogBytes, float64(st.Backlog.LogBytes))
		for _, s := range []store.State{store.Pending, store.Success, store.Failed} {
			v := 0.0
			if st.State == s {
				v = 1
			}
			gauge(descUp, v, string(s))
		}
	}
}
