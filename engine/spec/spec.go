// Package spec reads mapping files: YAML nodes become a positioned AST, with
// unknown keys and malformed values reported as diagnostics, all at once.
// It knows nothing of OCSF or expressions; the plan compiler checks those.
package spec

import "github.com/ocsfmap/ocsfmap/engine/diag"

// Format is the mapping-language version this package reads.
const Format = "ocsfmap/v1"

// Mapping is one mapping file.
type Mapping struct {
	File string // path as given
	Src  []byte

	Format      Str
	Name        Str // e.g. zscaler-dspm/security_finding
	Version     Str // the mapping's own version; bump it when the output changes
	Description Str

	OCSF      Target
	Input     Input
	Partition Partition
	OnError   Str // dead_letter (default) | null_field | fail

	Lookups []*Lookup
	Vars    []*Var
	// DropWhen is a condition that leaves a record out on purpose: counted
	// as filtered, never dead-lettered.
	DropWhen *Expr
	Fields   []*Field
	Tests    []Str // test files, relative to the mapping file

	// Route picks each record's class among Classes: an expression over
	// the record and the vars yielding a class name. Both are empty in a
	// single-class mapping, whose class is OCSF.Class.
	Route   *Expr
	Classes []*Class
}

// Class is one class a routed mapping emits: its own profiles (OCSF's when
// not set) and its field table, added to the mapping's common Fields (a
// path set in both takes the class's rule).
type Class struct {
	Name        Str // the OCSF class name, the value Route yields for it
	Profiles    []Str
	ProfilesSet bool
	Fields      []*Field
	Pos         diag.Pos
}

// Var is a named value: an expression evaluated once per record, before the
// fields, that later vars and every rule read by its name.
type Var struct {
	Name Str
	Expr *Expr
}

// Input says where an input's records are. Records lists the keys of an
// envelope document ({"Records":[…]}) whose array holds the records; a
// document without any of them is one record. Empty: every top-level JSON
// value (NDJSON line, array element, object) is one record.
type Input struct {
	Records []Str
	Pos     diag.Pos
}

// Target is the OCSF version, class and profiles a mapping writes. A routed
// mapping names its classes under classes: instead of Class.
type Target struct {
	Version  Str
	Class    Str
	Profiles []Str
	Pos      diag.Pos
	// ProfilesSet is true when the profiles key is present (an empty list means no profile).
	ProfilesSet bool
	read        bool // ocsf was a mapping: its missing keys are reported
}

// Partition says where the Security Lake partition values come from: an
// output attribute (cloud.region), or a rule of their own whose value is not
// written to the record (AWS asks for external_<id> as the account of
// records from other clouds).
type Partition struct {
	Region  PartitionValue
	Account PartitionValue
}

// PartitionValue is an OCSF path or a rule.
type PartitionValue struct {
	Path Str    // OCSF path, e.g. cloud.account.uid
	Rule *Field // or a rule over the source alert
}

// Lookup is a named conversion table, e.g. alert_status -> activity_id.
type Lookup struct {
	Name    Str
	Entries []LookupEntry
	Default *Scalar // the _default entry
	Pos     diag.Pos
}

// LookupEntry is one key of a lookup table.
type LookupEntry struct {
	Key   Str
	Value Scalar
}

// Field is the rule for one OCSF target path.
type Field struct {
	Path Str // OCSF path as written: finding.uid, resources[0].labels, unmapped.theme
	Pos  diag.Pos

	From     []Str   // source fields; several = the first that is present
	Value    *Scalar // a static value
	Expr     *Expr   // an expr-lang expression over the source fields
	Template *Str    // a text template file, relative to the mapping file
	Lookup   *Str    // a lookup table name; its key is From or Key
	Key      *Expr   // the lookup key as an expression (instead of From)
	Default  *Scalar // used when the rule yields nothing
	When     *Expr   // the rule applies only when this is true
	// Each maps every element of an input array to an element of the
	// OCSF array of objects at Path, with the field table Fields (paths
	// relative to the object, rules reading the element); Each's when
	// keeps the elements it holds for. Parse compiles it into Expr.
	Each   *Expr
	Fields []*Field

	// Deviation records why this rule differs from the source's own table.
	Deviation Str
}

// Str is a string with the position of its YAML node.
type Str struct {
	Value string
	Pos   diag.Pos
}

// Set reports whether the key was present.
func (s Str) Set() bool { return s.Pos.Line > 0 }

// Scalar is a static YAML value (string, int64, float64, bool, nil, or a list of those).
type Scalar struct {
	Value any
	Tag   string // YAML tag: !!str, !!int, ...
	Pos   diag.Pos
}

// Expr is an expression with what it takes to map a position inside it back
// to the mapping file, however the YAML scalar was written.
type Expr struct {
	Text string
	Pos  diag.Pos
	// offsets[i] is the file position of rune i of Text.
	offsets []diag.Pos
}

// PosAt returns the file position of rune offset i of the expression text.
func (e *Expr) PosAt(i int) diag.Pos {
	if i >= 0 && i < len(e.offsets) {
		return e.offsets[i]
	}
	if n := len(e.offsets); n > 0 {
		p := e.offsets[n-1]
		p.Column++
		return p
	}
	return e.Pos
}

// Set reports whether the node was present.
func posSet(p diag.Pos) bool { return p.Line > 0 }
