package console_test

import (
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/ocsfmap/ocsfmap/engine/console"
)

// webClient is a browser without JavaScript: cookies, no redirects
// followed unless asked.
type webClient struct {
	t    *testing.T
	base string
	c    *http.Client
}

func newClient(t *testing.T, base string) *webClient {
	jar, _ := cookiejar.New(nil)
	return &webClient{t: t, base: base, c: &http.Client{Jar: jar, Timeout: time.Minute,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

func (w *webClient) do(method, path string, form url.Values, header map[string]string) (*http.Response, string) {
	w.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, w.base+path, body)
	if err != nil {
		w.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := w.c.Do(req)
	if err != nil {
		w.t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, string(b)
}

func (w *webClient) get(path string) (*http.Response, string) { return w.do("GET", path, nil, nil) }

func (w *webClient) post(path string, form url.Values) (*http.Response, string) {
	return w.do("POST", path, form, nil)
}

var csrfRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

func csrfOf(t *testing.T, page string) string {
	t.Helper()
	m := csrfRE.FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no CSRF token in the page:\n%s", page)
	}
	return m[1]
}

// signIn signs in with token and returns the session's CSRF token.
func (w *webClient) signIn(token string) (*http.Response, string) {
	_, page := w.get("/login")
	resp, body := w.post("/login", url.Values{"csrf": {csrfOf(w.t, page)}, "token": {token}})
	if resp.StatusCode != http.StatusSeeOther {
		return resp, body
	}
	_, page = w.get("/")
	return resp, csrfOf(w.t, page)
}

func TestPagesRedirectToLoginWithoutSession(t *testing.T) {
	e := newEnv(t)
	w := newClient(t, e.url)
	for _, p := range []string{"/", "/integrations/new", "/integrations/table", "/integrations/x/edit", "/integrations/x/rules",
		"/playground", "/dead-letters", "/no/such/page"} {
		resp, _ := w.get(p)
		if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/login" {
			t.Errorf("GET %s without a session: %s, Location %q; want 303 to /login", p, resp.Status, resp.Header.Get("Location"))
		}
	}
	// The API is not the console's: it keeps its Bearer tokens.
	if resp, _ := w.get("/v1/integrations"); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("GET /v1/integrations without a token: %s", resp.Status)
	}
	if resp, _ := w.get("/healthz"); resp.StatusCode != http.StatusOK {
		t.Errorf("GET /healthz: %s", resp.Status)
	}
	// A POST without a session is refused too, and changes nothing.
	if resp, _ := w.post("/wizard", url.Values{"action": {"finish"}, "name": {"x"}}); resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/login" {
		t.Errorf("POST /wizard without a session: %s", resp.Status)
	}
	if resp, _ := w.do("POST", "/api/scope", nil, map[string]string{"X-Requested-With": "fetch"}); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("POST /api/scope without a session: %s", resp.Status)
	}
	if len(e.svc.Statuses()) != 0 {
		t.Errorf("a POST without a session added an integration")
	}
}

func TestSignInCookie(t *testing.T) {
	e := newEnv(t)
	w := newClient(t, e.url)
	_, page := w.get("/login")
	if !strings.Contains(page, `<label for="token">`) || !strings.Contains(page, `name="token"`) {
		t.Fatalf("the sign-in form has no labelled token field:\n%s", page)
	}
	resp, _ := w.post("/login", url.Values{"csrf": {csrfOf(t, page)}, "token": {adminToken}})
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/" {
		t.Fatalf("sign in: %s to %q", resp.Status, resp.Header.Get("Location"))
	}
	var cookie string
	for _, c := range resp.Header.Values("Set-Cookie") {
		if strings.HasPrefix(c, "ocsfmap_session=") {
			cookie = c
		}
	}
	for _, want := range []string{"HttpOnly", "SameSite=Strict", "Path=/"} {
		if !strings.Contains(cookie, want) {
			t.Errorf("session cookie %q lacks %s", cookie, want)
		}
	}
	if strings.Contains(cookie, "Secure") {
		t.Errorf("session cookie over plain HTTP is Secure (the browser would drop it): %q", cookie)
	}
	if resp, _ := w.get("/"); resp.StatusCode != http.StatusOK {
		t.Errorf("GET / signed in: %s", resp.Status)
	}
}

