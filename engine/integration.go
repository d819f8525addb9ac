package engine

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/ocsfmap/ocsfmap/engine/diag"
	"github.com/ocsfmap/ocsfmap/engine/filter"
	"github.com/ocsfmap/ocsfmap/engine/integration"
)

// Integration is an integration file loaded with what it names: its mapping
// and its alert rules compiled, and its custom sources checked against the
// classes the mapping emits. serve, the Lambda function, the console and
// vet all load through LoadIntegration, so they accept and refuse the same
// files with the same diagnostics.
type Integration struct {
	Integ   *integration.Integration
	Mapping *Mapping
	Rules   *filter.Filter // nil: the file has no rules, every alert is exported
	// MappingSum is the SHA-256 (hex) of the mapping file as it was
	// compiled: read before and after the compile, so a file rewritten
	// meanwhile is refused rather than half-recorded.
	MappingSum string
	warnings   diag.List
}

// Warnings returns the warnings of the integration file, its rules and its
// mapping.
func (in *Integration) Warnings() diag.List { return in.warnings }

// LoadError is an integration that does not load. Diags holds every problem
// found in the integration file, its rules and its mapping (warnings too);
// File is the file at fault when the error is not a diagnostic (a mapping
// that cannot be read).
type LoadError struct {
	File  string
	Diags diag.List
	Err   error
}

func (e *LoadError) Error() string {
	if e.Diags.HasErrors() {
		return strings.TrimRight(e.Diags.Render(), "\n")
	}
	if msg := e.Err.Error(); strings.Contains(msg, e.File) {
		return msg
	}
	return fmt.Sprintf("%s: %v", e.File, e.Err)
}

func (e *LoadError) Unwrap() error { return e.Err }

// LoadIntegration loads the integration file at path and what it names.
func LoadIntegration(path string) (*Integration, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, &LoadError{File: path, Err: fmt.Errorf("load integration: %w", err)}
	}
	return ParseIntegration(path, src)
}

// ParseIntegration is LoadIntegration of src, the bytes of the file at path
// (its relative paths resolve against path's folder): for a caller that
// keeps the bytes it loaded, to load them again later as they were.
//
// Every stage runs that can: a file whose rules and mapping both fail
// reports both. The error is a *LoadError.
func ParseIntegration(path string, src []byte) (*Integration, error) {
	integ, err := integration.ParseIntegration(path, src)
	if err != nil {
		var dl diag.List
		errors.As(err, &dl)
		return nil, &LoadError{File: path, Diags: dl, Err: err}
	}
	in := &Integration{Integ: integ}
	diags := append(diag.List(nil), integ.Warnings()...)
	var first *LoadError // the first stage that failed
	fail := func(file string, d diag.List, err error) {
		diags = append(diags, d...)
		if first == nil {
			first = &LoadError{File: file, Err: err}
		}
	}

	rules, err := CompileRules(integ)
	var re *RulesError
	switch {
	case errors.As(err, &re):
		// Rule diagnostics point into the integration file: show the line.
		for i := range re.Diags {
			if re.Diags[i].Source == "" && re.Diags[i].Pos.File == path {
				re.Diags[i].Source = diag.SourceLine(src, re.Diags[i].Pos.Line)
			}
		}
		fail(path, re.Diags, err)
	case err != nil:
		fail(path, nil, err)
	}
	in.Rules = rules

	m, sum, err := loadMappingOnce(integ.Mapping)
	var dl diag.List
	switch {
	case errors.As(err, &dl):
		fail(integ.Mapping, dl, err)
	case err != nil:
		fail(integ.Mapping, nil, err)
	default:
		in.Mapping, in.MappingSum = m, sum
		diags = append(diags, m.Warnings...)
		if cd := integ.CheckClasses(m.Classes()); len(cd) > 0 {
			if cd.HasErrors() {
				fail(path, cd, cd)
			} else {
				diags = append(diags, cd...)
			}
		}
	}
	diags.Sort()
	if first != nil {
		first.Diags = diags
		return nil, first
	}
	in.warnings = diags
	return in, nil
}

// loadMappingOnce compiles the mapping at path and returns it with the
// SHA-256 of the file, read before and after the compile.
func loadMappingOnce(path string) (*Mapping, string, error) {
	sum, err := fileSum(path)
	if err != nil {
		return nil, "", err
	}
	m, err := Load(path)
	if err != nil {
		return nil, "", err
	}
	if after, err := fileSum(path); err != nil || after != sum {
		return nil, "", errors.New("the mapping file changed while it was loaded: load it again")
	}
	return m, sum, nil
}

func fileSum(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:]), nil
}
