package console_test

import (
	"html"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
)

// TestPlaygroundRoutedMapping: with a mapping of several classes, the
// playground names the class the route sent the record to, validates it
// against that class's schema and explains that class's table.
func TestPlaygroundRoutedMapping(t *testing.T) {
	e := newEnv(t)
	w := newClient(t, e.url)
	_, csrf := w.signIn(adminToken)
	mapping, err := filepath.Abs("../../mappings/aws-cloudtrail/cloudtrail_1.1.0.yaml")
	if err != nil {
		t.Fatal(err)
	}
	_, page := w.get("/playground")
	if !strings.Contains(html.UnescapeString(page), "cloudtrail_1.1.0.yaml — OCSF 1.1.0 API Activity (6003), Authentication (3002)") {
		t.Fatalf("the mapping choice does not list both classes:\n%s", page)
	}
	for _, tc := range []struct{ alert, class, uid, row string }{
		{`{"eventTime": "2018-07-24T18:32:11Z", "eventName": "ConsoleLogin", "awsRegion": "us-east-1", "userIdentity": {"type": "Root", "principalId": "1", "accountId": "1"}}`,
			"Authentication (3002)", `"class_uid": 3002`, "<code>is_mfa</code>"},
		{`{"eventTime": "2018-07-24T18:32:11Z", "eventName": "ListBuckets", "awsRegion": "us-east-1", "sourceIPAddress": "192.0.2.1", "userIdentity": {"type": "Root", "principalId": "1", "accountId": "1"}}`,
			"API Activity (6003)", `"class_uid": 6003`, "<code>api.operation</code>"},
	} {
		resp, body := w.post("/playground", url.Values{"csrf": {csrf}, "mapping": {mapping}, "alert": {tc.alert}})
		text := html.UnescapeString(body)
		for _, want := range []string{"The route sent the record to class <strong>" + tc.class + "</strong>", tc.uid, tc.row,
			`id="schema-ok"`, "the class the route names: event_name =="} {
			if !strings.Contains(text, want) {
				t.Errorf("%s: %s, want %q in\n%s", tc.class, resp.Status, want, text)
			}
		}
	}
}
