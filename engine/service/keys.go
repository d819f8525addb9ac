package service

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ocsfmap/ocsfmap/engine/internal/atomicfile"
)

// response is what a request was answered; a retry with its
// Idempotency-Key gets the same.
type response struct {
	Accepted int `json:"accepted"`
	Rejected int `json:"rejected"`
}

// keyBook remembers the Idempotency-Keys of accepted requests for the
// retention period. A key lives in the log record of its batch; before the
// log lets that record go, the key is made durable in a file of its own.
// Keys older than the retention are forgotten, in memory as in the file, so
// a service under constant load holds a bounded number of them.
type keyBook struct {
	mu       sync.Mutex
	keys     map[string]keyEntry
	order    []keyEntry               // as remembered, oldest first: what to forget next
	inflight map[string]chan struct{} // keys of requests being accepted now
	path     string
	f        *os.File
	w        *bufio.Writer
	lines    int          // lines in the file, live or not
	size     atomic.Int64 // bytes of the file, for the disk budget (read without mu, which sync holds through an fsync)
	// broken: a write failed (a full disk, say). The buffered writer keeps
	// its error for good, so the next sync rewrites the file from memory
	// instead: the error clears once the disk has room again.
	broken    bool
	retention time.Duration
	max       int // keys remembered at most; the oldest go first
}

type keyEntry struct {
	Key string    `json:"key"`
	At  time.Time `json:"at"`
	response
}

func openKeyBook(path string, retention time.Duration, max int) (*keyBook, error) {
	kb := &keyBook{keys: map[string]keyEntry{}, inflight: map[string]chan struct{}{}, path: path, retention: retention, max: max}
	if b, err := os.ReadFile(path); err == nil {
		sc := bufio.NewScanner(bytes.NewReader(b))
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			var e keyEntry
			if json.Unmarshal(sc.Bytes(), &e) == nil && time.Since(e.At) < retention {
				if _, ok := kb.keys[e.Key]; !ok {
					kb.order = append(kb.order, e)
				}
				kb.keys[e.Key] = e
			}
		}
		if max > 0 && len(kb.keys) > max {
			kb.forgetOldest(len(kb.keys) - max)
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	if err := kb.compact(); err != nil {
		return nil, err
	}
	return kb, nil
}

// compact rewrites the file with the keys still remembered.
func (kb *keyBook) compact() error {
	var buf []byte
	for _, e := range kb.order {
		line, _ := json.Marshal(e)
		buf = append(append(buf, line...), '\n')
	}
	if kb.f != nil {
		kb.f.Close()
		kb.f = nil
	}
	if err := atomicfile.WriteFile(kb.path, buf, atomicfile.Options{}); err != nil {
		kb.broken = true
		return err
	}
	f, err := os.OpenFile(kb.path, os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		kb.broken = true
		return err
	}
	kb.f, kb.w, kb.lines, kb.broken = f, bufio.NewWriter(f), len(kb.order), false
	kb.size.Store(int64(len(buf)))
	return nil
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
	kb.order = append(kb.order, e)
	line, _ := json.Marshal(e)
	if !kb.broken {
		kb.w.Write(line)
		kb.w.WriteByte('\n')
		kb.lines++
		kb.size.Add(int64(len(line)) + 1)
	}
	if len(kb.order)%256 == 0 {
		kb.forget(time.Now())
	}
	if kb.max > 0 && len(kb.keys) > kb.max {
		// A sixteenth at a time: forgetting copies what stays.
		kb.forgetOldest(len(kb.keys) - kb.max + kb.max/16)
	}
}

// forgetOldest drops the n oldest keys from memory, before their retention.
func (kb *keyBook) forgetOldest(n int) {
	i := 0
	for ; i < len(kb.order) && n > 0; i++ {
		if cur, ok := kb.keys[kb.order[i].Key]; ok && !cur.At.After(kb.order[i].At) {
			delete(kb.keys, kb.order[i].Key)
			n--
		}
	}
	kb.order = append(kb.order[:0], kb.order[i:]...)
}

// forget drops the keys older than the retention from memory.
func (kb *keyBook) forget(now time.Time) {
	n := 0
	for n < len(kb.order) && now.Sub(kb.order[n].At) >= kb.retention {
		if cur, ok := kb.keys[kb.order[n].Key]; ok && !cur.At.After(kb.order[n].At) {
			delete(kb.keys, kb.order[n].Key)
		}
		n++
	}
	if n > 0 {
		kb.order = append(kb.order[:0], kb.order[n:]...)
	}
}

// sync makes every remembered key durable, and compacts the file once
// most of its lines are forgotten keys.
func (kb *keyBook) sync() error {
	kb.mu.Lock()
	defer kb.mu.Unlock()
	kb.forget(time.Now())
	if kb.broken || kb.lines > 2*len(kb.order)+4096 {
		return kb.compact()
	}
	err := kb.w.Flush()
	if err == nil {
		err = kb.f.Sync()
	}
	if err != nil {
		kb.broken = true
	}
	return err
}

func (kb *keyBook) bytes() int64 { return kb.size.Load() }

func (kb *keyBook) close() error {
	err := kb.sync()
	if kb.f == nil {
		return err
	}
	return errors.Join(err, kb.f.Close())
}