func TestIngestTokenCannotSignIn(t *testing.T) {
	e := newEnv(t)
	w := newClient(t, e.url)
	resp, body := w.signIn(ingestToken)
	if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(body, "does not sign in") {
		t.Fatalf("sign in with the ingest token: %s\n%s", resp.Status, body)
	}
	for _, c := range resp.Header.Values("Set-Cookie") {
		if strings.HasPrefix(c, "ocsfmap_session=") {
			t.Errorf("an ingest token got a session cookie: %s", c)
		}
	}
	if resp, _ := w.get("/"); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("GET / after the refused sign-in: %s", resp.Status)
	}
	if strings.Contains(body, ingestToken) {
		t.Errorf("the refusal shows the token")
	}
	// Nor can a console be configured to take an ingest token as admin.
	if _, err := console.New(console.Options{Service: e.svc, AdminTokens: []string{ingestToken}, IngestTokens: []string{ingestToken}}); err == nil {
		t.Errorf("console.New took an ingest token as admin token")
	}
}

func TestPostWithoutCSRFIsForbidden(t *testing.T) {
	e := newEnv(t)
	w := newClient(t, e.url)
	_, csrf := w.signIn(adminToken)
	e.createIntegration(w, csrf, "acme")

	posts := []struct {
		path string
		form url.Values
	}{
		{"/wizard", url.Values{"mode": {"new"}, "step": {"start"}, "action": {"next"}, "name": {"x"}}},
		{"/integrations/acme/rules", url.Values{"action": {"delete"}, "index": {"0"}}},
		{"/playground", url.Values{"alert": {"{}"}}},
		{"/logout", url.Values{}},
	}
	for _, p := range posts {
		if resp, body := w.post(p.path, p.form); resp.StatusCode != http.StatusForbidden {
			t.Errorf("POST %s without CSRF token: %s\n%s", p.path, resp.Status, body)
		}
		p.form.Set("csrf", "wrong-"+csrf)
		if resp, _ := w.post(p.path, p.form); resp.StatusCode != http.StatusForbidden {
			t.Errorf("POST %s with a wrong CSRF token: %s", p.path, resp.Status)
		}
	}
	if resp, _ := w.do("POST", "/api/scope", nil, map[string]string{"Content-Type": "application/json"}); resp.StatusCode != http.StatusForbidden {
		t.Errorf("POST /api/scope without CSRF header: %s", resp.Status)
	}
	// The rule is still there: nothing changed.
	if _, page := w.get("/integrations/acme/rules"); !strings.Contains(page, "high-and-critical") {
		t.Errorf("a refused POST changed the rules")
	}
	// The sign-in form has a token of its own.
	if resp, _ := newClient(t, e.url).post("/login", url.Values{"token": {adminToken}}); resp.StatusCode != http.StatusForbidden {
		t.Errorf("POST /login without its CSRF token: %s", resp.Status)
	}
	// With the token, the same POST goes through.
	if resp, _ := w.post("/logout", url.Values{"csrf": {csrf}}); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("POST /logout with the CSRF token: %s", resp.Status)
	}
}

// createIntegration goes through the wizard without a browser, against the
// custom source made with the External ID the wizard generated.
func (e *env) createIntegration(w *webClient, csrf, name string) {
	e.t.Helper()
	_, page := w.get("/integrations/new")
	extID := regexp.MustCompile(`name="external_id" value="([a-z0-9]+)"`).FindStringSubmatch(page)
	if extID == nil {
		e.t.Fatalf("no External ID on the wizard:\n%s", page)
	}
	mapping := regexp.MustCompile(`<option value="([^"]+security_finding_1\.1\.0\.yaml)"`).FindStringSubmatch(page)
	if mapping == nil {
		e.t.Fatalf("no security_finding_1.1.0 mapping offered:\n%s", page)
	}
	e.createCustomSource(extID[1])
	form := url.Values{"csrf": {csrf}, "mode": {"new"}, "name": {name}, "destination": {"amazon-security-lake"},
		"mapping": {mapping[1]}, "role_arn": {roleARN}, "external_id": {extID[1]}, "bucket": {bucket},
		"region": {region}, "folder": {"/ext/" + source + "/"}, "path_style": {"on"}}
	for _, step := range []struct{ step, action, want string }{
		{"start", "next", "Cloud Storage"},
		{"storage", "test", "Connection successful"},
		{"storage", "next", "Review"},
	} {
		form.Set("step", step.step)
		form.Set("action", step.action)
		resp, body := w.post("/wizard", form)
		if resp.StatusCode != http.StatusOK || !strings.Contains(body, step.want) {
			e.t.Fatalf("wizard %s/%s: %s, want %q:\n%s", step.step, step.action, resp.Status, step.want, body)
		}
		if step.step == "start" && !strings.Contains(body, writerAccount) {
			e.t.Errorf("the Cloud Storage step does not show the writer's account %s", writerAccount)
		}
	}
	form.Set("step", "review")
	form.Set("action", "finish")
	resp, body := w.post("/wizard", form)
	if resp.StatusCode != http.StatusSeeOther {
		e.t.Fatalf("finish: %s\n%s", resp.Status, body)
	}
}

