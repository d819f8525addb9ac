package console

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/ocsfmap/ocsfmap/engine/exprenv"
	"github.com/ocsfmap/ocsfmap/engine/filter"
	"github.com/ocsfmap/ocsfmap/engine/integration"
	"github.com/ocsfmap/ocsfmap/engine/service"
)

type rulesData struct {
	Name     string
	File     string
	Rules    []ruleRow
	Edit     int // index being edited, -1: none
	Form     ruleForm
	FormErr  string
	Preview  []previewRow
	Exported int
	Filtered int
}

type ruleRow struct {
	Index    int
	Name     string
	Enabled  bool
	Scope    string
	Exported int64
}

type ruleForm struct {
	Index   int // -1: a new rule
	Name    string
	Scope   string
	Enabled bool
}

type previewRow struct {
	At      time.Time
	Summary string
	Rule    string // the rule that exports it, "" when filtered
	Error   string // a scope that failed to evaluate
	Alert   string
}

func (c *Console) rulesPage(w http.ResponseWriter, r *http.Request, s *session) {
	edit := -1
	if e, err := strconv.Atoi(r.URL.Query().Get("edit")); err == nil {
		edit = e
	}
	d, in, ok := c.rulesData(w, r, s, r.PathValue("name"))
	if !ok {
		return
	}
	d.Edit = edit
	d.Form = ruleForm{Index: -1, Enabled: true}
	if edit >= 0 && edit < len(in.Rules) {
		rl := in.Rules[edit]
		d.Form = ruleForm{Index: edit, Name: rl.Name, Scope: rl.Scope, Enabled: rl.Enabled}
	}
	names := make([]string, len(in.Rules))
	for i, rl := range in.Rules {
		names[i] = rl.Name
	}
	flash := flashText(r.URL.Query(), names)
	c.render(w, r, http.StatusOK, "rules", s, pageData{Title: "Alert rules: " + d.Name, Nav: "integrations", Flash: flash, Data: d})
}

// rulesData loads the integration file's rules (the file is the truth)
// and previews them over the recent alerts.
func (c *Console) rulesData(w http.ResponseWriter, r *http.Request, s *session, name string) (*rulesData, *integration.Integration, bool) {
	st, ok := c.svc.Status(name)
	if !ok {
		c.notFound(w, r, s, name)
		return nil, nil, false
	}
	in, err := integration.LoadIntegration(st.File)
	if err != nil {
		c.render(w, r, http.StatusInternalServerError, "error", s, pageData{Title: "Alert rules: " + name, Nav: "integrations",
			Error: "The integration file does not load; fix it by hand, then reload: " + err.Error()})
		return nil, nil, false
	}
	d := &rulesData{Name: name, File: st.File, Edit: -1}
	for i, rl := range in.Rules {
		d.Rules = append(d.Rules, ruleRow{Index: i, Name: rl.Name, Enabled: rl.Enabled, Scope: rl.Scope, Exported: st.Alerts.ExportedByRule[rl.Name]})
	}
	d.Preview = preview(in.Rules, c.svc.Recent(name))
	for _, p := range d.Preview {
		if p.Rule != "" {
			d.Exported++
		} else {
			d.Filtered++
		}
	}
	return d, in, true
}

// preview runs the rules over the recent alerts: which would be exported,
// and by which rule.
func preview(rules []integration.Rule, recent []service.Recent) []previewRow {
	fr := make([]filter.Rule, len(rules))
	for i, rl := range rules {
		fr[i] = filter.Rule{Name: rl.Name, Enabled: rl.Enabled, Scope: rl.Scope, Pos: rl.ScopePos}
	}
	f, diags := filter.Compile(fr)
	var m *filter.Matcher
	if f != nil && f.Rules() > 0 {
		m = f.NewMatcher()
	}
	var out []previewRow
	for _, a := range recent {
		row := previewRow{At: a.At, Summary: summary(a.Alert), Alert: string(a.Alert)}
		switch {
		case len(rules) == 0:
			row.Rule = "(no rules: every alert is exported)"
		case diags.HasErrors():
			row.Error = "the rules do not compile"
		case m == nil:
			row.Error = "every rule is disabled"
		default:
			rule, err := m.Match(a.Alert)
			row.Rule = rule
			if err != nil {
				row.Error = err.Error()
			}
		}
		out = append(out, row)
	}
	return out
}

