package console_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ocsfmap/ocsfmap/engine"
)

// Issue 20, L1: a scope of a million nested parentheses overflowed the
// parser's stack and killed the process; now it is a diagnostic.
func TestScopeCheckDeepNesting(t *testing.T) {
	e := newEnv(t)
	w := newClient(t, e.url)
	_, csrf := w.signIn(adminToken)
	const n = 1 << 20
	body, _ := json.Marshal(map[string]any{"integration": "none", "scope": strings.Repeat("(", n) + "true" + strings.Repeat(")", n)})
	req, _ := http.NewRequest("POST", e.url+"/api/scope", strings.NewReader(string(body)))
	req.Header.Set("X-CSRF-Token", csrf)
	req.Header.Set("Content-Type", "application/json")
	resp, err := w.c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		OK      bool   `json:"ok"`
		Message string `json:"message"`
	}
	json.NewDecoder(resp.Body).Decode(&d)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || d.OK || !strings.Contains(d.Message, "limit") {
		t.Errorf("scope check of a million parentheses: %s %+v", resp.Status, d)
	}
	// Moderately deep is refused too, before the parser sees it.
	body, _ = json.Marshal(map[string]any{"integration": "none", "scope": strings.Repeat("(", 100) + "true" + strings.Repeat(")", 100)})
	req, _ = http.NewRequest("POST", e.url+"/api/scope", strings.NewReader(string(body)))
	req.Header.Set("X-CSRF-Token", csrf)
	resp, err = w.c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	json.NewDecoder(resp.Body).Decode(&d)
	resp.Body.Close()
	if d.OK || !strings.Contains(d.Message, "nested deeper") {
		t.Errorf("scope check of 100 nested parentheses: %+v", d)
	}
}

// Issue 20, L1: the wizard compiled whatever path mapping= named; a FIFO
// hung it. Only the mappings offered are ever read.
func TestWizardReadsOnlyOfferedMappings(t *testing.T) {
	e := newEnv(t)
	w := newClient(t, e.url)
	w.c.Timeout = 10 * time.Second
	_, csrf := w.signIn(adminToken)
	fifo := filepath.Join(t.TempDir(), "mapping.yaml")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { // a server stuck opening the FIFO would hold up the test's end: release it
		if f, err := os.OpenFile(fifo, os.O_WRONLY|syscall.O_NONBLOCK, 0); err == nil {
			f.Close()
		}
	})
	for _, path := range []string{fifo, "/dev/zero"} {
		form := url.Values{"csrf": {csrf}, "mode": {"new"}, "step": {"start"}, "action": {"next"}, "name": {"acme"},
			"destination": {"amazon-security-lake"}, "mapping": {path}}
		resp, body := w.post("/wizard", form)
		if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, "Choose one of the mappings listed") {
			t.Errorf("wizard with mapping=%s: %s", path, resp.Status)
		}
	}
	// The playground offers the same choices only.
	resp, body := w.post("/playground", url.Values{"csrf": {csrf}, "mapping": {fifo}, "alert": {"{}"}})
	if resp.StatusCode != http.StatusOK || strings.Contains(body, fifo) {
		t.Errorf("playground with mapping=%s: %s", fifo, resp.Status)
	}
}

