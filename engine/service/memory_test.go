package service

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ocsfmap/ocsfmap/engine/alertgen"
	"github.com/ocsfmap/ocsfmap/engine/source"
)

// alertsOf returns whole NDJSON alerts making at least size bytes, and
// their count.
func alertsOf(seed uint64, size int) ([]byte, int) {
	g := alertgen.New(seed, alertgen.Options{Accounts: 1, Days: 1})
	var b []byte
	n := 0
	for len(b) < size {
		b = g.AppendNDJSON(b)
		n++
	}
	return b, n
}

// memoryConfig: bodies up to 8 MiB, ingest memory for two of them at a
// time (a request holds about twice its body).
func memoryConfig() Config {
	return Config{MaxBody: 8 << 20, MaxLogBytes: 64 << 20, IngestMemory: 36 << 20, MemoryWait: 200 * time.Millisecond}
}

// Issue 20: request bodies in memory are bounded service-wide. Two
// requests whose bodies are half sent hold most of the ingest memory
// budget; a third large one is answered 503 with Retry-After instead of
// taking more, and is accepted once the two are done. Everything taken is
// given back.
func TestIngestMemoryBudget(t *testing.T) {
	cfg := memoryConfig()
	svc, hs := newIngestService(t, cfg, "a", "b")
	type answer struct {
		status int
		body   string
	}
	answers := make(chan answer, 2)
	var writers []*io.PipeWriter
	var rests [][]byte
	t.Cleanup(func() { // before the server closes: a failed test leaves no body half sent
		for _, pw := range writers {
			pw.CloseWithError(errors.New("test over"))
		}
	})
	want := 0
	for i := range 2 {
		body, n := alertsOf(uint64(i), 7<<20)
		want += n
		cut := bytes.IndexByte(body[5<<20:], '\n') + 5<<20 + 1
		pr, pw := io.Pipe()
		writers, rests = append(writers, pw), append(rests, body[cut:])
		go pw.Write(body[:cut])
		req, _ := http.NewRequest("POST", hs.URL+"/v1/integrations/"+[]string{"a", "b"}[i]+"/alerts", pr)
		req.Header.Set("Authorization", "Bearer "+limitsToken)
		go func() {
			resp, err := hs.Client().Do(req)
			if err != nil {
				answers <- answer{0, err.Error()}
				return
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			answers <- answer{resp.StatusCode, string(b)}
		}()
	}
	// Each holds its body buffer (8 MiB) and room for its log record:
	// what is left is less than the third needs.
	for svc.mem.inUse() < 2*requestMemory(8<<20, 0) {
		time.Sleep(10 * time.Millisecond)
	}
	third, n := alertsOf(7, 6<<20)
	res := postAlerts(t, hs, "a", third, true, "")
	if res.status != http.StatusServiceUnavailable || res.header.Get("Retry-After") == "" || !strings.Contains(fmt.Sprint(res.body), "memory") {
		t.Fatalf("a third large body while two are half read: %d %v (Retry-After %q), want 503 with Retry-After", res.status, res.body, res.header.Get("Retry-After"))
	}
	for i, pw := range writers {
		go func() {
			pw.Write(rests[i])
			pw.Close()
		}()
	}
	for range 2 {
		if a := <-answers; a.status != http.StatusAccepted {
			t.Fatalf("a half-read body, once complete: %d %s", a.status, a.body)
		}
	}
	if res := postAlerts(t, hs, "a", third, true, ""); res.status != http.StatusAccepted {
		t.Fatalf("the third body, retried: %d %v", res.status, res.body)
	}
	want += n
	var got int64
	for _, name := range []string{"a", "b"} {
		st, _ := svc.Status(name)
		got += st.Alerts.Accepted
	}
	if got != int64(want) {
		t.Fatalf("%d alerts accepted, want %d", got, want)
	}
	if used := svc.mem.inUse(); used != 0 {
		t.Fatalf("%d bytes of the ingest memory budget still taken after every request ended", used)
	}
}

// Many large bodies at once, more than the budget holds: each is answered
// (202, or 503 when its memory could not be had), none waits on another
// for good, what was accepted is counted, and the budget comes back whole.
func TestIngestMemoryManyBodies(t *testing.T) {
	svc, hs := newIngestService(t, memoryConfig(), "a", "b")
	var (
		mu              sync.Mutex
		accepted, other int
		want, refused   int
		wg              sync.WaitGroup
	)
	body, n := alertsOf(100, 5<<19)
	start := make(chan struct{})
	for i := range 8 {
		wg.Go(func() {
			<-start
			res := postAlerts(t, hs, []string{"a", "b"}[i%2], body, i%3 == 0, "")
			mu.Lock()
			defer mu.Unlock()
			switch res.status {
			case http.StatusAccepted:
				accepted++
				want += n
			case http.StatusServiceUnavailable:
				refused++
			default:
				other++
				t.Errorf("request %d: %d %v", i, res.status, res.body)
			}
		})
	}
	close(start)
	wg.Wait()
	t.Logf("%d accepted, %d refused (503)", accepted, refused)
	if accepted == 0 {
		t.Fatal("no request was accepted")
	}
	var got int64
	for _, name := range []string{"a", "b"} {
		st, _ := svc.Status(name)
		got += st.Alerts.Accepted
	}
	if got != int64(want) {
		t.Fatalf("%d alerts accepted, want %d", got, want)
	}
	if used := svc.mem.inUse(); used != 0 {
		t.Fatalf("%d bytes of the ingest memory budget still taken", used)
	}
}

// When every request holding part of the budget waits for more, the
// youngest gives way: its bytes go to the oldest, and no one waits for good.
func TestMemBudgetYoungestGivesWay(t *testing.T) {
	m := newMemBudget(10)
	ctx := context.Background()
	const forever = time.Hour
	old, ok1 := m.admit(ctx, 4, forever)
	young, ok2 := m.admit(ctx, 4, forever)
	if !ok1 || !ok2 {
		t.Fatal("admit failed with room left")
	}
	oldGot := make(chan bool)
	go func() { oldGot <- m.grow(ctx, old, 4, forever) }()
	for { // the old one waits
		m.mu.Lock()
		w := len(m.waiting)
		m.mu.Unlock()
		if w == 1 {
			break
		}
		time.Sleep(time.Millisecond)
	}
	if m.grow(ctx, young, 4, forever) {
		t.Fatal("the young request got bytes the old one waits for")
	}
	m.give(4, true) // the young one ends
	if !<-oldGot {
		t.Fatal("the old request was refused")
	}
	// A request holding none waits while one holding some does, and
	// cannot take more than the whole budget.
	if _, ok := m.admit(ctx, 11, forever); ok {
		t.Fatal("admitted a request over the whole budget")
	}
	m.give(8, true)
	if used := m.inUse(); used != 0 {
		t.Fatalf("%d bytes still used", used)
	}
}

// splitArrayDecoder is the array split as encoding/json's Decoder does it
// (a copy of every element, a buffer as large as the largest): the
// reference splitArray must agree with.
func splitArrayDecoder(body []byte, lim limits, check *source.Extractor) (ndjson []byte, alerts int, rejected []rejection, err error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	if _, err := dec.Token(); err != nil {
		return nil, 0, nil, err
	}
	for i := 1; dec.More(); i++ {
		var e json.RawMessage
		if err := dec.Decode(&e); err != nil {
			return nil, 0, nil, err
		}
		if err := check.Extract(e, nil); err != nil {
			rejected = append(rejected, rejection{line: i, raw: bytes.TrimSpace(e)})
		} else {
			ndjson = appendCompact(ndjson, e)
			alerts++
		}
		if err := lim.check(alerts, len(rejected)); err != nil {
			return nil, 0, nil, err
		}
	}
	if _, err := dec.Token(); err != nil {
		return nil, 0, nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, 0, nil, errors.New("data after the array's end")
	}
	return ndjson, alerts, rejected, nil
}

// Arrays are split in place, as slices of the body (no element copied),
// exactly as a JSON decoder splits them: the same alerts, the same
// rejected elements, the same bodies refused.
func TestSplitArrayInPlace(t *testing.T) {
	bodies := []string{
		`[]`, ` [ ] `, `[{}]`, `[ {"a":1} , {"b":[1,{"c":"]"}]} ]`, `[1,"x",null,true,{"a":"\"}"}]`,
		`[{"a":"\\"},{"b":"\\\""}]`, `["\\\\",{}]`, `[{},]`, `[,{}]`, `[{}{}]`, `[{}] x`, `[{]}`, `[{"a":1}`,
		`[{"a":tru}]`, `[tru]`, `[1 2]`, `["abc]`, `[{"a":"b\"}]`, `[[1,2],{"x":[]},-1.5e3]`, `[{"a":1}]]`,
		strings.Repeat("[", 20000) + strings.Repeat("]", 20000), `[{"a":"é\u00e9"}, {"k":"\ud800"}]`,
		"[\n{\"a\":\n1}\n,\n{}\t]\n",
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 2000 { // and damaged ones
		b := []byte(bodies[rng.IntN(len(bodies))])
		if len(b) > 100 {
			continue
		}
		for range 1 + rng.IntN(3) {
			i := rng.IntN(len(b))
			const junk = `[]{}",\ :1ax`
			b[i] = junk[rng.IntN(len(junk))]
		}
		if b[0] == '[' {
			bodies = append(bodies, string(b))
		}
	}
	check := source.NewExtractor(nil)
	lim := limits{alerts: 1000, rejected: 1000}
	for _, body := range bodies {
		b := bytes.TrimSpace([]byte(body)) // as splitAlerts passes it
		if len(b) == 0 || b[0] != '[' {
			continue
		}
		got, alerts, rejected, err := splitArray(b, nil, lim, check)
		wantNDJSON, wantAlerts, wantRejected, wantErr := splitArrayDecoder(b, lim, check)
		if (err != nil) != (wantErr != nil) || alerts != wantAlerts || len(rejected) != len(wantRejected) || !bytes.Equal(got, wantNDJSON) {
			t.Fatalf("%.80q: %d alerts %q, %d rejected, err %v; want %d alerts %q, %d rejected, err %v",
				body, alerts, got, len(rejected), err, wantAlerts, wantNDJSON, len(wantRejected), wantErr)
		}
		for i, rj := range rejected {
			if !bytes.Equal(rj.raw, wantRejected[i].raw) || rj.line != wantRejected[i].line {
				t.Fatalf("%.80q: rejected %d is line %d %q, want line %d %q", body, i, rj.line, rj.raw, wantRejected[i].line, wantRejected[i].raw)
			}
		}
	}
}

// An array holding one large alert is split without copying it: what the
// split allocates is far below the alert's size (a JSON decoder holds the
// element twice: in its buffer and in the value it returns).
func TestSplitArrayLargeElementNotCopied(t *testing.T) {
	elem := `{"a":"` + strings.Repeat("x", 4<<20) + `"}`
	body := []byte(`[` + elem + `,` + elem + `]`)
	out := make([]byte, 0, len(body))
	check := source.NewExtractor(nil)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	out, alerts, _, err := splitArray(body, out, limits{}, check)
	runtime.ReadMemStats(&after)
	if err != nil || alerts != 2 || len(out) != 2*len(elem)+2 {
		t.Fatalf("%d alerts, %d bytes, %v", alerts, len(out), err)
	}
	if got := after.TotalAlloc - before.TotalAlloc; got > uint64(len(elem))/4 {
		t.Fatalf("splitting an array of two %d-byte alerts allocated %d bytes", len(elem), got)
	}
}
