package console_test

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// go test ./engine/console -run Browser -args -screenshots DIR
var screenshots = flag.String("screenshots", "", "save a screenshot of each page the browser tests visit into this `folder`")

const chromium = "/usr/bin/chromium"

// browser starts Debian's chromium headless with a fresh profile. It is
// not optional: `make tools` installs it (.ci/tools-chromium.sh).
func browser(t *testing.T) context.Context {
	t.Helper()
	if _, err := os.Stat(chromium); err != nil {
		t.Fatalf("%s not found: run 'make tools' (.ci/tools-chromium.sh installs Debian's chromium)", chromium)
	}
	actx, cancel := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(chromium),
		chromedp.Flag("headless", true),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1360, 900),
	)
	t.Cleanup(cancel)
	ctx, cancelCtx := chromedp.NewContext(actx)
	t.Cleanup(cancelCtx)
	// The first Run starts the browser; it must not carry a timeout.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return ctx
}

// shot saves a full-page screenshot as DIR/NN-name.png with -screenshots.
func shot(t *testing.T, ctx context.Context, n int, name string) {
	t.Helper()
	if *screenshots == "" {
		return
	}
	if err := os.MkdirAll(*screenshots, 0o755); err != nil {
		t.Fatal(err)
	}
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	if err := os.WriteFile(filepath.Join(*screenshots, fmt.Sprintf("%02d-%s.png", n, name)), png, 0o644); err != nil {
		t.Fatal(err)
	}
}

// run runs steps with a deadline, failing the test with what was tried.
func run(t *testing.T, ctx context.Context, what string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	c, cancel := context.WithTimeout(ctx, 45*time.Second)
	defer cancel()
	if err := chromedp.Do(c, steps...); err != nil {
		t.Fatalf("%s: %v\npage:\n%s", what, err, page(ctx))
	}
}

// page is the current page's location and markup, for failure messages.
func page(ctx context.Context) string {
	c, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	loc, _ := chromedp.Run(c, chromedp.Location())
	html, err := chromedp.Run(c, chromedp.Evaluate[string](`document.documentElement.outerHTML`))
	if err != nil {
		return loc + ": " + err.Error()
	}
	return loc + "\n" + html
}

func get[T any](t *testing.T, ctx context.Context, what string, a chromedp.Action[T]) T {
	t.Helper()
	c, cancel := context.WithTimeout(ctx, 45*time.Second)
	defer cancel()
	v, err := chromedp.Run(c, a)
	if err != nil {
		t.Fatalf("%s: %v\npage:\n%s", what, err, page(ctx))
	}
	return v
}

// focused is the id of the element with the focus.
func focused(t *testing.T, ctx context.Context) string {
	return get(t, ctx, "active element", chromedp.Evaluate[string](`document.activeElement ? document.activeElement.id : ""`))
}

func text(t *testing.T, ctx context.Context, sel string) string {
	t.Helper()
	return get(t, ctx, "text of "+sel, chromedp.Text(chromedp.CSS(sel)))
}