// summary is an alert in a few words: its risk, policy and id when it has them.
func summary(alert []byte) string {
	var a map[string]any
	if json.Unmarshal(alert, &a) != nil {
		return truncate(string(alert), 80)
	}
	var parts []string
	for _, k := range []string{"risk", "policy_name", "alert_status", "alert_id"} {
		if v, ok := a[k]; ok && v != nil {
			parts = append(parts, fmt.Sprint(v))
		}
	}
	if len(parts) == 0 {
		return truncate(string(alert), 80)
	}
	return truncate(strings.Join(parts, " · "), 120)
}

func truncate(s string, n int) string {
	if len([]rune(s)) <= n {
		return s
	}
	return string([]rune(s)[:n-1]) + "…"
}

// rulesPost adds, saves, enables, disables or deletes a rule, then writes
// the integration file and reloads.
func (c *Console) rulesPost(w http.ResponseWriter, r *http.Request, s *session) {
	name := r.PathValue("name")
	d, in, ok := c.rulesData(w, r, s, name)
	if !ok {
		return
	}
	idx, _ := strconv.Atoi(r.PostFormValue("index"))
	form := ruleForm{Index: idx, Name: strings.TrimSpace(r.PostFormValue("rule_name")), Scope: strings.TrimSpace(r.PostFormValue("scope")),
		Enabled: r.PostFormValue("enabled") == "on"}
	rules := append([]integration.Rule(nil), in.Rules...)
	action := r.PostFormValue("action")
	inRange := idx >= 0 && idx < len(rules)
	var err error
	var done, ruleName string
	switch action {
	case "save":
		if err = checkRule(form, rules); err != nil {
			break
		}
		rl := integration.Rule{Name: form.Name, Enabled: form.Enabled, Scope: form.Scope}
		if inRange {
			rules[idx] = rl
			done = "rule-saved"
		} else {
			form.Index = -1
			rules = append(rules, rl)
			done = "rule-added"
		}
		ruleName = form.Name
	case "enable", "disable":
		if !inRange {
			err = errors.New("no such rule")
			break
		}
		rules[idx].Enabled = action == "enable"
		done, ruleName = "rule-"+action+"d", rules[idx].Name
	case "delete":
		if !inRange {
			err = errors.New("no such rule")
			break
		}
		done, ruleName = "rule-deleted", rules[idx].Name
		rules = append(rules[:idx], rules[idx+1:]...)
	default:
		err = fmt.Errorf("unknown action %q", action)
	}
	if err == nil {
		f := integration.FileOf(in)
		f.Rules = rules
		err = c.writeChecked(r.Context(), in.File, f, true)
	}
	if err != nil {
		d.Form, d.FormErr, d.Edit = form, err.Error(), form.Index
		if action != "save" {
			d.Form = ruleForm{Index: -1, Enabled: true}
		}
		c.render(w, r, http.StatusUnprocessableEntity, "rules", s, pageData{Title: "Alert rules: " + name, Nav: "integrations", Data: d})
		return
	}
	http.Redirect(w, r, "/integrations/"+url.PathEscape(name)+"/rules?"+flashQuery(done, ruleName), http.StatusSeeOther)
}

// checkRule checks a rule from the form: a name, unique, and a scope that
// compiles.
func checkRule(f ruleForm, rules []integration.Rule) error {
	if f.Name == "" {
		return errors.New("give the rule a name")
	}
	for i, rl := range rules {
		if rl.Name == f.Name && i != f.Index {
			return fmt.Errorf("a rule named %q exists", f.Name)
		}
	}
	if f.Scope == "" {
		return errors.New("give the rule a scope (an expression over the alert; 'true' exports every alert)")
	}
	if d := compileScope(f.Scope); !d.OK {
		return fmt.Errorf("scope, line %d column %d: %s", d.Line, d.Column, d.Message)
	}
	return nil
}

