package service

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	"github.com/ocsfmap/ocsfmap/engine"
)

// What the console (engine/console) needs from a running service, beyond
// the status and Test Connection the API has too.

// Recent returns the last alerts the named integration received (at most
// 50, newest first), for rule previews and the mapping playground; nil when
// there is no such integration. They live in memory only.
func (s *Service) Recent(name string) []Recent {
	in := s.lookup(name)
	if in == nil {
		return nil
	}
	return in.recent.list()
}

// Paths are the integration files and folders the service was started
// with (the console writes new integration files into the first folder).
func (s *Service) Paths() []string { return append([]string(nil), s.cfg.Paths...) }

// DeadLetterEntry is one dead letter and the file it was read from.
// Truncated: its raw bytes are cut to RawShown (the line was Bytes long).
type DeadLetterEntry struct {
	engine.DeadLetter
	File      string `json:"file"`
	Truncated bool   `json:"truncated,omitempty"`
	Bytes     int64  `json:"bytes,omitempty"`
}

// What the dead-letters page reads of one line, and shows of its raw
// record: a line of any length (a huge alert, control bytes six times
// longer escaped) is read in bounded memory, shown cut, and never hides
// the lines after it.
const (
	deadLetterLineMax = 256 << 10
	RawShown          = 64 << 10
)

// DeadLetters returns up to max of the named integration's latest dead
// letters, newest first: those of the latest deliveries
// (<data>/<name>/dead-letters/*.ndjson) and the request lines that were not
// alerts (<data>/<name>/rejected.ndjson). Lines that do not parse are
// skipped; longer ones are shown cut.
func (s *Service) DeadLetters(name string, max int) ([]DeadLetterEntry, error) {
	in := s.lookup(name)
	if in == nil {
		return nil, fmt.Errorf("no integration named %q", name)
	}
	files, _ := filepath.Glob(filepath.Join(in.dir, "dead-letters", "*.ndjson"))
	sort.Strings(files) // named by the epoch's first record: oldest first
	// rejected.ndjson grows across deliveries; read it with the newest.
	files = append(files, filepath.Join(in.dir, "rejected.ndjson"))
	var out []DeadLetterEntry
	var errs []error
	for i := len(files) - 1; i >= 0 && len(out) < max; i-- {
		entries, err := readDeadLetters(files[i], max-len(out))
		if err != nil { // one unreadable file hides none of the others
			errs = append(errs, err)
		}
		out = append(out, entries...)
	}
	return out, errors.Join(errs...)
}

// readDeadLetters returns the last n dead letters of file, newest first.
func readDeadLetters(file string, n int) ([]DeadLetterEntry, error) {
	f, err := os.Open(file)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var all []DeadLetterEntry
	r := bufio.NewReaderSize(f, 64<<10)
	line := make([]byte, 0, 64<<10)
	for {
		var size int64
		line, size, err = readLine(r, line[:0], deadLetterLineMax)
		if len(line) > 0 || size > 0 {
			if e, ok := parseDeadLetter(line, size); ok {
				e.File = file
				all = append(all, e)
				if len(all) > 2*n { // keep the tail only
					all = append(all[:0], all[len(all)-n:]...)
				}
			}
		}
		if err != nil {
			break
		}
	}
	if err == io.EOF {
		err = nil
	}
	if len(all) > n {
		all = all[len(all)-n:]
	}
	for i, j := 0, len(all)-1; i < j; i, j = i+1, j-1 {
		all[i], all[j] = all[j], all[i]
	}
	if err != nil {
		return all, fmt.Errorf("read %s: %w", file, err)
	}
	return all, nil
}

// readLine appends the next line of r to dst, at most max bytes of it, and
// skips the rest; size is the whole line's length. err is io.EOF after the
// last line.
func readLine(r *bufio.Reader, dst []byte, max int) ([]byte, int64, error) {
	var size int64
	for {
		chunk, err := r.ReadSlice('\n')
		size += int64(len(chunk))
		if room := max - len(dst); room > 0 {
			dst = append(dst, chunk[:min(room, len(chunk))]...)
		}
		if err == bufio.ErrBufferFull {
			continue
		}
		if bytes.HasSuffix(dst, []byte{'\n'}) {
			dst, size = dst[:len(dst)-1], size-1
		}
		return dst, size, err
	}
}

