package console

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/ocsfmap/ocsfmap/engine/service"
)

// The wizard asks one custom source per class the mapping emits: Security
// Lake takes one class per custom source. CloudTrail's mapping routes
// records to two classes; the rest is the real console over HTTP.
func TestWizardPerClass(t *testing.T) {
	const admin = "admin-token-for-the-per-class-wizard"
	api, err := filepath.Abs("../../mappings/aws-cloudtrail/cloudtrail_1.1.0.yaml")
	if err != nil {
		t.Fatal(err)
	}

	dir := filepath.Join(t.TempDir(), "integrations")
	os.MkdirAll(dir, 0o755)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	svc, err := service.New(service.Config{Paths: []string{dir}, DataDir: t.TempDir(), AllowNoIntegrations: true, NoSync: true, Logger: log,
		IngestTokens: []string{"ingest-token-for-the-per-class-wizard"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { svc.Close() })
	c, err := New(Options{Service: svc, AdminTokens: []string{admin}, Dir: dir, Mappings: []string{api}, Logger: log,
		CallerAccount: func(context.Context, string) (string, error) { return "111122223333", nil }})
	if err != nil {
		t.Fatal(err)
	}
	web := httptest.NewServer(c)
	t.Cleanup(web.Close)

	jar, _ := cookiejar.New(nil)
	hc := &http.Client{Jar: jar, Timeout: time.Minute, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	csrfRE := regexp.MustCompile(`name="csrf" value="([^"]+)"`)
	do := func(method, path string, form url.Values) (int, string) {
		t.Helper()
		var body io.Reader
		if form != nil {
			body = strings.NewReader(form.Encode())
		}
		req, _ := http.NewRequest(method, web.URL+path, body)
		if form != nil {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		text, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(text)
	}
	csrf := func(page string) string {
		t.Helper()
		m := csrfRE.FindStringSubmatch(page)
		if m == nil {
			t.Fatalf("no CSRF token:\n%s", page)
		}
		return m[1]
	}
	_, page := do("GET", "/login", nil)
	if code, _ := do("POST", "/login", url.Values{"csrf": {csrf(page)}, "token": {admin}}); code != http.StatusSeeOther {
		t.Fatalf("sign in: %d", code)
	}
	_, page = do("GET", "/integrations/new", nil)
	extID := regexp.MustCompile(`name="external_id" value="([a-z0-9]+)"`).FindStringSubmatch(page)
	if extID == nil {
		t.Fatalf("no External ID:\n%s", page)
	}
	form := url.Values{"csrf": {csrf(page)}, "mode": {"new"}, "name": {"cloudtrail"}, "destination": {"amazon-security-lake"},
		"mapping": {api}, "external_id": {extID[1]}, "bucket": {"aws-security-data-lake-us-east-2-o-x"}, "region": {"us-east-2"},
		"role_arn.api_activity":   {"arn:aws:iam::444455556666:role/AmazonSecurityLake-Provider-ct_api-us-east-2"},
		"folder.api_activity":     {"/ext/ct_api/"},
		"role_arn.authentication": {"not an arn"},
		"folder.authentication":   {"/ext/ct_api/"},
	}
	post := func(step, action string, want int) string {
		t.Helper()
		form.Set("step", step)
		form.Set("action", action)
		code, body := do("POST", "/wizard", form)
		if code != want {
			t.Fatalf("%s/%s: %d, want %d:\n%s", step, action, code, want, body)
		}
		return body
	}

	body := post("start", "next", http.StatusOK)
	for _, want := range []string{"The mapping emits 2 classes",
		"Custom source for API Activity (class_uid 6003)", "Custom source for Authentication (class_uid 3002)",
		`name="role_arn.authentication"`, `name="folder.api_activity" value="/ext/ct_api/"`} {
		if !strings.Contains(body, want) {
			t.Errorf("the Cloud Storage step lacks %q", want)
		}
	}
	if strings.Contains(body, `id="role_arn"`) || strings.Contains(body, `id="folder"`) {
		t.Errorf("the Cloud Storage step still asks one role and folder")
	}

	// A bad role and a folder shared by two classes: said at the class's fields.
	body = post("storage", "next", http.StatusUnprocessableEntity)
	for _, want := range []string{`id="role-err.authentication"`, `id="folder-err.authentication"`, "The folder of api_activity too"} {
		if !strings.Contains(body, want) {
			t.Errorf("the refused step lacks %q:\n%s", want, body)
		}
	}
	if strings.Contains(body, `id="role-err.api_activity"`) || strings.Contains(body, `id="folder-err.api_activity"`) {
		t.Errorf("api_activity's good values were refused")
	}

	form.Set("role_arn.authentication", "arn:aws:iam::444455556666:role/AmazonSecurityLake-Provider-ct_auth-us-east-2")
	form.Set("folder.authentication", "ext/ct_auth")
	body = post("storage", "next", http.StatusOK)
	for _, want := range []string{"Review", "folder <code>ext/ct_api/</code>", "folder <code>ext/ct_auth/</code>",
		`name="folder.authentication" value="ext/ct_auth/"`, "AmazonSecurityLake-Provider-ct_auth-us-east-2"} {
		if !strings.Contains(body, want) {
			t.Errorf("the review lacks %q", want)
		}
	}

	// Finish loads the file as serve would and writes one custom source per
	// class.
	post("review", "finish", http.StatusSeeOther)
	text, err := os.ReadFile(filepath.Join(dir, "cloudtrail.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"custom_sources:", "api_activity:", "ext/ct_api/", "authentication:", "ext/ct_auth/"} {
		if !strings.Contains(string(text), want) {
			t.Errorf("the integration file lacks %q:\n%s", want, text)
		}
	}
	// The Integrations page names both custom sources.
	if _, page := do("GET", "/", nil); !strings.Contains(page, "ext/ct_api/ ext/ct_auth/") {
		t.Errorf("the Integrations page does not list both custom sources:\n%s", page)
	}
}
