package lake

import (
	"fmt"
	"strings"
	"time"

	"github.com/ocsfmap/ocsfmap/engine/plan"
)

// PartitionError reports a record whose partition cannot be told: its
// region, account or time is missing or cannot be a path segment. Nothing of
// the record was written; the caller dead-letters it.
type PartitionError struct {
	Field  string // "region", "account" or "time"
	Value  string // the offending value, quoted in Error
	Reason string
}

func (e *PartitionError) Error() string {
	if e.Value == "" {
		return fmt.Sprintf("partition %s: %s", e.Field, e.Reason)
	}
	return fmt.Sprintf("partition %s %q: %s", e.Field, e.Value, e.Reason)
}

// maxValueLen bounds a partition value; S3 keys are at most 1024 bytes.
const maxValueLen = 128

// sanitizeValue checks one partition value for use as a path segment and an
// S3 key part. Only letters, digits, '.', '_' and '-' are allowed (AWS
// region names, account ids and external_<id> fit); anything else (a '/',
// '..', a control character, a space, '=' that Hive would misread) is
// rejected rather than rewritten, so two distinct values never share a
// partition. Surrounding blanks are trimmed.
func sanitizeValue(field, s string) (string, error) {
	v := strings.TrimSpace(s)
	if v == "" {
		return "", &PartitionError{Field: field, Reason: "empty value"}
	}
	if len(v) > maxValueLen {
		return "", &PartitionError{Field: field, Value: v[:32] + "…", Reason: fmt.Sprintf("longer than %d bytes", maxValueLen)}
	}
	if v == "." || strings.Contains(v, "..") {
		return "", &PartitionError{Field: field, Value: v, Reason: `"." and ".." are not allowed`}
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-' {
			continue
		}
		return "", &PartitionError{Field: field, Value: v, Reason: fmt.Sprintf("character %q not allowed (only letters, digits, '.', '_', '-')", c)}
	}
	return v, nil
}

// Event times the writer accepts: 1970-01-01 through 9999-12-31 UTC, so the
// day is always 8 digits.
const (
	minTimeMs = 0
	maxTimeMs = 253402300799999
	dayMs     = 86_400_000
)

// eventTime reads the record's time (ms since the epoch).
func eventTime(rec *plan.Record, slot int) (int64, error) {
	v := &rec.Values[slot]
	switch v.Kind {
	case plan.Int:
	case plan.Null:
		return 0, &PartitionError{Field: "time", Reason: "missing"}
	default:
		return 0, &PartitionError{Field: "time", Reason: "not an integer timestamp"}
	}
	if v.Int < minTimeMs || v.Int > maxTimeMs {
		return 0, &PartitionError{Field: "time", Value: fmt.Sprint(v.Int), Reason: "outside 1970-01-01..9999-12-31"}
	}
	return v.Int, nil
}

// dayString formats a day number (days since the epoch) as YYYYMMDD.
func dayString(day int64) string {
	return time.UnixMilli(day * dayMs).UTC().Format("20060102")
}