// Issue 20, L4: ?flash= and ?done= put any (escaped) text on trusted
// pages. Now they carry a code from a fixed set, and a name only when it
// names something that exists.
func TestFlashTakesCodesNotText(t *testing.T) {
	e := newEnv(t)
	w := newClient(t, e.url)
	_, csrf := w.signIn(adminToken)
	const lure = "Session expired: sign in again at evil.example"
	for _, p := range []string{
		"/?flash=" + url.QueryEscape(lure),
		"/?added=" + url.QueryEscape(lure),
		"/?saved=" + url.QueryEscape(lure),
		"/?done=" + url.QueryEscape(lure),
		"/?done=added&name=" + url.QueryEscape(lure),
	} {
		resp, body := w.get(p)
		if resp.StatusCode != http.StatusOK || strings.Contains(body, "evil.example") {
			t.Errorf("GET %s shows the URL's text (%s)", p, resp.Status)
		}
	}
	e.createIntegration(w, csrf, "acme")
	resp, _ := w.post("/integrations/acme/enabled", url.Values{"csrf": {csrf}})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("disable: %s", resp.Status)
	}
	_, body := w.get(resp.Header.Get("Location"))
	if !strings.Contains(body, "Integration acme disabled") {
		t.Errorf("after Disable, %s does not say so", resp.Header.Get("Location"))
	}
	if _, body := w.get("/integrations/acme/rules?done=" + url.QueryEscape(lure)); strings.Contains(body, "evil.example") {
		t.Errorf("the rules page shows the URL's text")
	}
	resp, _ = w.post("/integrations/acme/rules", url.Values{"csrf": {csrf}, "action": {"enable"}, "index": {"1"}})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("enable a rule: %s", resp.Status)
	}
	if _, body := w.get(resp.Header.Get("Location")); !strings.Contains(body, "Rule everything enabled.") {
		t.Errorf("after enabling a rule, %s does not say so", resp.Header.Get("Location"))
	}
}

// Issue 20, M6: one dead letter over the page's 32 MiB line limit (control
// bytes grow six times escaped) made it show "token too long" and no row,
// hiding every other dead letter for good. Now a long one is shown cut and
// the others around it are listed.
func TestDeadLettersPageSurvivesAHugeLine(t *testing.T) {
	e := newEnv(t)
	w := newClient(t, e.url)
	_, csrf := w.signIn(adminToken)
	e.createIntegration(w, csrf, "acme")
	e.postAlerts("acme", "the first line that is not json\n")
	// A delivery's dead letters: one of 40 MiB escaped between two small ones.
	f := &engine.DeadLetterFile{Path: filepath.Join(e.data, "acme", "dead-letters", "00000000000000000001.ndjson")}
	huge := &engine.DeadLetter{Input: "POST /v1/integrations/acme/alerts", Line: 2, Code: "R400", Reason: "not a JSON object"}
	huge.SetRaw(bytes.Repeat([]byte{1}, 7<<20))
	for _, d := range []*engine.DeadLetter{
		{Input: "before", Line: 1, Code: "R422", Reason: "the small one before"},
		huge,
		{Input: "after", Line: 3, Code: "R422", Reason: "the small one after"},
	} {
		if err := f.Write(d); err != nil {
			t.Fatal(err)
		}
	}
	f.Close()
	resp, page := w.get("/dead-letters?integration=acme")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /dead-letters: %s", resp.Status)
	}
	for _, want := range []string{"the small one before", "the small one after", "not a JSON object", "the first line that is not json", "cut: the dead letter is 42.0 MiB"} {
		if !strings.Contains(page, want) {
			t.Errorf("the dead-letters page lacks %q", want)
		}
	}
	if strings.Contains(page, "too long") {
		t.Errorf("the dead-letters page shows a read error")
	}
	if len(page) > 1<<20 {
		t.Errorf("the dead-letters page is %d bytes: the huge one is not cut", len(page))
	}
}

