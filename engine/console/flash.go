package console

import (
	"fmt"
	"net/url"
	"slices"
)

// A page reached by a redirect after a POST says what was done with a code
// from this fixed set, never with text from the URL: a link crafted
// elsewhere cannot put its words on a trusted page. A name is shown only
// when it names an integration (or a rule of it) that exists.
var flashes = map[string]struct{ named, anonymous string }{
	"added":    {"Integration %s added. It shows Pending until its first alerts are delivered.", "Integration added. It shows Pending until its first alerts are delivered."},
	"saved":    {"Integration %s saved and reloaded.", "Integration saved and reloaded."},
	"enabled":  {"Integration %s enabled.", "Integration enabled."},
	"disabled": {"Integration %s disabled: new alerts are refused; what was accepted is still delivered.", "Integration disabled: new alerts are refused; what was accepted is still delivered."},

	"rule-added":    {"Rule %s added.", "Rule added."},
	"rule-saved":    {"Rule %s saved.", "Rule saved."},
	"rule-enabled":  {"Rule %s enabled.", "Rule enabled."},
	"rule-disabled": {"Rule %s disabled.", "Rule disabled."},
	"rule-deleted":  {"Rule %s deleted.", "Rule deleted."},
}

// flashQuery is the query a redirect carries: the code and the name.
func flashQuery(code, name string) string {
	return "done=" + url.QueryEscape(code) + "&name=" + url.QueryEscape(name)
}

// flashText is the message for the query's code; known says which names
// may be shown. An unknown code shows nothing.
func flashText(q url.Values, known []string) string {
	f, ok := flashes[q.Get("done")]
	if !ok {
		return ""
	}
	if name := q.Get("name"); name != "" && slices.Contains(known, name) {
		return fmt.Sprintf(f.named, name)
	}
	return f.anonymous
}
