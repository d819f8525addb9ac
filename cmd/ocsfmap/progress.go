package main

import (
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"golang.org/x/term"

	"github.com/ocsfmap/ocsfmap/engine"
)

// progress shows a run's rate: one line redrawn in place on a terminal,
// a plain log line every 10 seconds otherwise.
type progress struct {
	mu     sync.Mutex
	w      io.Writer
	tty    bool
	off    bool
	start  time.Time
	last   time.Time
	every  time.Duration
	counts engine.Counts
	drawn  bool
}

func newProgress(w io.Writer, quiet bool) *progress {
	p := &progress{w: w, off: quiet, start: time.Now(), every: 10 * time.Second}
	if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		p.tty, p.every = true, 200*time.Millisecond
	}
	p.last = p.start
	return p
}

func (p *progress) update(c engine.Counts) {
	if p.off {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	now := time.Now()
	if now.Sub(p.last) < p.every {
		return
	}
	p.last = now
	p.counts = c
	secs := now.Sub(p.start).Seconds()
	line := fmt.Sprintf("%d read, %.0f records/s, %.1f MB/s, %d written, %d rejected, %d filtered",
		c.Read, float64(c.Read)/secs, float64(c.Bytes)/secs/1e6, c.Written, c.DeadLettered, c.Filtered)
	if p.tty {
		fmt.Fprintf(p.w, "\r\033[K%s", line)
		p.drawn = true
		return
	}
	fmt.Fprintf(p.w, "progress: %s\n", line)
}

// done clears the terminal line before the summary.
func (p *progress) done() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.drawn {
		fmt.Fprint(p.w, "\r\033[K")
	}
}
