package engine

import (
	"fmt"

	"github.com/ocsfmap/ocsfmap/engine/diag"
	"github.com/ocsfmap/ocsfmap/engine/filter"
	"github.com/ocsfmap/ocsfmap/engine/integration"
)

// DefaultMemory keeps a delivery within the 300 MB a small container or a
// Lambda-sized host gives it.
const DefaultMemory = 256 << 20

// RulesError is an integration whose alert rules do not compile, or that
// would export nothing.
type RulesError struct {
	File  string
	Diags diag.List // the rules' diagnostics; empty when every rule is disabled
}

func (e *RulesError) Error() string {
	if len(e.Diags) == 0 {
		return e.File + ": every alert rule is disabled: no alert would be exported"
	}
	n := 0
	for _, d := range e.Diags {
		if d.Severity == diag.Error {
			n++
		}
	}
	return fmt.Sprintf("%s: alert rules: %d error(s)", e.File, n)
}

// OptionsError is a DeliverConfig the lake cannot work with (a bad prefix
// or partition key, no folder), as opposed to a failure to reach the
// destination.
type OptionsError struct{ Err error }

func (e *OptionsError) Error() string { return e.Err.Error() }
func (e *OptionsError) Unwrap() error { return e.Err }

// bufferBudget is the lake writer's share of the delivery's memory: Arrow
// buffers of rows waiting for their file (the sort into a spill run copies
// them once more), besides the mapping workers, the Parquet encoder and the
// collector's headroom.
func bufferBudget(memory int64) int64 { return memory * 3 / 8 }

// CompileRules compiles an integration's alert rules: nil when it has none
// (every alert is exported), a *RulesError when they fail to compile or are
// all disabled.
func CompileRules(integ *integration.Integration) (*filter.Filter, error) {
	if len(integ.Rules) == 0 {
		return nil, nil
	}
	rules := make([]filter.Rule, len(integ.Rules))
	for i, r := range integ.Rules {
		rules[i] = filter.Rule{Name: r.Name, Enabled: r.Enabled, Scope: r.Scope, Pos: r.ScopePos}
	}
	f, diags := filter.Compile(rules)
	if diags.HasErrors() {
		return nil, &RulesError{File: integ.File, Diags: diags}
	}
	if f.Rules() == 0 {
		return nil, &RulesError{File: integ.File}
	}
	return f, nil
}