// Issue 20, M7: the ingest token ran Test Connection (an AssumeRole, and a
// write probe) as often and as many at once as it liked. Now it takes the
// admin token and is throttled.
func TestTestConnectionIsAdminOnlyAndThrottled(t *testing.T) {
	e := newEnv(t)
	w := newClient(t, e.url)
	_, csrf := w.signIn(adminToken)
	e.createIntegration(w, csrf, "acme") // one test, in the wizard
	call := func(token string) *http.Response {
		req, _ := http.NewRequest("POST", e.url+"/v1/integrations/acme/test-connection?write_probe=true", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp
	}
	if resp := call(ingestToken); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("Test Connection with the ingest token: %s", resp.Status)
	}
	ok, throttled := 0, 0
	for range 8 {
		switch resp := call(adminToken); resp.StatusCode {
		case http.StatusOK:
			ok++
		case http.StatusTooManyRequests:
			throttled++
			if resp.Header.Get("Retry-After") == "" {
				t.Errorf("429 without Retry-After")
			}
		default:
			t.Fatalf("Test Connection with the admin token: %s", resp.Status)
		}
	}
	if ok == 0 || ok > 4 || throttled == 0 {
		t.Errorf("8 tests in a row: %d ran, %d throttled; want at most 4 (5 with the wizard's) to run", ok, throttled)
	}
	// The wizard's Test Connection shares the throttle.
	form := url.Values{"csrf": {csrf}, "mode": {"new"}, "step": {"storage"}, "action": {"test"}, "name": {"other"},
		"destination": {"amazon-security-lake"}, "role_arn": {roleARN}, "external_id": {"wrongexternalid0123456789abcdefgh"},
		"bucket": {bucket}, "region": {region}, "folder": {"/ext/" + source + "/"}, "path_style": {"on"}}
	if _, body := w.post("/wizard", form); !strings.Contains(body, "Too many connection tests") {
		t.Errorf("the wizard's Test Connection is not throttled")
	}
}

