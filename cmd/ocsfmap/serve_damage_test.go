package main

import (
	"encoding/binary"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// TestServeWALBitFlipIsReported reproduces issue 20's H2 through the
// binary: 20 alerts acknowledged one per request, serve killed with
// SIGKILL, one bit flipped inside the 11th record of the newest log
// segment, serve restarted. The loss must be reported — in the log, the
// status and /metrics — with counts that add up, later requests must not
// take the lost records' place, and everything else is delivered once.
func TestServeWALBitFlipIsReported(t *testing.T) {
	f := newServeFixture(t, "", "--roll-age", "1h")
	f.start()
	const first, more = 20, 10
	var sent [][]string // finding.uid of each acknowledged request's alert
	post := func(i int) {
		t.Helper()
		body := alerts(1, uint64(7000+i), 2)
		res, err := f.post(serveToken, fmt.Sprintf("h2-%d", i), body)
		if err != nil || res.status != http.StatusAccepted {
			t.Fatalf("request %d: %v %v", i, res.status, err)
		}
		sent = append(sent, alertUIDs(t, body))
	}
	for i := range first {
		post(i)
	}
	f.kill()

	// Flip a bit in the data of the 11th record (one request each).
	segs, _ := filepath.Glob(filepath.Join(f.data, "dspm", "wal", "*.wal"))
	sort.Strings(segs)
	if len(segs) == 0 {
		t.Fatal("no log segment")
	}
	seg := segs[len(segs)-1]
	b, err := os.ReadFile(seg)
	if err != nil {
		t.Fatal(err)
	}
	off := 0
	for range 10 {
		off += 8 + int(binary.LittleEndian.Uint32(b[off:])&^(1<<31))
	}
	n := int(binary.LittleEndian.Uint32(b[off:]) &^ (1 << 31))
	b[off+8+n/2] ^= 0x01
	if err := os.WriteFile(seg, b, 0o600); err != nil {
		t.Fatal(err)
	}

	f.start()
	for i := first; i < first+more; i++ {
		post(i)
	}
	st := f.status()
	a := st["alerts"].(map[string]any)
	damage, _ := st["log_damage"].([]any)
	if a["accepted"] != float64(first+more) || a["lost"] != float64(first-10) || a["lost_batches"] != float64(first-10) || len(damage) != 1 {
		t.Fatalf("status after the damage: alerts %v, log_damage %v; want %d accepted, %d lost in one range", a, st["log_damage"], first+more, first-10)
	}
	d := damage[0].(map[string]any)
	q, _ := d["quarantine"].(string)
	if _, err := os.Stat(filepath.Join(f.data, "dspm", "wal", q)); q == "" || err != nil {
		t.Fatalf("log_damage %v: no quarantined copy", d)
	}
	req, _ := http.NewRequest("GET", "http://"+f.addr+"/metrics", nil)
	req.Header.Set("Authorization", "Bearer "+serveToken) // /metrics needs a token on the main listener
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	m, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{`ocsfmap_alerts_lost_total{integration="dspm"} 10`, `ocsfmap_wal_damaged_records_total{integration="dspm"} 10`} {
		if !strings.Contains(string(m), want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	f.logMu.Lock()
	logged := strings.Contains(f.logs.String(), "write-ahead log damaged")
	f.logMu.Unlock()
	if !logged {
		t.Errorf("no log line about the damage")
	}
	f.stop()

	// Delivered: the first 10 and the 10 later requests, once each; the
	// 10 lost are nowhere. The counts add up.
	uids, _ := f.bucketUIDs()
	dead := f.deadUIDs()
	for i, req := range sent {
		for _, u := range req {
			n := uids[u] + dead[u]
			lost := i >= 10 && i < first
			if (lost && n != 0) || (!lost && n != 1) {
				t.Errorf("request %d, alert %s: delivered %d times (lost: %v)", i, u, n, lost)
			}
		}
	}
	f.start()
	st = f.status()
	a = st["alerts"].(map[string]any)
	if got := a["written"].(float64) + a["dead_lettered"].(float64) + a["filtered"].(float64) + a["lost"].(float64); got != a["accepted"].(float64) {
		t.Fatalf("counts do not add up after delivery: %v", a)
	}
	f.stop()
}
