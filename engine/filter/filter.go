// Package filter decides which alerts an integration exports: alert rules,
// each a name, an enabled flag and a scope expression over the source alert.
// An alert is exported when an enabled rule's scope is true.
package filter

import (
	"fmt"
	"slices"

	"github.com/ocsfmap/ocsfmap/engine/diag"
	"github.com/ocsfmap/ocsfmap/engine/exprenv"
	"github.com/ocsfmap/ocsfmap/engine/source"
)

// Rule is one alert rule as configured.
type Rule struct {
	Name    string
	Enabled bool
	Scope   string
	Pos     diag.Pos // where the scope is written, for diagnostics
}

// Filter is a compiled set of rules; immutable, safe to share. Each
// goroutine matches with its own Matcher.
type Filter struct {
	rules  []compiled
	fields []string
	whole  bool // a scope reads $env, the whole alert
}

type compiled struct {
	name string
	prog *exprenv.Program
}

// Compile compiles the enabled rules' scopes. An empty scope matches every alert.
func Compile(rules []Rule) (*Filter, diag.List) {
	f := &Filter{}
	var diags diag.List
	seen := map[string]int{} // field -> extraction index
	for _, r := range rules {
		if !r.Enabled {
			continue
		}
		scope := r.Scope
		if scope == "" {
			scope = "true"
		}
		prog, err := exprenv.Compile(scope, exprenv.Options{Bool: true})
		if err != nil {
			d := diag.Diagnostic{Code: "C201", Pos: r.Pos, Message: fmt.Sprintf("rule %q: scope: %v", r.Name, err)}
			if ee, ok := err.(*exprenv.Error); ok {
				d.Message = fmt.Sprintf("rule %q: scope: %s", r.Name, ee.Message)
				d.Suggest = ee.Suggest
			}
			diags = append(diags, d)
			continue
		}
		slots := make([]int, len(prog.Vars))
		for i, v := range prog.Vars {
			if _, ok := seen[v]; !ok {
				seen[v] = len(f.fields)
				f.fields = append(f.fields, v)
			}
			slots[i] = seen[v]
		}
		f.rules = append(f.rules, compiled{name: r.Name, prog: prog.Bind(slots)})
		f.whole = f.whole || prog.Whole()
	}
	if diags.HasErrors() {
		return nil, diags
	}
	return f, diags
}

// Rules is the number of enabled rules.
func (f *Filter) Rules() int { return len(f.rules) }

// Fields are the source fields the enabled rules' scopes read, in the order
// MatchValues takes their values: a caller that extracts them with its own
// (the plan's mapper) scans each alert once.
func (f *Filter) Fields() []string { return slices.Clone(f.fields) }

// Matcher evaluates a filter for one goroutine.
type Matcher struct {
	f      *Filter
	ext    *source.Extractor
	vals   []any
	runner *exprenv.Runner
}

// NewMatcher returns a matcher for f.
func (f *Filter) NewMatcher() *Matcher {
	return &Matcher{f: f, ext: source.NewExtractor(f.fields), vals: make([]any, len(f.fields)), runner: exprenv.NewRunner()}
}

// ScopeError is the outcome of an alert no enabled rule exports because a
// scope failed to evaluate for it (lower(risk) on an alert without risk):
// such an alert must not pass for filtered, which would hide it.
type ScopeError struct {
	Rule string // the first rule whose scope failed
	Err  error
}

func (e *ScopeError) Error() string { return fmt.Sprintf("rule %q: scope failed: %v", e.Rule, e.Err) }
func (e *ScopeError) Unwrap() error { return e.Err }

// Match returns the name of the first enabled rule whose scope holds for the
// alert, or "" when none does (the alert is filtered out). A scope that fails
// to evaluate does not match; when no other rule matches either, the error
// is a *ScopeError naming the first failing rule. Any other error is the
// alert's JSON.
func (m *Matcher) Match(raw []byte) (string, error) {
	if len(m.f.rules) == 0 {
		return "", nil
	}
	if err := m.ext.Extract(raw, m.vals); err != nil {
		return "", err
	}
	return m.MatchValues(raw, m.vals)
}

// MatchValues is Match over the alert's values of the filter's Fields,
// extracted by the caller from raw, a valid JSON object: vals[i] is the
// value of Fields()[i]. raw is read only by a scope that reads $env.
func (m *Matcher) MatchValues(raw []byte, vals []any) (string, error) {
	if len(vals) != len(m.f.fields) {
		return "", fmt.Errorf("filter: %d values for %d fields", len(vals), len(m.f.fields))
	}
	if m.f.whole {
		m.runner.SetRecord(raw) // a scope reading $env sees this alert, whole
		defer m.runner.SetRecord(nil)
	}
	var scopeErr *ScopeError
	for _, r := range m.f.rules {
		out, err := m.runner.RunFields(r.prog, vals)
		if err != nil {
			if scopeErr == nil {
				scopeErr = &ScopeError{Rule: r.name, Err: err}
			}
			continue
		}
		if b, _ := out.(bool); b {
			return r.name, nil
		}
	}
	if scopeErr != nil {
		return "", scopeErr
	}
	return "", nil
}
