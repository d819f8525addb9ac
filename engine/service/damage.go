package service

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"time"

	"github.com/ocsfmap/ocsfmap/engine/internal/atomicfile"
	"github.com/ocsfmap/ocsfmap/engine/wal"
)

// Damage to the write-ahead log. wal.Open cuts what a crash left half
// written (never acknowledged, logged as a warning) and quarantines damage
// to what was written whole: acknowledged alerts there are lost. Each
// damaged range is counted once, when found, against what was delivered
// then, and the count is kept in lost.json, so the status and /metrics show
// it for as long as the integration lives and accepted still adds up:
// accepted = written + filtered + dead-lettered + backlog + lost.

// LostRange is one damaged range of the log: the batches (accepted
// requests) in it that were not yet delivered are lost.
type LostRange struct {
	From wal.LSN `json:"from"`
	To   wal.LSN `json:"to"`
	// Batches is how many accepted requests were lost; Alerts the alerts
	// of those whose count could still be read, Unreadable the others
	// (alerts unknown).
	Batches    int64     `json:"batches"`
	Alerts     int64     `json:"alerts"`
	Unreadable int64     `json:"unreadable_batches"`
	Segment    string    `json:"segment"`
	Quarantine string    `json:"quarantine,omitempty"` // the damaged segment as found, in the log folder
	Reason     string    `json:"reason"`
	Found      time.Time `json:"found"`
}

const lostFile = "lost.json"

// checkLog reports what wal.Open cut and records the loss of each damaged
// range found for the first time. Called once the state is read.
func (in *integration) checkLog() error {
	if rep := in.wal.Repaired(); rep != nil {
		in.log.Warn("write-ahead log: cut the write a crash interrupted (never acknowledged)",
			"segment", rep.Segment, "offset", rep.Offset, "bytes", rep.Dropped, "reason", rep.Reason)
	}
	b, err := os.ReadFile(filepath.Join(in.dir, lostFile))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	if err == nil {
		if err := json.Unmarshal(b, &in.lost); err != nil {
			return err
		}
	}
	known := map[wal.LSN]bool{}
	for _, r := range in.lost {
		known[r.From] = true
		in.log.Warn("write-ahead log damage found earlier: acknowledged alerts lost", lostAttrs(r)...)
	}
	added := false
	for _, g := range in.wal.Gaps() {
		if !g.Damaged || known[g.From] {
			continue
		}
		r := in.countLost(g)
		in.lost = append(in.lost, r)
		added = true
		in.log.Error("write-ahead log damaged: acknowledged alerts lost; the damaged segment is kept aside", lostAttrs(r)...)
	}
	if !added {
		return nil
	}
	b, err = json.MarshalIndent(in.lost, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.WriteFile(filepath.Join(in.dir, lostFile), b, atomicfile.Options{})
}

func lostAttrs(r LostRange) []any {
	return []any{"from", r.From, "to", r.To, "batches", r.Batches, "alerts", r.Alerts, "unreadable_batches", r.Unreadable,
		"segment", r.Segment, "quarantine", r.Quarantine, "reason", r.Reason}
}

// countLost counts the batches of a damaged gap not yet delivered, and
// their alerts from the quarantined copy: an intact record's count, or a
// damaged one's when its header still agrees with its lines.
func (in *integration) countLost(g wal.Gap) LostRange {
	r := LostRange{From: g.From, To: g.To, Segment: g.Segment, Quarantine: g.Quarantine, Reason: g.Reason, Found: g.Found}
	delivered := in.st.Delivered
	if g.Quarantine == "" { // records missing between segments: nothing left to read
		if g.To > delivered {
			r.Batches = int64(g.To - max(g.From, delivered))
			r.Unreadable = r.Batches
		}
		return r
	}
	err := in.wal.ReadCut(g, func(lsn wal.LSN, rec []byte, _ bool) error {
		if lsn < delivered {
			return nil
		}
		r.Batches++
		if b, err := decodeBatch(rec); err == nil {
			r.Alerts += int64(b.alerts)
		} else {
			r.Unreadable++
		}
		return nil
	})
	if err != nil {
		in.log.Error("cannot read the quarantined segment to count what was lost", "quarantine", g.Quarantine, "err", err)
	}
	// The log knows how many records the gap held (exactly, unless it is
	// at the end of the newest segment); a damaged length word stops the
	// walk above before them: those are lost with their count unknown.
	if end := g.From + wal.LSN(g.Records); end > delivered {
		if n := int64(end - max(g.From, delivered)); n > r.Batches {
			r.Unreadable += n - r.Batches
			r.Batches = n
		}
	}
	return r
}

// lostAlerts is the sum of the alerts counted lost.
func (in *integration) lostAlerts() (alerts, batches int64) {
	for _, r := range in.lost {
		alerts += r.Alerts
		batches += r.Batches
	}
	return alerts, batches
}
