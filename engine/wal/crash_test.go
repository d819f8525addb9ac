package wal

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

const crashEnv = "OCSFMAP_WAL_CRASH_DIR"

// crashRecord is record j of append id: self-describing, with a body whose
// length and bytes derive from (id, j), so the parent can check it whole.
func crashRecord(id uint64, j int) []byte {
	b := fmt.Appendf(nil, "%d/%d:", id, j)
	n := int((id*31+uint64(j)*17)%2000) + 1
	for i := range n {
		b = append(b, byte('a'+(int(id)+j+i)%26))
	}
	return b
}

func crashRecs(id uint64) int { return 1 + int(id%7) }

// TestMain runs the test binary as the crash test's child when the crash
// test starts it so (crashChild); otherwise it runs the tests.
func TestMain(m *testing.M) {
	if dir := os.Getenv(crashEnv); dir != "" {
		crashChild(dir)
		return
	}
	os.Exit(m.Run())
}

// crashChild is the process the crash test kills: it appends from several
// goroutines with real fsyncs and prints "id first last" for each
// acknowledged Append, until it is killed.
func crashChild(dir string) {
	base, _ := strconv.ParseUint(os.Getenv(crashEnv+"_BASE"), 10, 64)
	l, err := Open(dir, Options{SegmentBytes: 32 << 10})
	if err != nil {
		fmt.Fprintln(os.Stderr, "open:", err)
		os.Exit(2)
	}
	var mu sync.Mutex
	out := bufio.NewWriter(os.Stdout)
	var wg sync.WaitGroup
	for g := range uint64(4) {
		wg.Go(func() {
			for a := uint64(0); ; a++ {
				id := base + a*4 + g
				recs := make([][]byte, crashRecs(id))
				for j := range recs {
					recs[j] = crashRecord(id, j)
				}
				first, last, err := l.Append(context.Background(), recs...)
				if err != nil {
					fmt.Fprintln(os.Stderr, "append:", err)
					os.Exit(2)
				}
				// Printed only once durable; the line reaches the pipe
				// before the next append, so the parent sees every ack
				// the child made before dying (and no others).
				mu.Lock()
				fmt.Fprintf(out, "%d %d %d\n", id, first, last)
				out.Flush()
				mu.Unlock()
			}
		})
	}
	wg.Wait()
}

// TestCrashKill9 kills an appending child process with SIGKILL at random
// moments, several times over the same folder, and checks after each kill
// that every acknowledged record is in the log intact, at its LSN, and that
// every Append found in the log is whole.
func TestCrashKill9(t *testing.T) {
	dir := t.TempDir()
	acked := map[LSN]uint64{} // first LSN of each acknowledged Append → id
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 11))
	for round := range 5 {
		out := killChild(t, dir, uint64(round)<<40, rng)
		n := 0
		for _, line := range out {
			f := strings.Fields(line)
			if len(f) != 3 {
				continue // a line the kill cut short was not acknowledged
			}
			id, _ := strconv.ParseUint(f[0], 10, 64)
			first, _ := strconv.ParseUint(f[1], 10, 64)
			last, _ := strconv.ParseUint(f[2], 10, 64)
			if int(last-first)+1 != crashRecs(id) {
				t.Fatalf("round %d: ack %q: wrong number of LSNs", round, line)
			}
			acked[LSN(first)] = id
			n++
		}

		l, err := Open(dir, Options{SegmentBytes: 32 << 10})
		if err != nil {
			t.Fatalf("round %d: Open after kill: %v", round, err)
		}
		if rep := l.Repaired(); rep != nil {
			t.Logf("round %d: repaired %+v", round, *rep)
		}
		// Parse the log back into Appends and check each is whole.
		held := map[LSN]uint64{}
		var cur struct {
			id    uint64
			first LSN
			j     int
		}
		_, err = l.Read(1, func(lsn LSN, rec []byte) error {
			var id uint64
			var j int
			if _, err := fmt.Sscanf(string(rec), "%d/%d:", &id, &j); err != nil {
				return fmt.Errorf("LSN %d: unparsable record %.40q", lsn, rec)
			}
			if !bytes.Equal(rec, crashRecord(id, j)) {
				return fmt.Errorf("LSN %d: record %d/%d damaged", lsn, id, j)
			}
			if j == 0 {
				if cur.j != 0 {
					return fmt.Errorf("LSN %d: append %d has %d of %d records", lsn, cur.id, cur.j, crashRecs(cur.id))
				}
				cur.id, cur.first = id, lsn
			} else if id != cur.id || j != cur.j {
				return fmt.Errorf("LSN %d: record %d/%d out of place", lsn, id, j)
			}
			cur.j = (j + 1) % crashRecs(id)
			if cur.j == 0 {
				held[cur.first] = cur.id
			}
			return nil
		})
		if err == nil && cur.j != 0 {
			err = fmt.Errorf("log ends inside append %d", cur.id)
		}
		if err != nil {
			l.Close()
			t.Fatalf("round %d: %v", round, err)
		}
		for first, id := range acked {
			if held[first] != id {
				l.Close()
				t.Fatalf("round %d: acknowledged append %d at LSN %d missing (found %d)", round, id, first, held[first])
			}
		}
		st := l.Stats()
		t.Logf("round %d: killed after %d acks; log holds %d appends (%d records, %d segments)", round, n, len(held), st.Records, st.Segments)
		must(t, l.Close())
	}
}

// killChild runs crashChild on dir, appending ids from base, kills it with
// SIGKILL at a random moment once it has acknowledged an Append, and
// returns the lines it printed.
func killChild(t *testing.T, dir string, base uint64, rng *rand.Rand) []string {
	t.Helper()
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), crashEnv+"="+dir, fmt.Sprintf("%s_BASE=%d", crashEnv, base))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	must(t, err)
	must(t, cmd.Start())
	lines := make(chan []string)
	started := make(chan struct{})
	go func() {
		defer close(lines)
		var got []string
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if got = append(got, sc.Text()); len(got) == 1 {
				close(started)
			}
		}
		lines <- got
	}()
	// Kill at a random moment once appending is under way (Open of a
	// large log under -race can take longer than the random delay).
	select {
	case <-started:
	case <-time.After(30 * time.Second):
	}
	time.Sleep(time.Duration(rng.IntN(400)) * time.Millisecond)
	must(t, cmd.Process.Signal(syscall.SIGKILL))
	out := <-lines
	cmd.Wait()
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() {
		t.Fatalf("child ended before the kill; stderr:\n%s", stderr.String())
	}
	if len(out) == 0 {
		t.Fatalf("the child acknowledged nothing; stderr:\n%s", stderr.String())
	}
	return out
}
