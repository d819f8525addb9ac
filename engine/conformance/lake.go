package conformance

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/compress"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/schema"
)

// The Security Lake contract for custom sources, as AWS documents it and
// DESIGN §5 restates it. Rule names as they appear in Problem.Rule.
const (
	RulePartition   = "partition"     // region=/accountId=/eventDay= disagree with the record
	RuleOneClass    = "one_class"     // more than one class_uid in a file
	RuleCompression = "compression"   // a column chunk not compressed with zstd
	RuleFileSize    = "file_size"     // a file over 256 MB
	RuleSorted      = "sorted"        // rows not in time order
	RuleListLevels  = "list_encoding" // a list not in the 3-level LIST encoding
	RuleTimeType    = "time_type"     // time not a plain INT64 (milliseconds)
	RuleDatetime    = "datetime_type" // a *_dt column not TIMESTAMP(MILLIS, UTC)
	RuleSchemaDrift = "schema_drift"  // a file whose Parquet schema differs from its source's first
	maxFileSize     = 256 << 20
)

// partition is what a file's folders say about its records.
type partition struct {
	source               string // the folder above region=
	region, account, day string
}

// partitionOf finds region=/accountId=/eventDay= among a path's folders
// (accountid= too: some layouts spell it so).
func partitionOf(path string) (partition, bool) {
	parts := strings.Split(filepath.ToSlash(filepath.Dir(path)), "/")
	for i := 0; i+2 < len(parts); i++ {
		r, okR := strings.CutPrefix(parts[i], "region=")
		a, okA := cutFold(parts[i+1], "accountId=")
		d, okD := cutFold(parts[i+2], "eventDay=")
		if okR && okA && okD {
			return partition{source: strings.Join(parts[:i], "/"), region: r, account: a, day: d}, true
		}
	}
	return partition{}, false
}

func cutFold(s, prefix string) (string, bool) {
	if len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix) {
		return s[len(prefix):], true
	}
	return "", false
}

// lakeFile is the per-file state of the row checks.
type lakeFile struct {
	part              partition
	classUID          int64
	hasClass          bool
	lastTime          int64
	unsorted, classes bool // reported once per file
}

// lakeFile checks what the file's metadata says and returns the state for
// its rows, and the file's problems. It runs on the reading goroutine.
func (c *Checker) lakeFile(path string, pf *file.Reader, part partition) (*lakeFile, []Problem) {
	var probs []Problem
	c.fileProbs = &probs
	defer func() { c.fileProbs = nil }()
	l := loc{file: path}
	if st, err := os.Stat(path); err == nil && st.Size() > maxFileSize {
		c.fileProblem(l, "", RuleFileSize, fmt.Sprintf("%d bytes: Security Lake takes objects of at most 256 MB", st.Size()))
	}
	md := pf.MetaData()
	bad := map[string]bool{}
	for rg := 0; rg < pf.NumRowGroups(); rg++ {
		rmd := md.RowGroup(rg)
		for col := 0; col < rmd.NumColumns(); col++ {
			cc, err := rmd.ColumnChunk(col)
			if err != nil {
				continue
			}
			if codec := cc.Compression(); codec != compress.Codecs.Zstd && !bad[cc.PathInSchema().String()] {
				bad[cc.PathInSchema().String()] = true
				c.fileProblem(l, columnPointer(cc.PathInSchema().String()), RuleCompression, fmt.Sprintf("column %s is %s, not zstd", cc.PathInSchema(), codec))
			}
		}
	}
	root := md.Schema.Root()
	for i := 0; i < root.NumFields(); i++ {
		c.schemaNode(l, root.Field(i), i == root.FieldIndexByName("time"))
	}
	text := md.Schema.String()
	if first, ok := c.sources[part.source]; !ok {
		c.sources[part.source] = [2]string{text, path}
	} else if first[0] != text {
		c.fileProblem(l, "", RuleSchemaDrift, fmt.Sprintf("its Parquet schema differs from %s's: every file of one source must share one schema (Glue infers one table)", first[1]))
	}
	return &lakeFile{part: part}, probs
}