// parseDeadLetter decodes one line of size bytes of which line holds the
// first. A whole line decodes as is, its raw record cut to RawShown; a cut
// one is read up to its raw record (the encoder writes the reason, rule
// and code first), whose beginning is kept.
func parseDeadLetter(line []byte, size int64) (DeadLetterEntry, bool) {
	whole := int64(len(line)) == size
	line = bytes.TrimSpace(line)
	if len(line) == 0 {
		return DeadLetterEntry{}, false
	}
	var e DeadLetterEntry
	if whole {
		if json.Unmarshal(line, &e.DeadLetter) != nil {
			return DeadLetterEntry{}, false
		}
	} else {
		e.Truncated, e.Bytes = true, size
		for _, field := range []string{`,"raw":"`, `,"raw_base64":"`} {
			i := bytes.Index(line, []byte(field))
			if i < 0 {
				continue
			}
			head := append(append([]byte(nil), line[:i]...), '}')
			if json.Unmarshal(head, &e.DeadLetter) != nil {
				return DeadLetterEntry{}, false
			}
			raw := stringPrefix(line[i+len(field):])
			if field == `,"raw":"` {
				e.Raw = raw
			} else {
				e.RawBase64 = raw
			}
			break
		}
		if e.Code == "" { // no raw record within the part read: say what it is
			e.Reason = fmt.Sprintf("a dead letter of %d bytes, too long to show", size)
		}
	}
	if len(e.Raw) > RawShown {
		e.Raw, e.Truncated = strings.ToValidUTF8(e.Raw[:RawShown], ""), true
	}
	if len(e.RawBase64) > RawShown {
		e.RawBase64, e.Truncated = e.RawBase64[:RawShown], true
	}
	if e.Truncated && e.Bytes == 0 {
		e.Bytes = size
	}
	return e, true
}

// stringPrefix decodes the beginning of a JSON string's body that was cut
// anywhere, an escape included: it drops the few bytes of a cut escape.
func stringPrefix(b []byte) string {
	for i := 0; i < len(b); i++ { // the string may end within b
		if b[i] == '\\' {
			i++
		} else if b[i] == '"' {
			b = b[:i]
			break
		}
	}
	b = b[:min(len(b), RawShown+8)]
	for cut := 0; cut <= 12 && cut <= len(b); cut++ {
		var s string
		q := append(append([]byte{'"'}, b[:len(b)-cut]...), '"')
		if json.Unmarshal(q, &s) == nil {
			return s
		}
	}
	return ""
}

var addMu sync.Mutex

// addNew opens the integration files that appeared in the service's
// folders since the start (the console's Finish writes one, then reloads):
// each starts Pending and, once the service is started, delivering. A file
// that does not load is reported and tried again at the next reload.
func (s *Service) addNew(ctx context.Context) []error {
	// Two reloads at once must not open one log twice.
	addMu.Lock()
	defer addMu.Unlock()
	files, err := integrationFiles(s.cfg.Paths)
	if err != nil {
		return []error{err}
	}
	s.mu.RLock()
	known := map[string]bool{}
	for _, in := range s.integ {
		known[in.file] = true
	}
	s.mu.RUnlock()
	var errs []error
	for _, f := range files {
		if known[f] {
			continue
		}
		l, err := load(ctx, f, s.log)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if prev := s.lookup(l.integ.Name); prev != nil {
			errs = append(errs, fmt.Errorf("%s: integration %q is also defined in %s", f, l.integ.Name, prev.file))
			continue
		}
		in, err := openIntegration(s, f, l)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		s.mu.Lock()
		s.integ[in.name] = in
		s.mu.Unlock()
		in.log.Info("integration added", "file", f)
		if s.started.Load() {
			s.startDelivery(in)
		}
	}
	return errs
}
