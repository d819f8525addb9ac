// Package conformance checks OCSF data from any producer: NDJSON records
// (plain or gzip) and Parquet files, alone or in a folder laid out like an
// Amazon Security Lake bucket. It is what `ocsfmap validate` runs.
//
// Each record is checked against the JSON Schema of the OCSF version, class
// and profiles it declares (engine/validate), then for what a JSON Schema
// cannot say: type_uid = class_uid*100 + activity_id, captions that match
// their ids in that version's enums, a metadata.version this build knows, and
// time_dt equal to time. A Parquet file under region=/accountId=/eventDay=
// folders is also held to the Security Lake contract for custom sources
// (see lake.go). Records stream one at a time, so memory does not grow with
// the size of the input.
package conformance

import (
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ocsfmap/ocsfmap/engine/ocsf"
	"github.com/ocsfmap/ocsfmap/engine/validate"
)

// Rules beyond the JSON Schema's keywords (required, type, enum, const,
// additionalProperties, at_least_one, just_one …), as they appear in
// Problem.Rule and the summary.
const (
	RuleJSON    = "json"     // a line that is not a JSON object
	RuleRead    = "read"     // a file that cannot be read (bad gzip, bad Parquet)
	RuleVersion = "version"  // metadata.version missing or not an OCSF version this build knows
	RuleClass   = "class"    // class_uid missing or not a class of that version
	RuleTypeUID = "type_uid" // type_uid != class_uid*100 + activity_id
	RuleCaption = "caption"  // a caption that is not its id's caption in the version's enum
	RuleTimeDT  = "time_dt"  // time_dt not an RFC 3339 date-time equal to time
	// RuleUnknownColumn is a Parquet column that is no attribute of the
	// class, reported once per file even when every value is null.
	RuleUnknownColumn = "unknown_column"
)

// Options choose what records are validated as. Empty fields come from each
// record: metadata.version, class_uid, metadata.profiles.
type Options struct {
	Version  string   // an OCSF version such as "1.1.0"
	Class    string   // a class name ("security_finding") or uid ("2001")
	Profiles []string // nil: the record's metadata.profiles (none when absent)
}

// Problem is one violation, located by file and line (NDJSON) or row
// (Parquet), or by file alone for a problem of the whole file.
type Problem struct {
	File    string `json:"file"`
	Line    int64  `json:"line,omitempty"` // NDJSON line, from 1
	Row     int64  `json:"row,omitempty"`  // Parquet row, from 1
	Pointer string `json:"pointer"`        // JSON pointer into the record ("" for the record or file)
	Rule    string `json:"rule"`
	Message string `json:"message"`
}

// String renders "file:line: /pointer: rule: message" (file#row for
// Parquet; no pointer part for a whole record or file).
func (p Problem) String() string {
	var b strings.Builder
	b.WriteString(p.File)
	switch {
	case p.Line > 0:
		b.WriteString(":" + strconv.FormatInt(p.Line, 10))
	case p.Row > 0:
		b.WriteString("#" + strconv.FormatInt(p.Row, 10))
	}
	b.WriteString(": ")
	if p.Pointer != "" {
		b.WriteString(p.Pointer + ": ")
	}
	b.WriteString(p.Rule + ": " + p.Message)
	return b.String()
}

// Summary counts what a Checker saw.
type Summary struct {
	Files    int              `json:"files"`
	Records  int64            `json:"records"`
	Invalid  int64            `json:"invalid_records"` // records with at least one problem
	Problems int64            `json:"problems"`        // every problem, file-level ones included
	Rules    map[string]int64 `json:"rules"`           // problems per rule
}

// Checker validates files and folders, reporting each problem as it is
// found, in file order. It checks records on GOMAXPROCS goroutines; report
// is called from one goroutine at a time. A Checker is not safe for
// concurrent use.
type Checker struct {
	opts    Options
	report  func(Problem)
	sum     Summary
	classID int64 // Options.Class as a uid, 0 when given by name or not at all

	// sources maps a lake source folder (the path above region=) to the
	// Parquet schema of its first file and that file, for schema drift.
	sources   map[string][2]string
	fileProbs *[]Problem // where lakeFile collects the file's problems

	// One Check's pipeline (pipeline.go): jobs go to the workers and, in
	// order, to the reporting goroutine, the only one to touch sum and
	// call report.
	work, order chan *job
	reported    chan struct{}
	workers     *sync.WaitGroup
}

