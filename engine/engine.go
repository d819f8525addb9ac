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

// Mapping is a loaded, compiled mapping with the JSON Schema validators of
// its OCSF version, classes and profiles. Safe for concurrent use.
type Mapping struct {
	// Plans holds one compiled plan per OCSF class the mapping can emit, in
	// the order the mapping file declares them; a record's Result.Class is
	// its index here. A single-class mapping has one.
	Plans []*plan.Plan
	// Plan is Plans[0]: the plan of a single-class mapping.
	Plan       *plan.Plan
	Warnings   diag.List
	validators []*validate.Validator // one per plan
}

// Load reads and compiles a mapping file. A mapping with errors returns a
// diag.List holding every problem found.
func Load(path string) (*Mapping, error) {
	plans, diags := plan.LoadAll(path)
	if diags.HasErrors() {
		return nil, diags
	}
	m := &Mapping{Plans: plans, Plan: plans[0], Warnings: diags}
	for _, p := range plans {
		v, err := validate.For(p.OCSFVersion, p.Class.Name, p.Profiles)
		if err != nil {
			return nil, fmt.Errorf("load %s: schema of %s: %w", path, p.Class.Name, err)
		}
		m.validators = append(m.validators, v)
	}
	return m, nil
}

// Classes names the OCSF classes the mapping emits, in the order of Plans:
// a record's Result.Class indexes it.
func (m *Mapping) Classes() []string { return m.Plan.Classes() }

// Validate checks a decoded OCSF record against the JSON Schema of the
// mapping's version, first class and profiles; ValidateClass against a
// given class's.
func (m *Mapping) Validate(doc any) []validate.Violation { return m.validators[0].Validate(doc) }

// ValidateClass checks a decoded OCSF record against the JSON Schema of the
// class Plans[class] writes.
func (m *Mapping) ValidateClass(class int, doc any) []validate.Violation {
	return m.validators[class].Validate(doc)
}

// Mapper maps records for one goroutine.
type Mapper struct {
	m  *Mapping
	pm *plan.Mapper
}

// NewMapper returns a mapper; use one per goroutine.
func (m *Mapping) NewMapper() *Mapper { return &Mapper{m: m, pm: m.Plan.NewMapper()} }

// MapJSON maps one JSON alert to one line of OCSF JSON (without newline),
// in the class the mapping's route names for it (see Class). The plan's
// checks run; a record that fails them returns a *plan.Error.
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
	return out, mp.m.ValidateClass(mp.pm.Class(), mp.pm.Doc()), nil
}

// Class is the class of the last record mapped: an index into Mapping.Plans
// and Mapping.Classes.
func (mp *Mapper) Class() int { return mp.pm.Class() }