// scopeDiag is a scope's compile result, for the rule editor.
type scopeDiag struct {
	OK      bool     `json:"ok"`
	Message string   `json:"message,omitempty"`
	Line    int      `json:"line,omitempty"`
	Column  int      `json:"column,omitempty"`
	Offset  int      `json:"offset,omitempty"`
	Suggest []string `json:"suggest,omitempty"`
	Caret   string   `json:"caret,omitempty"` // the line and a caret under the column
	// Over the recent alerts: how many this scope alone would export.
	Matches int `json:"matches"`
	Recent  int `json:"recent"`
	Errors  int `json:"errors"`
	// Preview is, per recent alert (the page's preview rows, in order),
	// the rule that would export it with the draft saved: "" filtered.
	Preview []string `json:"preview,omitempty"`
}

// compileScope compiles a scope as the alert rules do (a boolean expr over
// the alert) and places an error at its line and column in the scope.
func compileScope(scope string) scopeDiag {
	if strings.TrimSpace(scope) == "" {
		return scopeDiag{Message: "empty scope: write an expression over the alert ('true' exports every alert)", Line: 1, Column: 1}
	}
	_, err := exprenv.Compile(scope, exprenv.Options{Bool: true})
	if err == nil {
		return scopeDiag{OK: true}
	}
	d := scopeDiag{Message: err.Error(), Line: 1, Column: 1}
	var ee *exprenv.Error
	if errors.As(err, &ee) {
		d.Message, d.Suggest, d.Offset = ee.Message, ee.Suggest, ee.Offset
		runes := []rune(scope)
		off := min(max(ee.Offset, 0), len(runes))
		before := string(runes[:off])
		d.Line = strings.Count(before, "\n") + 1
		lineStart := strings.LastIndexByte(before, '\n') + 1
		d.Column = len([]rune(before[lineStart:])) + 1
		line := strings.SplitN(scope[lineStart:], "\n", 2)[0]
		d.Caret = line + "\n" + strings.Repeat(" ", d.Column-1) + "^"
	}
	return d
}

// scopeCheck is the rule editor's endpoint: POST {"integration", "scope"}
// → the diagnostic with its position, and what the scope would export of
// the recent alerts.
func (c *Console) scopeCheck(w http.ResponseWriter, r *http.Request, _ *session) {
	var req struct {
		Integration string `json:"integration"`
		Scope       string `json:"scope"`
		Name        string `json:"name"`
		Index       int    `json:"index"` // the rule edited, -1: a new one
		Enabled     bool   `json:"enabled"`
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		http.Error(w, "bad request: "+err.Error(), http.StatusBadRequest)
		return
	}
	d := compileScope(req.Scope)
	if d.OK {
		recent := c.svc.Recent(req.Integration)
		f, _ := filter.Compile([]filter.Rule{{Name: "draft", Enabled: true, Scope: req.Scope}})
		if f != nil {
			m := f.NewMatcher()
			for _, a := range recent {
				rule, err := m.Match(a.Alert)
				switch {
				case err != nil:
					d.Errors++
				case rule != "":
					d.Matches++
				}
			}
		}
		d.Recent = len(recent)
		d.Preview = c.draftPreview(req.Integration, recent, integration.Rule{Name: req.Name, Enabled: req.Enabled, Scope: req.Scope}, req.Index)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	json.NewEncoder(w).Encode(d)
}

// draftPreview runs the integration's rules with the draft in place (or
// added) over the recent alerts.
func (c *Console) draftPreview(name string, recent []service.Recent, draft integration.Rule, index int) []string {
	st, ok := c.svc.Status(name)
	if !ok {
		return nil
	}
	in, err := integration.LoadIntegration(st.File)
	if err != nil {
		return nil
	}
	if draft.Name == "" {
		draft.Name = "(this rule)"
	}
	rules := append([]integration.Rule(nil), in.Rules...)
	if index >= 0 && index < len(rules) {
		rules[index] = draft
	} else {
		rules = append(rules, draft)
	}
	out := make([]string, 0, len(recent))
	for _, p := range preview(rules, recent) {
		out = append(out, p.Rule)
	}
	return out
}
