package store

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/ocsfmap/ocsfmap/engine/internal/atomicfile"
)

// State is where an integration stands, as the Security Lake integration page shows it.
type State string

const (
	Pending State = "Pending" // nothing delivered yet
	Success State = "Success" // the last delivery (or connection test) succeeded
	Failed  State = "Failed"  // the last delivery or connection test failed: see Reason
)

// StatusFile is the status file's name inside the state folder.
const StatusFile = "status.json"

// Status is an integration's persisted status. It never holds credentials.
type Status struct {
	State     State     `json:"state"`
	UpdatedAt time.Time `json:"updated_at,omitzero"`

	// Failed: why, when, and the kind of failure (see Kind).
	Reason   string    `json:"reason,omitempty"`
	Kind     string    `json:"kind,omitempty"`
	FailedAt time.Time `json:"failed_at,omitzero"`

	// LastDelivery counts the most recent run (one Deliverer's lifetime); Total every run.
	LastDelivery *Delivery `json:"last_delivery,omitempty"`
	Total        Counts    `json:"total"`

	// LastCheck is the latest Test Connection.
	LastCheck *Check `json:"last_check,omitempty"`

	// ScopeErrors counts, per alert rule and over every run, alerts no
	// enabled rule exported because that rule's scope failed to evaluate.
	ScopeErrors map[string]ScopeErrorStat `json:"scope_errors,omitempty"`
	// ScopeErrorBatches are the last batches whose scope errors were
	// counted: a batch delivered again is not counted twice.
	ScopeErrorBatches []string `json:"scope_error_batches,omitempty"`
}

// ScopeErrorStat is one rule's scope errors: how many, and the first.
type ScopeErrorStat struct {
	Count int64  `json:"count"`
	First string `json:"first_error"`
	Where string `json:"first_alert"` // input:line of the first failing alert
}

// keptScopeErrorBatches bounds Status.ScopeErrorBatches: a batch is
// delivered again soon after, if ever (a restart, a redelivery).
const keptScopeErrorBatches = 64

// RecordBatchScopeErrors adds a delivery batch's scope errors to the status
// in stateDir, keeping each rule's first error; the scope errors of a batch
// ID already counted are not counted again.
func RecordBatchScopeErrors(stateDir, batch string, add map[string]ScopeErrorStat) error {
	if len(add) == 0 {
		return nil
	}
	return bookFor(stateDir).update(func(st *Status) {
		if batch != "" {
			if slices.Contains(st.ScopeErrorBatches, batch) {
				return
			}
			st.ScopeErrorBatches = append(st.ScopeErrorBatches, batch)
			if n := len(st.ScopeErrorBatches); n > keptScopeErrorBatches {
				st.ScopeErrorBatches = slices.Delete(st.ScopeErrorBatches, 0, n-keptScopeErrorBatches)
			}
		}
		if st.ScopeErrors == nil {
			st.ScopeErrors = map[string]ScopeErrorStat{}
		}
		for rule, a := range add {
			cur, ok := st.ScopeErrors[rule]
			if !ok {
				cur.First, cur.Where = a.First, a.Where
			}
			cur.Count += a.Count
			st.ScopeErrors[rule] = cur
		}
	})
}

// Counts are delivered objects and bytes.
type Counts struct {
	Objects int64 `json:"objects"`
	Bytes   int64 `json:"bytes"`
}

// Delivery is one run's delivered objects: when it started, when its last object landed.
type Delivery struct {
	Started time.Time `json:"started"`
	Last    time.Time `json:"last"`
	Counts
}

// Check is the outcome of a connection test.
type Check struct {
	Time    time.Time `json:"time"`
	OK      bool      `json:"ok"`
	Message string    `json:"message"`
}

// ReadStatus reads the status in stateDir; a missing file is Pending.
func ReadStatus(stateDir string) (Status, error) {
	b, err := os.ReadFile(filepath.Join(stateDir, StatusFile))
	if errors.Is(err, fs.ErrNotExist) {
		return Status{State: Pending}, nil
	}
	if err != nil {
		return Status{}, fmt.Errorf("read status: %w", err)
	}
	var st Status
	if err := json.Unmarshal(b, &st); err != nil {
		return Status{}, fmt.Errorf("read status %s: %w", filepath.Join(stateDir, StatusFile), err)
	}
	if st.State == "" {
		st.State = Pending
	}
	return st, nil
}

// statusBook serializes the read-modify-write of one status file within a
// process. Writes are atomic (temp file + rename), so a reader never sees a
// half-written file; across processes the last writer wins.
type statusBook struct {
	dir string
	mu  sync.Mutex
}

var books sync.Map // state dir → *statusBook

func bookFor(dir string) *statusBook {
	if dir == "" {
		return nil
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		abs = dir
	}
	b, _ := books.LoadOrStore(abs, &statusBook{dir: abs})
	return b.(*statusBook)
}

func (b *statusBook) update(fn func(*Status)) error {
	if b == nil {
		return nil
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	st, err := ReadStatus(b.dir)
	if err != nil {
		// A corrupt status file must not stop deliveries: start afresh.
		st = Status{State: Pending}
	}
	fn(&st)
	return writeStatus(b.dir, st)
}

func writeStatus(dir string, st Status) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("write status: %w", err)
	}
	b, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return fmt.Errorf("write status: %w", err)
	}
	b = append(b, '\n')
	if err := atomicfile.WriteFile(filepath.Join(dir, StatusFile), b, atomicfile.Options{}); err != nil {
		return fmt.Errorf("write status: %w", err)
	}
	return nil
}

// RecordCheck stores a connection test's outcome. A failed test makes the
// status Failed; a passing one clears a failure that an earlier test
// recorded (back to Success when something was delivered before, else
// Pending), never a delivery's: only a delivery that succeeds clears that.
func RecordCheck(stateDir string, err error) error {
	now := time.Now().UTC()
	return bookFor(stateDir).update(func(st *Status) {
		st.UpdatedAt = now
		if err != nil {
			st.LastCheck = &Check{Time: now, OK: false, Message: err.Error()}
			st.fail(now, err)
			return
		}
		failedCheck := st.LastCheck != nil && !st.LastCheck.OK && st.LastCheck.Time.Equal(st.FailedAt)
		st.LastCheck = &Check{Time: now, OK: true, Message: "connection OK"}
		if st.State == Failed && failedCheck {
			st.clear()
		}
	})
}

func (st *Status) fail(now time.Time, err error) {
	st.State = Failed
	st.Reason = err.Error()
	st.Kind = KindOf(err).String()
	st.FailedAt = now
}

func (st *Status) clear() {
	st.State = Pending
	if st.Total.Objects > 0 {
		st.State = Success
	}
	st.Reason, st.Kind, st.FailedAt = "", "", time.Time{}
}