// schemaNode checks the encodings Athena and Glue need: 3-level lists,
// time as INT64 milliseconds, *_dt as TIMESTAMP(MILLIS, UTC).
func (c *Checker) schemaNode(l loc, n schema.Node, isTime bool) {
	ptr := columnPointer(n.Path())
	if g, ok := n.(*schema.GroupNode); ok {
		_, isList := g.LogicalType().(schema.ListLogicalType)
		if !isList {
			_, isList = g.LogicalType().(*schema.ListLogicalType)
		}
		if isList || g.ConvertedType() == schema.ConvertedTypes.List {
			inner, ok := listInner(g)
			if !ok {
				c.fileProblem(l, ptr, RuleListLevels, fmt.Sprintf("list %s is not in the 3-level encoding (optional group (LIST) { repeated group list { element } })", n.Path()))
				return
			}
			c.schemaNode(l, inner, false)
			return
		}
		for i := 0; i < g.NumFields(); i++ {
			c.schemaNode(l, g.Field(i), false)
		}
		return
	}
	p, ok := n.(*schema.PrimitiveNode)
	if !ok {
		return
	}
	ts, isTS := p.LogicalType().(interface {
		TimeUnit() schema.TimeUnitType
		IsAdjustedToUTC() bool
	})
	switch {
	case isTime && (p.PhysicalType() != parquet.Types.Int64 || isTS):
		c.fileProblem(l, ptr, RuleTimeType, fmt.Sprintf("time is %s %s: Security Lake reads timestamp_t as a plain INT64 of milliseconds", p.PhysicalType(), p.LogicalType()))
	case strings.HasSuffix(p.Name(), "_dt") && (!isTS || p.PhysicalType() != parquet.Types.Int64 || ts.TimeUnit() != schema.TimeUnitMillis || !ts.IsAdjustedToUTC()):
		c.fileProblem(l, ptr, RuleDatetime, fmt.Sprintf("%s is %s %s: datetime_t must be TIMESTAMP(MILLIS, UTC)", n.Path(), p.PhysicalType(), p.LogicalType()))
	}
}

// listInner returns the element of a 3-level list, or false.
func listInner(g *schema.GroupNode) (schema.Node, bool) {
	if g.NumFields() != 1 {
		return nil, false
	}
	rep, ok := g.Field(0).(*schema.GroupNode)
	if !ok || rep.RepetitionType() != parquet.Repetitions.Repeated || rep.NumFields() != 1 {
		return nil, false
	}
	return rep.Field(0), true
}

// columnPointer turns a Parquet column path into the JSON pointer of the
// attribute (list levels dropped).
func columnPointer(path string) string {
	var out []string
	for _, s := range strings.Split(path, ".") {
		if s == "list" || s == "element" {
			continue
		}
		out = append(out, s)
	}
	return "/" + strings.Join(out, "/")
}

// fileProblem collects a problem lakeFile finds.
func (c *Checker) fileProblem(l loc, pointer, rule, msg string) {
	*c.fileProbs = append(*c.fileProbs, Problem{File: l.file, Pointer: pointer, Rule: rule, Message: msg})
}

// lakeRow checks a row against its file's partition folders and its
// neighbours: the account (or external_<account>), region and UTC day of
// time; rows in time order; one class per file. It runs on the reporting
// goroutine, in row order, and returns how many problems it reported.
func (c *Checker) lakeRow(lf *lakeFile, l loc, f recordFacts) int {
	before := c.sum.Problems
	p := lf.part
	// The lake trims a partition value's surrounding blanks: " eu-west-1 "
	// is in region=eu-west-1. A record without a region or account is in the
	// folder of the writer's default (run --default-region/--default-account).
	region, account := strings.TrimSpace(f.region), strings.TrimSpace(f.account)
	if region != "" && region != p.region {
		c.problem(l, "/cloud/region", RulePartition, fmt.Sprintf("cloud.region %q is not the folder's region=%s", f.region, p.region))
	}
	if account != "" && account != p.account && p.account != "external_"+account && p.account != "external" {
		c.problem(l, "/cloud/account/uid", RulePartition, fmt.Sprintf("cloud.account.uid (cloud.account_uid in 1.0.0-rc.2) %q is not the folder's accountId=%s", f.account, p.account))
	}
	if f.hasTime {
		if d := dayOf(f.time); d != p.day {
			c.problem(l, "/time", RulePartition, fmt.Sprintf("time %d is on %s (UTC), not the folder's eventDay=%s", f.time, d, p.day))
		}
		if l.row > 1 && f.time < lf.lastTime && !lf.unsorted {
			lf.unsorted = true
			c.problem(l, "/time", RuleSorted, fmt.Sprintf("time %d comes after %d: rows must be sorted by time (reported once per file)", f.time, lf.lastTime))
		}
		lf.lastTime = f.time
	}
	if f.hasClass {
		switch {
		case !lf.hasClass:
			lf.classUID, lf.hasClass = f.classUID, true
		case f.classUID != lf.classUID && !lf.classes:
			lf.classes = true
			c.problem(l, "/class_uid", RuleOneClass, fmt.Sprintf("class_uid %d in a file of class_uid %d: one OCSF class per object (reported once per file)", f.classUID, lf.classUID))
		}
	}
	return int(c.sum.Problems - before)
}