// New returns a Checker that calls report for every problem. It fails on
// options that name an unknown version, class or profile.
func New(opts Options, report func(Problem)) (*Checker, error) {
	c := &Checker{opts: opts, report: report, sum: Summary{Rules: map[string]int64{}}, sources: map[string][2]string{}}
	if opts.Version != "" {
		cat, err := ocsf.Load(opts.Version)
		if err != nil {
			return nil, fmt.Errorf("--ocsf %s: not an OCSF version this build knows (%s)", opts.Version, strings.Join(ocsf.Versions(), ", "))
		}
		if opts.Class != "" {
			if _, err := classOf(cat, opts.Class); err != nil {
				return nil, err
			}
		}
		known := map[string]bool{}
		for _, p := range cat.Profiles {
			known[p] = true
		}
		for _, p := range opts.Profiles {
			if !known[p] {
				return nil, fmt.Errorf("--profiles: OCSF %s has no profile %q (%s)", opts.Version, p, strings.Join(cat.Profiles, ", "))
			}
		}
	}
	if opts.Class != "" {
		if id, err := strconv.ParseInt(opts.Class, 10, 64); err == nil {
			c.classID = id
		} else if !knownClassName(opts.Class) {
			return nil, fmt.Errorf("--class %s: no such class in any OCSF version this build knows", opts.Class)
		}
	}
	return c, nil
}

func knownClassName(name string) bool {
	for _, v := range ocsf.Versions() {
		if cat, err := ocsf.Load(v); err == nil {
			if _, ok := cat.Class(name); ok {
				return true
			}
		}
	}
	return false
}

// classOf resolves a class given by name or uid in a catalog.
func classOf(cat *ocsf.Catalog, class string) (*ocsf.Class, error) {
	if id, err := strconv.ParseInt(class, 10, 64); err == nil {
		if cl, ok := cat.ClassByUID(id); ok {
			return cl, nil
		}
	} else if cl, ok := cat.Class(class); ok {
		return cl, nil
	}
	return nil, fmt.Errorf("--class %s: OCSF %s has no such class (%s)", class, cat.Version, strings.Join(cat.ClassNames(), ", "))
}

// Summary returns the counts so far.
func (c *Checker) Summary() Summary { return c.sum }

// loc is where a record is: its file, and its line or row.
type loc struct {
	file      string
	line, row int64
}

// problem reports one problem; only the reporting goroutine calls it.
func (c *Checker) problem(l loc, pointer, rule, msg string) {
	c.emit(Problem{File: l.file, Line: l.line, Row: l.row, Pointer: pointer, Rule: rule, Message: msg})
}

func (c *Checker) emit(p Problem) {
	c.sum.Problems++
	c.sum.Rules[p.Rule]++
	c.report(p)
}

// recordFacts are what the lake checks need from a record.
type recordFacts struct {
	classUID          int64
	time              int64
	hasClass, hasTime bool
	region, account   string
	cat               *ocsf.Catalog // the version and class the record was checked as,
	class             *ocsf.Class   // nil when it could not be
}

// checkRecord checks one decoded record (numbers as json.Number, float64
// or int64) and returns its problems and what the lake checks need. It
// touches no Checker state: workers call it concurrently.
func (c *Checker) checkRecord(l loc, doc any) ([]Problem, recordFacts) {
	var probs []Problem
	add := func(pointer, rule, msg string) {
		probs = append(probs, Problem{File: l.file, Line: l.line, Row: l.row, Pointer: pointer, Rule: rule, Message: msg})
	}
	var f recordFacts
	m, ok := doc.(map[string]any)
	if !ok {
		add("", RuleJSON, "not a JSON object")
		return probs, f
	}
	f.classUID, f.hasClass = toInt(m["class_uid"])
	f.time, f.hasTime = toInt(m["time"])
	if cloud, ok := m["cloud"].(map[string]any); ok {
		f.region, _ = cloud["region"].(string)
		if acct, ok := cloud["account"].(map[string]any); ok {
			f.account, _ = acct["uid"].(string)
		} else {
			f.account, _ = cloud["account_uid"].(string) // 1.0.0-rc.2's layout
		}
	}
	meta, _ := m["metadata"].(map[string]any)

	version := c.opts.Version
	if version == "" {
		v, ok := meta["version"].(string)
		if !ok {
			add("/metadata/version", RuleVersion, "no metadata.version: the record does not say which OCSF version it follows")
			return probs, f
		}
		version = v
	}
	cat, err := ocsf.Load(version)
	if err != nil {
		add("/metadata/version", RuleVersion, fmt.Sprintf("%q is not an OCSF version this build knows (%s)", version, strings.Join(ocsf.Versions(), ", ")))
		return probs, f
	}
	var cl *ocsf.Class
	switch {
	case c.opts.Class != "":
		cl, err = classOf(cat, c.opts.Class)
		if err != nil {
			add("", RuleClass, err.Error())
			return probs, f
		}
	case !f.hasClass:
		add("/class_uid", RuleClass, "no numeric class_uid")
		return probs, f
	default:
		var ok bool
		if cl, ok = cat.ClassByUID(f.classUID); !ok {
			add("/class_uid", RuleClass, fmt.Sprintf("class_uid %d is not a class this build has schemas for in OCSF %s (%s)",
				f.classUID, version, strings.Join(cat.ClassNames(), ", ")))
			return probs, f
		}
	}
	f.cat, f.class = cat, cl
	profiles := c.opts.Profiles
	if profiles == nil {
		profiles = []string{}
		if ps, ok := meta["profiles"].([]any); ok {
			for _, p := range ps {
				if s, ok := p.(string); ok {
					profiles = append(profiles, s)
				}
			}
		}
	}
	v, err := validate.For(version, cl.Name, profiles)
	if err != nil {
		add("", RuleClass, err.Error())
		return probs, f
	}
	for _, vi := range v.Validate(doc) {
		add(vi.Pointer, vi.Keyword, vi.Message)
	}
	probs = beyondSchema(probs, l, m, cl)
	return probs, f
}

