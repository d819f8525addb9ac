// Package diag holds positioned diagnostics: what went wrong, where in which
// file, with a stable code, rendered like a compiler's messages.
package diag

import (
	"bytes"
	"fmt"
	"sort"
	"strings"
)

// Severity of a diagnostic.
type Severity uint8

const (
	Error Severity = iota
	Warning
)

func (s Severity) String() string {
	if s == Warning {
		return "warning"
	}
	return "error"
}

// Pos is a 1-based position in a file. Line 0 means "the whole file".
type Pos struct {
	File   string
	Line   int
	Column int
}

func (p Pos) String() string {
	switch {
	case p.Line == 0:
		return p.File
	case p.Column == 0:
		return fmt.Sprintf("%s:%d", p.File, p.Line)
	}
	return fmt.Sprintf("%s:%d:%d", p.File, p.Line, p.Column)
}

// Diagnostic is one problem found in a file.
type Diagnostic struct {
	Severity Severity
	Code     string // stable: M1xx structure, M2xx expressions, M3xx OCSF conformance, R4xx runtime
	Pos      Pos
	Message  string
	Detail   string   // optional second line: why, or how to fix
	Suggest  []string // "did you mean" candidates
	Source   string   // the source line Pos points into, for the caret display
}

func (d Diagnostic) Error() string { return d.Header() }

// Header is the one-line form: file:line:col: error[CODE]: message (did you mean …?).
func (d Diagnostic) Header() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %s[%s]: %s", d.Pos, d.Severity, d.Code, d.Message)
	if len(d.Suggest) > 0 {
		fmt.Fprintf(&b, " (did you mean %s?)", quoteList(d.Suggest))
	}
	return b.String()
}

// Render is the full form: the header, the source line with a caret under
// the column, and the detail.
func (d Diagnostic) Render() string {
	var b strings.Builder
	b.WriteString(d.Header())
	b.WriteByte('\n')
	if d.Source != "" && d.Pos.Line > 0 {
		gutter := fmt.Sprintf("%5d | ", d.Pos.Line)
		b.WriteString(gutter)
		b.WriteString(d.Source)
		b.WriteByte('\n')
		if d.Pos.Column > 0 {
			b.WriteString(strings.Repeat(" ", len(gutter)-2))
			b.WriteString("| ")
			b.WriteString(caretPad(d.Source, d.Pos.Column))
			b.WriteString("^\n")
		}
	}
	if d.Detail != "" {
		b.WriteString("      = ")
		b.WriteString(d.Detail)
		b.WriteByte('\n')
	}
	return b.String()
}

// caretPad keeps tabs as tabs so the caret lines up under the column.
func caretPad(line string, col int) string {
	var b strings.Builder
	for i, r := range line {
		if i >= col-1 {
			break
		}
		if r == '\t' {
			b.WriteByte('\t')
		} else {
			b.WriteByte(' ')
		}
	}
	return b.String()
}

func quoteList(s []string) string {
	q := make([]string, len(s))
	for i, v := range s {
		q[i] = fmt.Sprintf("%q", v)
	}
	if len(q) == 1 {
		return q[0]
	}
	return strings.Join(q[:len(q)-1], ", ") + " or " + q[len(q)-1]
}

// List is every diagnostic of one load. It is an error when it holds an error.
type List []Diagnostic

// HasErrors reports whether any diagnostic is an error (not a warning).
func (l List) HasErrors() bool {
	for _, d := range l {
		if d.Severity == Error {
			return true
		}
	}
	return false
}

// Sort orders by file, line, column, then code, so output is stable.
func (l List) Sort() {
	sort.SliceStable(l, func(i, j int) bool {
		a, b := l[i].Pos, l[j].Pos
		if a.File != b.File {
			return a.File < b.File
		}
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		if a.Column != b.Column {
			return a.Column < b.Column
		}
		return l[i].Code < l[j].Code
	})
}

// Unique drops the repeats of a diagnostic (same severity, code, position
// and message), keeping the first: a mapping's common part is checked once
// per class it emits.
func (l List) Unique() List {
	type key struct {
		sev  Severity
		code string
		pos  Pos
		msg  string
	}
	seen := map[key]bool{}
	out := l[:0]
	for _, d := range l {
		k := key{d.Severity, d.Code, d.Pos, d.Message}
		if !seen[k] {
			seen[k] = true
			out = append(out, d)
		}
	}
	return out
}

// Err returns the list as an error when it holds errors, else nil.
func (l List) Err() error {
	if l.HasErrors() {
		return l
	}
	return nil
}

func (l List) Error() string {
	var errs int
	var first string
	for _, d := range l {
		if d.Severity == Error {
			if errs == 0 {
				first = d.Header()
			}
			errs++
		}
	}
	if errs <= 1 {
		return first
	}
	return fmt.Sprintf("%s (and %d more errors)", first, errs-1)
}

// Render renders every diagnostic in full.
func (l List) Render() string {
	var b strings.Builder
	for _, d := range l {
		b.WriteString(d.Render())
	}
	return b.String()
}

// SourceLine returns line n (1-based) of src, without its newline.
func SourceLine(src []byte, n int) string {
	for i := 1; i < n; i++ {
		j := bytes.IndexByte(src, '\n')
		if j < 0 {
			return ""
		}
		src = src[j+1:]
	}
	if j := bytes.IndexByte(src, '\n'); j >= 0 {
		src = src[:j]
	}
	return strings.TrimRight(string(src), "\r")
}
