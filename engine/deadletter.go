package engine

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"unicode/utf8"
)

// DeadLetter is a record that was not written, with why and its original bytes.
type DeadLetter struct {
	Input      string   `json:"input"`
	Line       int      `json:"line"`
	Index      int      `json:"index,omitempty"` // position in its envelope array ({"Records":[…]}), from 1
	Code       string   `json:"code"`            // R4xx, or V500 for a JSON Schema violation
	Reason     string   `json:"reason"`          // one line for people
	Path       string   `json:"path,omitempty"`  // OCSF attribute at fault
	Rule       string   `json:"rule,omitempty"`  // mapping file:line:col of the rule
	Violations []string `json:"violations,omitempty"`
	Also       []string `json:"also,omitempty"`       // the record's other failing rules and checks
	Raw        string   `json:"raw,omitempty"`        // the original record, when it is valid UTF-8
	RawBase64  string   `json:"raw_base64,omitempty"` // otherwise, byte for byte
	// RawTruncated: Raw or RawBase64 holds only the first bytes of the
	// record, which was RawBytes long (a writer with a size limit).
	RawTruncated bool `json:"raw_truncated,omitempty"`
	RawBytes     int  `json:"raw_bytes,omitempty"`
}

// SetRaw keeps raw as the dead letter's original bytes: as text when it is
// valid UTF-8, else base64.
func (d *DeadLetter) SetRaw(raw []byte) {
	if utf8.Valid(raw) {
		d.Raw = string(raw)
	} else {
		d.RawBase64 = base64.StdEncoding.EncodeToString(raw)
	}
}

// SetRawUpTo keeps at most limit bytes of raw (cut on a UTF-8 boundary when
// raw is text), marking the dead letter truncated when it is cut.
func (d *DeadLetter) SetRawUpTo(raw []byte, limit int) {
	if len(raw) <= limit {
		d.SetRaw(raw)
		return
	}
	cut := max(limit, 0)
	if utf8.Valid(raw) {
		for cut > 0 && !utf8.RuneStart(raw[cut]) {
			cut--
		}
	}
	d.Raw, d.RawBase64 = "", ""
	d.SetRaw(raw[:cut])
	d.RawTruncated, d.RawBytes = true, len(raw)
}

// limitRaw cuts an already set Raw or RawBase64 to limit bytes of the record.
func (d *DeadLetter) limitRaw(limit int) {
	switch {
	case d.RawTruncated:
	case len(d.Raw) > limit:
		d.SetRawUpTo([]byte(d.Raw), limit)
	case base64.StdEncoding.DecodedLen(len(d.RawBase64)) > limit:
		if raw, err := base64.StdEncoding.DecodeString(d.RawBase64); err == nil && len(raw) > limit {
			d.RawBase64 = ""
			d.SetRawUpTo(raw, limit)
		}
	}
}

// DeadLetterFile writes dead letters as JSON lines to a file it creates on
// the first one, so a clean run leaves no empty file behind.
type DeadLetterFile struct {
	Path string
	// MaxRaw, when above zero, keeps at most that many bytes of each
	// record's original bytes (marked raw_truncated, with raw_bytes).
	MaxRaw int
	mu     sync.Mutex
	f      *os.File
	n      int64
}

// NewDeadLetterFile returns the dead-letter file of one run at path: a file
// an earlier run left there is removed, so the file never mixes old failures
// with this run's (and a clean run leaves none).
func NewDeadLetterFile(path string) (*DeadLetterFile, error) {
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	return &DeadLetterFile{Path: path}, nil
}

// Write appends one dead letter.
func (w *DeadLetterFile) Write(d *DeadLetter) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.f == nil {
		// Dead letters hold alerts as they came: for the user who ran the job.
		if err := os.MkdirAll(filepath.Dir(w.Path), 0o700); err != nil {
			return err
		}
		f, err := os.OpenFile(w.Path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
		if err != nil {
			return err
		}
		w.f = f
	}
	if w.MaxRaw > 0 {
		d.limitRaw(w.MaxRaw)
	}
	// Not HTML-escaped: the raw record must read as it came ("<stdin>", "a&b").
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(d); err != nil {
		return err
	}
	w.n++
	_, err := w.f.Write(b.Bytes())
	return err
}

// Count is the number of dead letters written.
func (w *DeadLetterFile) Count() int64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.n
}

// Close closes the file, if one was created.
func (w *DeadLetterFile) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.f == nil {
		return nil
	}
	return w.f.Close()
}
