package service

import (
	"time"

	"github.com/ocsfmap/ocsfmap/engine/store"
)

// Status is an integration's status as the API and the console show it:
// the Integrations page's Pending / Success / Failed, and the counts.
type Status struct {
	Name        string `json:"name"`
	File        string `json:"file"`
	Destination string `json:"destination"`
	Bucket      string `json:"bucket"`
	Region      string `json:"region"`
	Prefix      string `json:"prefix"` // the first custom source's folder
	// Prefixes are the folders of every custom source, one per class the
	// mapping emits (Security Lake takes one class per custom source).
	Prefixes []string `json:"prefixes"`
	Mapping  string   `json:"mapping"`
	Disabled bool     `json:"disabled,omitempty"` // enabled: false: new alerts are refused

	State  store.State `json:"state"`
	Reason string      `json:"reason,omitempty"`
	Kind   string      `json:"kind,omitempty"`
	// ConfigError is the last reload's failure: the previous configuration
	// keeps running until the files are fixed.
	ConfigError  string          `json:"config_error,omitempty"`
	LastDelivery *store.Delivery `json:"last_delivery,omitempty"`
	Objects      int64           `json:"objects"`
	Bytes        int64           `json:"bytes"`
	LastCheck    *store.Check    `json:"last_check,omitempty"`

	// ScopeErrors: per alert rule, the alerts whose scope failed to
	// evaluate (handled as on_scope_error says) and the first error.
	ScopeErrors map[string]store.ScopeErrorStat `json:"scope_errors,omitempty"`

	Alerts  AlertCounts `json:"alerts"`
	Backlog Backlog     `json:"backlog"`
	// LogDamage lists the damaged ranges of the write-ahead log: what
	// acknowledged alerts were lost, and where the damaged bytes are kept.
	LogDamage []LostRange `json:"log_damage,omitempty"`
}

// AlertCounts add up: accepted = written + filtered + dead-lettered +
// backlog + lost (plus the alerts of lost batches whose count could not be
// read, see LostRange).
type AlertCounts struct {
	Accepted       int64            `json:"accepted"`
	Lost           int64            `json:"lost,omitempty"`         // alerts lost to damage of the write-ahead log
	LostBatches    int64            `json:"lost_batches,omitempty"` // accepted requests lost with them
	Rejected       int64            `json:"rejected"`               // request lines that were not JSON: never accepted
	Written        int64            `json:"written"`
	Filtered       int64            `json:"filtered"`
	DeadLettered   int64            `json:"dead_lettered"`
	ExportedByRule map[string]int64 `json:"exported_by_rule,omitempty"`
	DeadByCode     map[string]int64 `json:"dead_lettered_by_code,omitempty"`
}

// Backlog is what is accepted and not yet delivered.
type Backlog struct {
	Alerts     int64   `json:"alerts"`
	AgeSeconds float64 `json:"age_seconds"`
	LogBytes   int64   `json:"log_bytes"`
}

// Status returns the named integration's status; ok is false when there is
// no such integration.
func (s *Service) Status(name string) (st Status, ok bool) {
	in := s.lookup(name)
	if in == nil {
		return Status{}, false
	}
	return in.status(), true
}

// Statuses returns every integration's status, by name.
func (s *Service) Statuses() []Status {
	var out []Status
	for _, n := range s.names() {
		if st, ok := s.Status(n); ok {
			out = append(out, st)
		}
	}
	return out
}

func (in *integration) status() Status {
	l := in.cfg.Load()
	st := Status{
		Name: in.name, File: in.file, Destination: l.integ.Destination,
		Bucket: l.integ.Bucket, Region: l.integ.Region, Prefix: l.integ.KeyPrefix(), Mapping: l.integ.Mapping,
		Disabled: l.integ.Disabled,
	}
	st.Prefixes = l.integ.KeyPrefixes()
	if ps, err := store.ReadStatus(l.integ.StateDir); err == nil {
		st.State, st.Reason, st.Kind = ps.State, ps.Reason, ps.Kind
		st.LastDelivery, st.LastCheck = ps.LastDelivery, ps.LastCheck
		st.Objects, st.Bytes = ps.Total.Objects, ps.Total.Bytes
		st.ScopeErrors = ps.ScopeErrors
	} else {
		st.State, st.Reason = store.Failed, err.Error()
	}
	if msg := in.configErr.Load(); msg != nil {
		st.ConfigError = *msg
	}
	if msg := in.epochErr.Load(); msg != nil {
		st.State, st.Reason, st.Kind = store.Failed, *msg, ""
	}
	in.mu.Lock()
	t := in.st.Totals
	st.Alerts = AlertCounts{
		Written: t.Written, Filtered: t.Filtered, DeadLettered: t.DeadLettered,
		ExportedByRule: copyMap(t.ByRule), DeadByCode: copyMap(t.ByCode),
	}
	in.mu.Unlock()
	st.Alerts.Accepted = in.accepted.Load()
	st.Alerts.Rejected = in.rejected.Load()
	st.Alerts.Lost, st.Alerts.LostBatches = in.lostAlerts()
	st.LogDamage = in.lost
	alerts, age := in.backlogInfo(time.Now())
	st.Backlog = Backlog{Alerts: alerts, AgeSeconds: age.Seconds(), LogBytes: in.wal.Stats().Bytes}
	return st
}

func copyMap(m map[string]int64) map[string]int64 {
	if len(m) == 0 {
		return nil
	}
	out := make(map[string]int64, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}
