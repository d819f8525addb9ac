package exprenv

import (
	"fmt"
	"strings"
	"sync"
	"time"
)

func init() {
	register(Func{
		Name: "parse_time",
		Doc: `parse_time(v, layout, …): a time as int64 epoch milliseconds, from text in the first layout that reads it whole; ` +
			`layouts are strftime ("%b %d, %Y, %I:%M:%S %p") or Go ("Jan 2, 2006, 3:04:05 PM"); no zone in the text means UTC; nil when none reads it, so ?? falls back.`,
		Fn:    fnParseTime,
		Types: []any{new(func(any, ...string) any)},
	})
}

func fnParseTime(args ...any) (any, error) {
	if len(args) < 2 {
		return nil, fmt.Errorf("parse_time needs the text and at least one layout, got %d argument(s)", len(args))
	}
	s, ok := args[0].(string)
	if !ok {
		return nil, nil
	}
	s = strings.TrimSpace(s)
	for _, l := range args[1:] {
		layout, ok := l.(string)
		if !ok {
			return nil, fmt.Errorf("parse_time: a layout must be text, not %T", l)
		}
		if t, err := time.Parse(goLayout(layout), s); err == nil {
			if ms := t.UnixMilli(); ms > 0 && ms <= maxEpochMS {
				return ms, nil
			}
		}
	}
	return nil, nil
}

// goLayouts caches strftime layouts translated to Go's: an expression passes
// the same few constants for every record.
var goLayouts sync.Map // string -> string

// goLayout returns layout as Go's time package reads it: unchanged unless it
// holds a strftime directive (%).
func goLayout(layout string) string {
	if !strings.Contains(layout, "%") {
		return layout
	}
	if g, ok := goLayouts.Load(layout); ok {
		return g.(string)
	}
	var b strings.Builder
	for i := 0; i < len(layout); i++ {
		c := layout[i]
		if c != '%' || i+1 == len(layout) {
			b.WriteByte(c)
			continue
		}
		i++
		if g, ok := strftime[layout[i]]; ok {
			b.WriteString(g)
		} else {
			b.WriteByte('%')
			b.WriteByte(layout[i])
		}
	}
	g := b.String()
	goLayouts.Store(layout, g)
	return g
}

// strftime maps the directives sources use to Go's reference time. Numbers
// take one or two digits, as strptime reads them ("Oct 8" and "Oct 08").
var strftime = map[byte]string{
	'Y': "2006", 'y': "06", 'm': "1", 'd': "2", 'e': "_2", 'H': "15", 'I': "3", 'M': "4", 'S': "5",
	'f': "999999999", // a fraction after the seconds' '.', any length
	'p': "PM", 'b': "Jan", 'h': "Jan", 'B': "January", 'a': "Mon", 'A': "Monday",
	'z': "-0700", 'Z': "MST", 'j': "002", '%': "%",
	'T': "15:04:05", 'D': "01/02/06", 'F': "2006-01-02",
}
