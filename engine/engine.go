// Package engine is the facade for programs that embed ocsfmap: load a
// mapping, map records to OCSF, validate them, and run whole inputs through
// the pipeline into a sink (OCSF JSON lines, Parquet in the Security Lake
// layout, S3).
//
//	m, err := engine.Load("mappings/zscaler-dspm/security_finding_1.1.0.yaml")
//	mp := m.NewMapper()
//	out, err := mp.MapJSON(alert)
package engine

import (
	"fmt"

	"github.com/ocsfmap/ocsfmap/engine/diag"
	"github.com/ocsfmap/ocsfmap/engine/plan"
	"github.com/ocsfmap/ocsfmap/engine/validate"
)

// Mapping is a loaded, compiled mapping with the JSON Schema validator of its
// OCSF version, class and profiles. Safe for concurrent use.
type Mapping struct {
	// Plans holds one compiled plan per OCSF class the mapping can emit, in
	// the order the mapping file declares them; a record's Result.Class is
	// its index here. A single-class mapping has one.
	Plans []*plan.Plan
	// Plan is Plans[0]: the plan of a single-class mapping.
	Plan      *plan.Plan
	Warnings  diag.List
	validator *validate.Validator
}

// Load reads and compiles a mapping file. A mapping with errors returns a
// diag.List holding every problem found.
func Load(path string) (*Mapping, error) {
	p, diags := plan.Load(path)
	if diags.HasErrors() {
		return nil, diags
	}
	v, err := validate.For(p.OCSFVersion, p.Class.Name, p.Profiles)
	if err != nil {
		return nil, fmt.Errorf("load %s: schema: %w", path, err)
	}
	return &Mapping{Plans: []*plan.Plan{p}, Plan: p, Warnings: diags, validator: v}, nil
}

// Validate checks a decoded OCSF record against the JSON Schema of the
// mapping's version, class and profiles.
func (m *Mapping) Validate(doc any) []validate.Violation { return m.validator.Validate(doc) }

// Mapper maps records for one goroutine.
type Mapper struct {
	m  *Mapping
	pm *plan.Mapper
}

// NewMapper returns a mapper; use one per goroutine.
func (m *Mapping) NewMapper() *Mapper { return &Mapper{m: m, pm: m.Plan.NewMapper()} }

// MapJSON maps one JSON alert to one line of OCSF JSON (without newline).
// The plan's checks run; a record that fails them returns a *plan.Error.
func (mp *Mapper) MapJSON(alert []byte) ([]byte, error) {
	if _, err := mp.pm.Map(alert); err != nil {
		return nil, err
	}
	return mp.pm.AppendJSON(nil), nil
}

// MapValidated is MapJSON followed by full JSON Schema validation.
func (mp *Mapper) MapValidated(alert []byte) ([]byte, []validate.Violation, error) {
	out, err := mp.MapJSON(alert)
	if err != nil {
		return nil, nil, err
	}
	return out, mp.m.Validate(mp.pm.Doc()), nil
}
