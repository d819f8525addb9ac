package service

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"sync"
	"time"
)

// response is what a request was answered; a retry with its
// Idempotency-Key gets the same.
type response struct {
	Accepted int `json:"accepted"`
	Rejected int `json:"rejected"`
}

// keyBook remembers the Idempotency-Keys of accepted requests. A key lives
// in the log record of its batch; before the log lets that record go, the
// key is copied into a file of its own, kept for the retention period.
type keyBook struct {
	mu        sync.Mutex
	keys      map[string]keyEntry
	inflight  map[string]chan struct{} // keys of requests being accepted now
	f         *os.File
	w         *bufio.Writer
	retention time.Duration
}

type keyEntry struct {
	Key string    `json:"key"`
	At  time.Time `json:"at"`
	response
}

func openKeyBook(path string, retention time.Duration) (*keyBook, error) {
	kb := &keyBook{keys: map[string]keyEntry{}, inflight: map[string]chan struct{}{}, retention: retention}
	// Rewrite the file with the keys still within retention.
	if b, err := os.ReadFile(path); err == nil {
		sc := bufio.NewScanner(bytes.NewReader(b))
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			var e keyEntry
			if json.Unmarshal(sc.Bytes(), &e) == nil && time.Since(e.At) < retention {
				kb.keys[e.Key] = e
			}
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	var buf []byte
	for _, e := range kb.keys {
		line, _ := json.Marshal(e)
		buf = append(append(buf, line...), '\n')
	}
	if err := writeFileSync(path, buf); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	kb.f, kb.w = f, bufio.NewWriter(f)
	return kb, nil
}

// begin looks key up. A key already accepted returns its response and
// done=true. A key being accepted by another request waits for it. Else
// the caller owns the key until it calls finish.
func (kb *keyBook) begin(key string) (r response, done bool) {
	for {
		kb.mu.Lock()
		if e, ok := kb.keys[key]; ok {
			kb.mu.Unlock()
			return e.response, true
		}
		wait, busy := kb.inflight[key]
		if !busy {
			kb.inflight[key] = make(chan struct{})
			kb.mu.Unlock()
			return response{}, false
		}
		kb.mu.Unlock()
		<-wait
	}
}

// finish releases the key; when the request was accepted (ok), the key is
// remembered with its response.
func (kb *keyBook) finish(key string, r response, ok bool) {
	kb.mu.Lock()
	defer kb.mu.Unlock()
	if ok {
		kb.add(keyEntry{Key: key, At: time.Now(), response: r})
	}
	close(kb.inflight[key])
	delete(kb.inflight, key)
}

// remember records a key found in the log on replay.
func (kb *keyBook) remember(key string, r response, at time.Time) {
	if key == "" {
		return
	}
	kb.mu.Lock()
	defer kb.mu.Unlock()
	if _, ok := kb.keys[key]; !ok {
		kb.add(keyEntry{Key: key, At: at, response: r})
	}
}

func (kb *keyBook) add(e keyEntry) {
	kb.keys[e.Key] = e
	line, _ := json.Marshal(e)
	kb.w.Write(line)
	kb.w.WriteByte('\n')
}

// sync makes every remembered key durable.
func (kb *keyBook) sync() error {
	kb.mu.Lock()
	defer kb.mu.Unlock()
	if err := kb.w.Flush(); err != nil {
		return err
	}
	return kb.f.Sync()
}

func (kb *keyBook) close() error {
	err := kb.sync()
	return errors.Join(err, kb.f.Close())
}