// TestBrowser clicks through the console as a new user would, in a real
// browser: sign in, add an integration with the wizard using the keyboard
// alone, Test Connection refused then successful, alerts posted to the
// ingest API turning the row Success, a rule with a typo, the playground,
// the dead letters.
func TestBrowser(t *testing.T) {
	e := newEnv(t)
	ctx := browser(t)

	// Sign in.
	run(t, ctx, "sign-in page", chromedp.Navigate(e.url+"/"), chromedp.WaitVisible(chromedp.CSS("#token")))
	if got := get(t, ctx, "location", chromedp.Location()); !strings.HasSuffix(got, "/login") {
		t.Fatalf("without a session / went to %s, want /login", got)
	}
	if id := focused(t, ctx); id != "token" {
		t.Errorf("the sign-in page focuses %q, want the token field", id)
	}
	run(t, ctx, "type a wrong token", chromedp.KeyEvent(ingestToken+"\r"), chromedp.WaitVisible(chromedp.CSS("main .error")))
	if msg := text(t, ctx, "main .error"); !strings.Contains(msg, "does not sign in") {
		t.Errorf("an ingest token at sign-in: %q", msg)
	}
	run(t, ctx, "type the admin token", chromedp.SendKeys(chromedp.CSS("#token"), adminToken))
	shot(t, ctx, 1, "sign-in")
	run(t, ctx, "sign in", chromedp.KeyEvent("\r"), chromedp.WaitVisible(chromedp.CSS("table.integrations")))
	shot(t, ctx, 2, "integrations-empty")

	// The wizard, with the keyboard alone: Enter on the focused link, type,
	// Tab, Space, Enter.
	run(t, ctx, "open the wizard", chromedp.Focus(chromedp.CSS(`a[href="/integrations/new"]`)), chromedp.KeyEvent("\r"),
		chromedp.WaitVisible(chromedp.CSS("#name")))
	if id := focused(t, ctx); id != "name" {
		t.Fatalf("the wizard's first step focuses %q, want the name field", id)
	}
	checkLabels(t, ctx)
	run(t, ctx, "type the name", chromedp.KeyEvent("acme"))
	shot(t, ctx, 3, "wizard-integration")
	run(t, ctx, "next", chromedp.KeyEvent("\r"), chromedp.WaitVisible(chromedp.CSS("#role_arn")))
	checkLabels(t, ctx)
	if got := get(t, ctx, "account", chromedp.Value(chromedp.CSS("#account"))); got != writerAccount {
		t.Errorf("the Cloud Storage step shows account %q, want the writer's %s", got, writerAccount)
	}
	extID := get(t, ctx, "external ID", chromedp.Value(chromedp.CSS("#external_id")))
	if len(extID) != 32 {
		t.Fatalf("External ID %q: want 32 characters, freshly generated", extID)
	}
	if id := focused(t, ctx); id != "role_arn" {
		t.Fatalf("the Cloud Storage step focuses %q, want the role ARN", id)
	}
	// role ARN, Tab, bucket, Tab, region (typed into the list), Tab, folder,
	// Tab, Space (path-style), Tab, Tab (Next), Tab (Test Connection), Enter.
	run(t, ctx, "fill in the Cloud Storage step",
		chromedp.KeyEvent(roleARN+"\t"+bucket+"\t"+region+"\t/ext/"+source+"/\t \t\t\t"))
	if id := focused(t, ctx); id != "test-connection" {
		t.Fatalf("after tabbing through the fields the focus is on %q, want Test Connection", id)
	}
	shot(t, ctx, 4, "wizard-cloud-storage")
	// The custom source was created with another External ID: refused.
	run(t, ctx, "Test Connection (wrong External ID)", chromedp.KeyEvent("\r"), chromedp.WaitVisible(chromedp.CSS("#check-result")))
	if got := text(t, ctx, "#check-result"); !strings.Contains(got, "The role refused the External ID") {
		t.Fatalf("Test Connection with a wrong External ID shows:\n%s", got)
	}
	if got := get(t, ctx, "region kept", chromedp.Value(chromedp.CSS("#region"))); got != region {
		t.Errorf("region after the test: %q, want %s (typed into the list)", got, region)
	}
	shot(t, ctx, 5, "test-connection-refused")

	// Now the custom source has the External ID the page gave.
	e.createCustomSource(extID)
	run(t, ctx, "Test Connection", chromedp.Focus(chromedp.CSS("#test-connection")), chromedp.KeyEvent("\r"),
		chromedp.WaitVisible(chromedp.CSS("#check-result.ok")))
	if got := text(t, ctx, "#check-result"); !strings.Contains(got, "Connection successful") || !strings.Contains(got, bucket) {
		t.Fatalf("Test Connection shows:\n%s", got)
	}
	shot(t, ctx, 6, "test-connection-ok")
	run(t, ctx, "next (Enter in a field)", chromedp.Focus(chromedp.CSS("#bucket")), chromedp.KeyEvent("\r"),
		chromedp.WaitVisible(chromedp.CSS("dl.summary")))
	review := text(t, ctx, "form.wizard")
	for _, want := range []string{"acme", roleARN, bucket, region, "ext/" + source + "/", extID, "Edit cloud storage"} {
		if !strings.Contains(review, want) {
			t.Errorf("the review lacks %q:\n%s", want, review)
		}
	}
	shot(t, ctx, 7, "wizard-review")
	run(t, ctx, "finish", chromedp.Focus(chromedp.CSS(`button[value="finish"]`)), chromedp.KeyEvent("\r"),
		chromedp.WaitVisible(chromedp.CSS(`tr[data-name="acme"]`)))
	if got := text(t, ctx, `tr[data-name="acme"] .badge`); got != "Pending" {
		t.Errorf("a new integration shows %q, want Pending", got)
	}
	if _, err := os.Stat(filepath.Join(e.dir, "acme.yaml")); err != nil {
		t.Errorf("no integration file: %v", err)
	}
	shot(t, ctx, 8, "integrations-pending")

	// Alerts through the ingest API: the row turns Success by itself.
	e.postAlerts("acme", strings.Join(e.sample, "\n")+"\n{\"risk\": \"High\"}\nthis line is not JSON\n")
	run(t, ctx, "wait for Success", chromedp.Action[chromedp.Void](func(ctx context.Context, tg *chromedp.Target) (chromedp.Void, error) {
		_, err := chromedp.Poll[bool](`(function(){var b=document.querySelector('tr[data-name="acme"] .badge');`+
			`var w=document.querySelector('tr[data-name="acme"] td[data-col="written"]');`+
			`return b && b.textContent==="Success" && w && w.textContent.trim()!=="0";})()`,
			chromedp.WithPollingInterval(200*time.Millisecond), chromedp.WithPollingTimeout(40*time.Second))(ctx, tg)
		return chromedp.Void{}, err
	}))
	st, _ := e.svc.Status("acme")
	if st.Alerts.Written == 0 || st.Alerts.Filtered == 0 || st.Objects == 0 {
		t.Errorf("status after delivery: %+v", st.Alerts)
	}
	if got := text(t, ctx, `tr[data-name="acme"] td[data-col="written"]`); got != fmt.Sprint(st.Alerts.Written) {
		t.Errorf("the row shows %s written, the status %d", got, st.Alerts.Written)
	}
	shot(t, ctx, 9, "integrations-success")

	// A rule with a typo: the diagnostic and its position, as it is typed.
	run(t, ctx, "rules page", chromedp.Navigate(e.url+"/integrations/acme/rules"), chromedp.WaitVisible(chromedp.CSS("#scope")))
	checkLabels(t, ctx)
	run(t, ctx, "type a rule with a typo",
		chromedp.Focus(chromedp.CSS("#rule_name")), chromedp.KeyEvent("governance"),
		chromedp.Focus(chromedp.CSS("#scope")), chromedp.KeyEvent(`policy_type == "Data Governance" && lowr(risk) == "high"`),
		chromedp.WaitVisible(chromedp.CSS("#scope-diag .field-error")))
	diag := text(t, ctx, "#scope-diag")
	for _, want := range []string{"Line 1, column 37", "unknown function lowr", "did you mean lower"} {
		if !strings.Contains(diag, want) {
			t.Errorf("the typo's diagnostic lacks %q:\n%s", want, diag)
		}
	}
	shot(t, ctx, 10, "rules-typo")
	// Fixed, it compiles and previews over the recent alerts; saved, it is listed.
	run(t, ctx, "fix the typo", chromedp.SetValue(chromedp.CSS("#scope"), `policy_type == "Data Governance" && lower(risk ?? "") == "high"`),
		chromedp.KeyEvent(" "), chromedp.WaitVisible(chromedp.CSS("#scope-diag .ok")))
	if got := text(t, ctx, "#scope-diag"); !strings.Contains(got, "Compiles. Of the last") {
		t.Errorf("the fixed scope: %q", got)
	}
	// The preview shows what the rules would export with the draft saved.
	run(t, ctx, "the draft's preview column", chromedp.WaitVisible(chromedp.CSS("table.preview th.draft")))
	if got := text(t, ctx, "table.preview tbody tr:first-child td.draft"); got != "filtered" && got != "high-and-critical" && got != "governance" {
		t.Errorf("the draft's preview cell: %q", got)
	}
	shot(t, ctx, 11, "rules-draft-preview")
	run(t, ctx, "save the rule", chromedp.Focus(chromedp.CSS("#rule_name")), chromedp.KeyEvent("\r"),
		chromedp.WaitVisible(chromedp.CSS("main .flash")))
	if got := text(t, ctx, "main table"); !strings.Contains(got, "governance") {
		t.Errorf("the saved rule is not listed:\n%s", got)
	}
	shot(t, ctx, 17, "rules-saved")

	// The playground maps a sample alert.
	run(t, ctx, "playground", chromedp.Navigate(e.url+"/playground"), chromedp.WaitVisible(chromedp.CSS("#alert")))
	checkLabels(t, ctx)
	run(t, ctx, "paste an alert and map it", chromedp.SetValue(chromedp.CSS("#alert"), e.sample[0]),
		chromedp.Click(chromedp.CSS("#map")), chromedp.WaitVisible(chromedp.CSS("#ocsf-output")))
	out := text(t, ctx, "#ocsf-output")
	for _, want := range []string{`"class_uid": 2001`, `"uid": "700ad774-070a-4f40-a577-de89aceeb536"`} {
		if !strings.Contains(out, want) {
			t.Errorf("the OCSF record lacks %s:\n%s", want, out)
		}
	}
	if got := text(t, ctx, "details.explain"); !strings.Contains(got, "finding.uid") {
		t.Errorf("no explain table")
	}
	shot(t, ctx, 12, "playground")

	// A recent alert picked from the list maps too.
	run(t, ctx, "pick a recent alert",
		chromedp.Action[chromedp.Void](func(ctx context.Context, tg *chromedp.Target) (chromedp.Void, error) {
			_, err := chromedp.Evaluate[bool](`(function(){var o=document.getElementById("ocsf-output");if(o)o.remove();document.getElementById("alert").value="";var p=document.getElementById("pick");p.value="acme:0";return p.value==="acme:0";})()`)(ctx, tg)
			return chromedp.Void{}, err
		}),
		chromedp.Click(chromedp.CSS("#map")),
		chromedp.WaitVisible(chromedp.CSS("#ocsf-output, #map-error")))
	picked := get(t, ctx, "the picked alert's outcome", chromedp.Evaluate[string](
		`(document.getElementById("ocsf-output") || document.getElementById("map-error")).textContent`))
	if !strings.Contains(picked, `"class_uid": 2001`) && !strings.Contains(picked, "R40") {
		t.Errorf("a recent alert picked in the playground: %q", picked)
	}
	shot(t, ctx, 16, "playground-recent-alert")

	// Dead letters: the line that was not JSON, and the alert the mapping refused.
	run(t, ctx, "dead letters", chromedp.Navigate(e.url+"/dead-letters"), chromedp.WaitVisible(chromedp.CSS("table.dead")))
	dead := text(t, ctx, "table.dead")
	for _, want := range []string{"R400", "this line is not JSON"} {
		if !strings.Contains(dead, want) && !strings.Contains(get(t, ctx, "dead html", chromedp.OuterHTML(chromedp.CSS("table.dead"))), want) {
			t.Errorf("the dead letters lack %q:\n%s", want, dead)
		}
	}
	shot(t, ctx, 13, "dead-letters")

	// Edit goes through the same wizard, with the integration's values.
	run(t, ctx, "edit", chromedp.Navigate(e.url+"/integrations/acme/edit?step=storage"), chromedp.WaitVisible(chromedp.CSS("#role_arn")))
	if got := get(t, ctx, "edit external ID", chromedp.Value(chromedp.CSS("#external_id"))); got != extID {
		t.Errorf("editing shows External ID %q, want the integration's %s", got, extID)
	}
	shot(t, ctx, 14, "wizard-edit")

	// Disable it the same way: untick Enabled on the first step, then Next,
	// Next, Finish, with the keyboard.
	run(t, ctx, "edit, first step", chromedp.Navigate(e.url+"/integrations/acme/edit"), chromedp.WaitVisible(chromedp.CSS("#enabled")),
		chromedp.Focus(chromedp.CSS("#enabled")), chromedp.KeyEvent(" \t\r"), chromedp.WaitVisible(chromedp.CSS("#role_arn")))
	run(t, ctx, "edit, cloud storage", chromedp.Focus(chromedp.CSS("#bucket")), chromedp.KeyEvent("\r"), chromedp.WaitVisible(chromedp.CSS("dl.summary")))
	if got := text(t, ctx, "main"); !strings.Contains(got, "Disabled (new alerts refused)") {
		t.Errorf("the review does not say Disabled:\n%s", got)
	}
	run(t, ctx, "finish the edit", chromedp.Focus(chromedp.CSS(`button[value="finish"]`)), chromedp.KeyEvent("\r"),
		chromedp.WaitVisible(chromedp.CSS(`tr[data-name="acme"] .badge.disabled`)))
	if src, _ := os.ReadFile(filepath.Join(e.dir, "acme.yaml")); !strings.Contains(string(src), "enabled: false") || !strings.Contains(string(src), "governance") {
		t.Errorf("the edited file:\n%s", src)
	}
	shot(t, ctx, 15, "integrations-disabled")
}

// checkLabels fails when a form field of the page has no label.
func checkLabels(t *testing.T, ctx context.Context) {
	t.Helper()
	unlabelled := get(t, ctx, "labels", chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll('input:not([type=hidden]), select, textarea'))
		.filter(function (el) { return !(el.labels && el.labels.length) && !el.getAttribute('aria-label'); })
		.map(function (el) { return el.outerHTML; })`))
	for _, u := range unlabelled {
		t.Errorf("a field without a label: %s", u)
	}
}