// captionOf pairs an id attribute with the caption attribute that must
// name it. For activity_id and severity_id, 99 (Other) lets the caption be
// the source's own word, as OCSF says.
var captionOf = []struct{ id, caption string }{
	{"class_uid", "class_name"},
	{"category_uid", "category_name"},
	{"activity_id", "activity_name"},
	{"severity_id", "severity"},
	{"type_uid", "type_name"},
}

// beyondSchema checks what the JSON Schema cannot express.
func beyondSchema(probs []Problem, l loc, m map[string]any, cl *ocsf.Class) []Problem {
	add := func(pointer, rule, msg string) {
		probs = append(probs, Problem{File: l.file, Line: l.line, Row: l.row, Pointer: pointer, Rule: rule, Message: msg})
	}
	classUID, okC := toInt(m["class_uid"])
	act, okA := toInt(m["activity_id"])
	typ, okT := toInt(m["type_uid"])
	if okC && okA && okT && typ != classUID*100+act {
		add("/type_uid", RuleTypeUID, fmt.Sprintf("type_uid %d is not class_uid*100 + activity_id = %d", typ, classUID*100+act))
	}
	for _, p := range captionOf {
		id, ok := toInt(m[p.id])
		caption, isStr := m[p.caption].(string)
		if !ok || !isStr {
			continue
		}
		a := cl.Attrs[p.id]
		if a == nil {
			continue
		}
		if id%100 == 99 && p.id != "class_uid" && p.id != "category_uid" {
			continue // Other: the caption is the source's own value
		}
		want, known := a.Enum[id]
		if !known {
			continue // the schema's enum reports the id itself
		}
		if caption != want {
			add("/"+p.caption, RuleCaption, fmt.Sprintf("%q does not match %s %d, whose caption is %q", caption, p.id, id, want))
		}
	}
	if dt, ok := m["time_dt"].(string); ok {
		t, okT := toInt(m["time"])
		parsed, err := time.Parse(time.RFC3339Nano, dt)
		switch {
		case err != nil:
			add("/time_dt", RuleTimeDT, fmt.Sprintf("%q is not an RFC 3339 date-time", dt))
		case okT && parsed.UnixMilli() != t:
			add("/time_dt", RuleTimeDT, fmt.Sprintf("%s is not time %d (%s)", dt, t, time.UnixMilli(t).UTC().Format("2006-01-02T15:04:05.000Z")))
		}
	}
	return probs
}

func toInt(v any) (int64, bool) {
	switch n := v.(type) {
	case json.Number:
		i, err := n.Int64()
		return i, err == nil
	case float64:
		return int64(n), n == float64(int64(n))
	case int64:
		return n, true
	case int32:
		return int64(n), true
	case int:
		return int64(n), true
	}
	return 0, false
}

// SortedRules lists the summary's rules by count, most first.
func (s Summary) SortedRules() []string {
	out := make([]string, 0, len(s.Rules))
	for r := range s.Rules {
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool {
		if s.Rules[out[i]] != s.Rules[out[j]] {
			return s.Rules[out[i]] > s.Rules[out[j]]
		}
		return out[i] < out[j]
	})
	return out
}