// Issue 20, L3: /metrics and /readyz showed integration names, counts and
// log errors to anyone, and the console answered to any Host (DNS
// rebinding). Now the public listener shows them to an ingest token only,
// OpsHandler serves them for a private listener, and a foreign Host is
// refused.
func TestOpsEndpointsAndHostCheck(t *testing.T) {
	e := newEnv(t)
	w := newClient(t, e.url)
	_, csrf := w.signIn(adminToken)
	e.createIntegration(w, csrf, "acme")
	// A reload that fails: /readyz has a problem naming the integration.
	st, _ := e.svc.Status("acme")
	b, _ := os.ReadFile(st.File)
	os.WriteFile(st.File, []byte(strings.Replace(string(b), "mapping:", "mapping: /no/such/mapping.yaml\nx_mapping:", 1)), 0o600)
	e.svc.Reload(t.Context())
	get := func(path, token, host string) (*http.Response, string) {
		req, _ := http.NewRequest("GET", e.url+path, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		if host != "" {
			req.Host = host
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return resp, string(body)
	}
	begin := time.Now()
	if resp, body := get("/metrics", "", ""); resp.StatusCode != http.StatusUnauthorized || strings.Contains(body, "acme") {
		t.Errorf("/metrics without a token: %s\n%.200s", resp.Status, body)
	}
	// Issue 20, L5: a wrong token costs a little.
	if took := time.Since(begin); took < 150*time.Millisecond {
		t.Errorf("a 401 came after %s: no delay on a failed token", took)
	}
	if resp, body := get("/metrics", ingestToken, ""); resp.StatusCode != http.StatusOK || !strings.Contains(body, `integration="acme"`) {
		t.Errorf("/metrics with the ingest token: %s", resp.Status)
	}
	if resp, body := get("/readyz", "", ""); resp.StatusCode != http.StatusServiceUnavailable || strings.Contains(body, "acme") || strings.Contains(body, "problems") {
		t.Errorf("/readyz without a token: %s %s", resp.Status, body)
	}
	if resp, body := get("/readyz", ingestToken, ""); resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(body, "acme") {
		t.Errorf("/readyz with the ingest token: %s %s", resp.Status, body)
	}
	ops := httptest.NewServer(e.svc.OpsHandler())
	defer ops.Close()
	for _, p := range []string{"/metrics", "/readyz", "/healthz"} {
		resp, err := http.Get(ops.URL + p)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if p != "/healthz" && !strings.Contains(string(body), "acme") {
			t.Errorf("the private listener's %s: %s %.200s", p, resp.Status, body)
		}
	}
	// DNS rebinding: a page of evil.example whose name now resolves here.
	for _, p := range []string{"/login", "/", "/metrics", "/readyz", "/healthz"} {
		if resp, _ := get(p, "", "evil.example"); resp.StatusCode != http.StatusMisdirectedRequest {
			t.Errorf("GET %s with Host evil.example: %s", p, resp.Status)
		}
	}
	for _, host := range []string{"localhost", "localhost:8470", "[::1]:8470", "127.0.0.1"} {
		if resp, _ := get("/login", "", host); resp.StatusCode != http.StatusOK {
			t.Errorf("GET /login with Host %s: %s", host, resp.Status)
		}
	}
	// The API answers to any name (a load balancer's) with its token.
	if resp, _ := get("/v1/integrations", ingestToken, "ingest.example"); resp.StatusCode != http.StatusOK {
		t.Errorf("the API with Host ingest.example: %s", resp.Status)
	}
}

// Issue 20, L5: sign-in's delay could be run in parallel, with no lockout.
// Now attempts are checked one at a time, and an address is locked out
// after 10 wrong tokens, the right one included.
func TestSignInLockoutInParallel(t *testing.T) {
	e := newEnv(t)
	w := newClient(t, e.url)
	_, page := w.get("/login")
	csrf := csrfOf(t, page)
	const n = 12
	codes := make(chan int, n)
	begin := time.Now()
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			form := url.Values{"csrf": {csrf}, "token": {fmt.Sprintf("guess-%02d-0123456789abcdef", i)}}
			req, _ := http.NewRequest("POST", e.url+"/login", strings.NewReader(form.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			for _, c := range w.c.Jar.Cookies(req.URL) {
				req.AddCookie(c)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Error(err)
				return
			}
			resp.Body.Close()
			codes <- resp.StatusCode
		}()
	}
	wg.Wait()
	took := time.Since(begin)
	close(codes)
	count := map[int]int{}
	for c := range codes {
		count[c]++
	}
	if count[http.StatusUnauthorized] != 10 || count[http.StatusTooManyRequests] != 2 {
		t.Errorf("12 wrong tokens at once: %v; want 10 refused and 2 locked out", count)
	}
	if took < 10*250*time.Millisecond {
		t.Errorf("12 wrong tokens at once took %s: the delay ran in parallel", took)
	}
	if resp, _ := w.signIn(adminToken); resp.StatusCode != http.StatusTooManyRequests {
		t.Errorf("the admin token from the locked-out address: %s", resp.Status)
	}
}

// Issue 20, L6: the folder /ext/../ passed the wizard's Cloud Storage step;
// the names . and .. do not name an integration.
func TestWizardRefusesDotFolders(t *testing.T) {
	e := newEnv(t)
	w := newClient(t, e.url)
	_, csrf := w.signIn(adminToken)
	for _, folder := range []string{"/ext/../", "/ext/./", "ext/.."} {
		form := url.Values{"csrf": {csrf}, "mode": {"new"}, "step": {"storage"}, "action": {"next"}, "name": {"acme"},
			"destination": {"amazon-security-lake"}, "role_arn": {roleARN}, "external_id": {"anexternalid0123456789abcdefghijk"},
			"bucket": {bucket}, "region": {region}, "folder": {folder}, "path_style": {"on"}}
		if resp, body := w.post("/wizard", form); resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, "names no folder") {
			t.Errorf("folder %q: %s", folder, resp.Status)
		}
	}
	for _, name := range []string{".", ".."} {
		form := url.Values{"csrf": {csrf}, "mode": {"new"}, "step": {"start"}, "action": {"next"}, "name": {name},
			"destination": {"amazon-security-lake"}}
		if resp, _ := w.post("/wizard", form); resp.StatusCode != http.StatusUnprocessableEntity {
			t.Errorf("name %q: %s", name, resp.Status)
		}
	}
}
