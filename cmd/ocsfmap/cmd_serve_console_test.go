package main

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// With an admin token, serve mounts the console at / beside the API: pages
// redirect to the sign-in, the admin token signs in, the API keeps its own
// tokens and paths.
func TestServeConsoleMounted(t *testing.T) {
	const admin = "serve-test-admin-token-0123456789"
	tokenFile := filepath.Join(t.TempDir(), "admin-token")
	os.WriteFile(tokenFile, []byte("# the console's\n"+admin+"\n"), 0o600)
	f := newServeFixture(t, "", "--admin-token-file", tokenFile, "--allowed-host", "console.example", "--secure-cookies")
	f.start()
	defer f.stop()
	base := "http://" + f.addr
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	get := func(path string) (*http.Response, string) {
		t.Helper()
		resp, err := c.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return resp, string(b)
	}
	if resp, _ := get("/"); resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/login" {
		t.Fatalf("GET / without a session: %s %q", resp.Status, resp.Header.Get("Location"))
	}
	for _, p := range []string{"/healthz", "/readyz"} {
		if resp, _ := get(p); resp.StatusCode != http.StatusOK {
			t.Errorf("GET %s: %s", p, resp.Status)
		}
	}
	if resp, _ := get("/metrics"); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("GET /metrics without a token: %s", resp.Status)
	}
	// A name that is not the server's (DNS rebinding) is refused; one
	// given with --allowed-host is not (issue 20, L3).
	for host, want := range map[string]int{"evil.example": http.StatusMisdirectedRequest, "console.example": http.StatusSeeOther} {
		req, _ := http.NewRequest("GET", base+"/", nil)
		req.Host = host
		if resp, err := c.Do(req); err != nil || resp.StatusCode != want {
			t.Errorf("GET / with Host %s: %v %v, want %d", host, resp.StatusCode, err, want)
		}
	}
	if resp, _ := get("/v1/integrations"); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("the API without a token: %s", resp.Status)
	}
	_, page := get("/login")
	csrf := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindStringSubmatch(page)
	if csrf == nil {
		t.Fatalf("sign-in page:\n%s", page)
	}
	for _, tok := range []string{serveToken, admin} {
		resp, err := c.PostForm(base+"/login", url.Values{"csrf": {csrf[1]}, "token": {tok}})
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if tok == admin { // --secure-cookies: the browser sends it over HTTPS only (issue 20, L5)
			if ck := resp.Header.Get("Set-Cookie"); !strings.Contains(ck, "Secure") {
				t.Errorf("--secure-cookies: the session cookie is %q", ck)
			}
			// The jar keeps a Secure cookie for https only: hand it over.
			for _, ck := range resp.Cookies() {
				ck.Secure = false
				jar.SetCookies(resp.Request.URL, []*http.Cookie{ck})
			}
		}
		want := http.StatusSeeOther
		if tok == serveToken {
			want = http.StatusUnauthorized // the ingest token does not sign in
		}
		if resp.StatusCode != want {
			t.Errorf("sign in with %.12s…: %s, want %d", tok, resp.Status, want)
		}
	}
	if resp, body := get("/"); resp.StatusCode != http.StatusOK || !strings.Contains(body, `data-name="dspm"`) {
		t.Errorf("the Integrations page: %s\n%s", resp.Status, body)
	}
}

// An admin token that is also an ingest token, or half of the TLS pair,
// stops serve at the start.
func TestServeConsoleFlags(t *testing.T) {
	for _, c := range []struct {
		args []string
		env  string
		want string
	}{
		{nil, "OCSFMAP_ADMIN_TOKEN=" + serveToken, "also an ingest token"},
		{nil, "OCSFMAP_INGEST_TOKEN=" + serveToken + ",short-token", "an ingest token needs at least 16 characters"},
		{[]string{"--tls-cert", "cert.pem"}, "OCSFMAP_ADMIN_TOKEN=serve-test-admin-token-0123456789", "--tls-cert and --tls-key together"},
	} {
		cmd := exec.Command(bin, append([]string{"serve", "-c", t.TempDir()}, c.args...)...)
		cmd.Env = append(os.Environ(), "OCSFMAP_INGEST_TOKEN="+serveToken, c.env)
		out, err := cmd.CombinedOutput()
		if err == nil || !strings.Contains(string(out), c.want) {
			t.Errorf("serve %v with %s: %v\n%s", c.args, c.env, err, out)
		}
	}
}
