package service

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
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
type DeadLetterEntry struct {
	engine.DeadLetter
	File string `json:"file"`
}

// DeadLetters returns up to max of the named integration's latest dead
// letters, newest first: those of the latest deliveries
// (<data>/<name>/dead-letters/*.ndjson) and the request lines that were not
// alerts (<data>/<name>/rejected.ndjson). Lines that do not parse are
// skipped.
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
	for i := len(files) - 1; i >= 0 && len(out) < max; i-- {
		entries, err := readDeadLetters(files[i], max-len(out))
		if err != nil {
			return out, err
		}
		out = append(out, entries...)
	}
	return out, nil
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
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 32<<20)
	for sc.Scan() {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		var d engine.DeadLetter
		if json.Unmarshal(line, &d) != nil {
			continue
		}
		all = append(all, DeadLetterEntry{DeadLetter: d, File: file})
		if len(all) > 2*n { // keep the tail only
			all = append(all[:0], all[len(all)-n:]...)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read %s: %w", file, err)
	}
	if len(all) > n {
		all = all[len(all)-n:]
	}
	for i, j := 0, len(all)-1; i < j; i, j = i+1, j-1 {
		all[i], all[j] = all[j], all[i]
	}
	return all, nil
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