// TestNoSecretRendered walks every page in every state it has — wizard
// steps, a failed and a successful Test Connection, an integration with
// delivered alerts, dead letters, rules, the playground — and checks that
// none shows the writer's AWS secret key or session token, or a token.
func TestNoSecretRendered(t *testing.T) {
	e := newEnv(t)
	w := newClient(t, e.url)
	_, csrf := w.signIn(adminToken)
	var pages []string
	keep := func(resp *http.Response, body string) { pages = append(pages, resp.Request.URL.Path+"\n"+body) }

	// A refused Test Connection first (its detail quotes AWS's answer).
	_, page := w.get("/integrations/new")
	keep(&http.Response{Request: &http.Request{URL: &url.URL{Path: "/integrations/new"}}}, page)
	form := url.Values{"csrf": {csrf}, "mode": {"new"}, "step": {"storage"}, "action": {"test"}, "name": {"refused"},
		"destination": {"amazon-security-lake"}, "role_arn": {roleARN}, "external_id": {"wrongexternalid0123456789abcdefgh"},
		"bucket": {bucket}, "region": {region}, "folder": {"ext/" + source}, "path_style": {"on"}}
	resp, body := w.post("/wizard", form)
	if !strings.Contains(body, "The role refused the External ID") {
		t.Fatalf("a wrong External ID: %s\n%s", resp.Status, body)
	}
	keep(resp, body)

	e.createIntegration(w, csrf, "acme")
	e.postAlerts("acme", strings.Join(e.sample, "\n")+"\nnot json at all\n")
	waitFor(t, 30*time.Second, func() bool {
		st, _ := e.svc.Status("acme")
		return st.Objects > 0
	})
	for _, p := range []string{"/", "/integrations/table", "/integrations/acme/edit", "/integrations/acme/edit?step=storage",
		"/integrations/acme/edit?step=review", "/integrations/acme/rules", "/integrations/acme/rules?edit=0",
		"/playground", "/dead-letters", "/login"} {
		resp, body := w.get(p)
		if resp.StatusCode != http.StatusOK && p != "/login" {
			t.Errorf("GET %s: %s", p, resp.Status)
		}
		keep(resp, body)
	}
	resp, body = w.post("/playground", url.Values{"csrf": {csrf}, "pick": {"acme:0"}})
	keep(resp, body)
	if !strings.Contains(html.UnescapeString(body), `"class_uid": 2001`) {
		t.Errorf("the playground did not map the recent alert:\n%s", body)
	}
	resp, body = w.do("POST", "/api/scope", nil, map[string]string{"X-CSRF-Token": csrf})
	keep(resp, body)

	for _, p := range pages {
		for _, secret := range []string{writerSecret, writerSession, adminToken, ingestToken, e.srv.SecretKey} {
			if strings.Contains(p, secret) {
				t.Errorf("page %s shows a secret (%.8s…)", strings.SplitN(p, "\n", 2)[0], secret)
			}
		}
	}
	if len(pages) < 12 {
		t.Errorf("only %d pages checked", len(pages))
	}
}

func waitFor(t *testing.T, d time.Duration, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("not within %s", d)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func TestDisable(t *testing.T) {
	e := newEnv(t)
	w := newClient(t, e.url)
	_, csrf := w.signIn(adminToken)
	e.createIntegration(w, csrf, "acme")
	post := func() int {
		req, _ := http.NewRequest("POST", e.url+"/v1/integrations/acme/alerts", strings.NewReader(e.sample[0]))
		req.Header.Set("Authorization", "Bearer "+ingestToken)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := post(); code != http.StatusAccepted {
		t.Fatalf("ingest while enabled: %d", code)
	}
	if resp, body := w.post("/integrations/acme/enabled", url.Values{"csrf": {csrf}}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("disable: %s\n%s", resp.Status, body)
	}
	if st, _ := e.svc.Status("acme"); !st.Disabled {
		t.Errorf("status after Disable: %+v", st)
	}
	if code := post(); code != http.StatusConflict {
		t.Errorf("ingest while disabled: %d, want 409", code)
	}
	if _, page := w.get("/"); !strings.Contains(page, `badge disabled`) {
		t.Errorf("the list does not show Disabled")
	}
	if resp, _ := w.post("/integrations/acme/enabled", url.Values{"csrf": {csrf}, "enabled": {"on"}}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("enable: %s", resp.Status)
	}
	if code := post(); code != http.StatusAccepted {
		t.Errorf("ingest enabled again: %d", code)
	}
}
