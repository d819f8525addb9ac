package exprenv

import (
	"bytes"
	"encoding/json"
	"os"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/builtin"
	"github.com/expr-lang/expr/vm"
)

// helperNames are the helpers this package must provide (issue 3, item 2).
var helperNames = []string{
	"coalesce", "epoch_ms", "json", "norm", "str", "tag_key", "tag_value",
	"tags_kv", "to_int", "truncate",
}

var identRe = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)

func TestFuncsRegistry(t *testing.T) {
	fs := Funcs()
	for _, name := range helperNames {
		if _, ok := fs[name]; !ok {
			t.Errorf("helper %q is not registered", name)
		}
	}
	for name, f := range fs {
		if f.Name != name {
			t.Errorf("%s: registered under %q", f.Name, name)
		}
		if !identRe.MatchString(name) {
			t.Errorf("%s: not a lower-case identifier", name)
		}
		if _, clash := builtin.Index[name]; clash {
			t.Errorf("%s: shadows the expr built-in of the same name", name)
		}
		if strings.TrimSpace(f.Doc) == "" || strings.ContainsRune(f.Doc, '\n') {
			t.Errorf("%s: Doc must be one non-empty line, got %q", name, f.Doc)
		}
		if !strings.HasPrefix(f.Doc, name+"(") {
			t.Errorf("%s: Doc should start with the call form %q, got %q", name, name+"(", f.Doc)
		}
		if f.Fn == nil {
			t.Errorf("%s: no Fn", name)
		}
		if len(f.Types) == 0 {
			t.Errorf("%s: no Types: the checker could not type its result", name)
		}
		for _, typ := range f.Types {
			rt := reflect.TypeOf(typ)
			if rt == nil || rt.Kind() != reflect.Pointer || rt.Elem().Kind() != reflect.Func || rt.Elem().NumOut() != 1 {
				t.Errorf("%s: type %T is not a pointer to a one-result func", name, typ)
			}
		}
	}
}

// exprOptions registers every helper the way the environment does, so these
// tests exercise the declared Types through the real checker.
func exprOptions(env map[string]any) []expr.Option {
	opts := []expr.Option{expr.Env(env)}
	names := make([]string, 0, len(Funcs()))
	for n := range Funcs() {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		f := Funcs()[n]
		opts = append(opts, expr.Function(f.Name, f.Fn, f.Types...))
	}
	return opts
}

func TestFuncsThroughExpr(t *testing.T) {
	env := map[string]any{
		"csp_event_timestamp": nil,
		"alert_updated_dt":    "2026-11-01T10:00:00.250Z",
		"alert_created_dt":    float64(1793527200),
		"alert_status":        "  IN Progress ",
		"risk":                "",
		"tags":                []any{"env:prod", map[string]any{"Key": "team", "Value": "data"}},
		"age":                 "12",
		"name":                "データベース🚀",
	}
	tests := []struct {
		code string
		want any
	}{
		{`epoch_ms(csp_event_timestamp) ?? epoch_ms(alert_updated_dt) ?? epoch_ms(alert_created_dt)`, int64(1793527200250)},
		{`epoch_ms(csp_event_timestamp) ?? epoch_ms(alert_created_dt)`, int64(1793527200000)},
		{`norm(alert_status) == "in progress"`, true},
		{`coalesce(risk, csp_event_timestamp, "Unknown")`, "Unknown"},
		{`tags_kv(tags)`, []string{"env:prod", "team:data"}},
		{`map(tags_kv(tags), tag_key(#))`, []any{"env", "team"}},
		{`tag_value(tags_kv(tags)[1])`, "data"},
		{`to_int(age) ?? 0`, int64(12)},
		{`truncate(name, 3)`, "データ"},
		{`len(tags_kv(nil))`, 0},
		{`json({"b": 1, "a": [true, nil]})`, `{"a":[true,null],"b":1}`},
		{`str(alert_created_dt)`, "1793527200"},
		{`upper(norm(alert_status))`, "IN PROGRESS"},
	}
	for _, tt := range tests {
		prog, err := expr.Compile(tt.code, exprOptions(env)...)
		if err != nil {
			t.Errorf("compile %s: %v", tt.code, err)
			continue
		}
		got, err := expr.Run(prog, env)
		if err != nil {
			t.Errorf("run %s: %v", tt.code, err)
			continue
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s = %#v, want %#v", tt.code, got, tt.want)
		}
	}
}

// TestFuncsTypeErrors proves the declared Types reach the checker: these
// mistakes must fail when the mapping loads, not per record.
func TestFuncsTypeErrors(t *testing.T) {
	env := map[string]any{"risk": "High", "n": 3}
	for _, code := range []string{
		`norm(risk) + 1`,           // norm returns string
		`epoch_ms(risk, risk)`,     // arity
		`truncate(risk, "3")`,      // n must be an int
		`tags_kv(risk) + 1`,        // []string + int
		`tag_key()`,                // arity
		`json(risk) > 3`,           // string vs int
		`truncate(risk)`,           // arity
		`tags_kv(risk)[0] * 2 > 1`, // string * int
	} {
		if _, err := expr.Compile(code, exprOptions(env)...); err == nil {
			t.Errorf("%s compiled; want a type error", code)
		}
	}
}

// TestHelpersOnCorpus runs the DSPM mapping's time, status and tag
// expressions over the generated corpus (cmd/alertgen): every alert but the
// few without any usable time gets a time in the corpus's window.
func TestHelpersOnCorpus(t *testing.T) {
	data, err := os.ReadFile("../../testdata/dspm/alerts.ndjson")
	if err != nil {
		t.Fatal(err)
	}
	env := map[string]any{"csp_event_timestamp": nil, "alert_updated_dt": nil, "alert_created_dt": nil, "alert_status": nil, "tags": nil}
	compile := func(code string) *vm.Program {
		p, err := expr.Compile(code, exprOptions(env)...)
		if err != nil {
			t.Fatalf("compile %s: %v", code, err)
		}
		return p
	}
	timeProg := compile(`epoch_ms(csp_event_timestamp) ?? epoch_ms(alert_updated_dt) ?? epoch_ms(alert_created_dt)`)
	statusProg := compile(`norm(alert_status)`)
	tagsProg := compile(`tags_kv(tags)`)
	from := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC).UnixMilli()
	to := from + 24*3600*1000
	var noTime, statuses, tagged int
	for i, line := range bytes.Split(bytes.TrimSpace(data), []byte{'\n'}) {
		var rec map[string]any
		if err := json.Unmarshal(line, &rec); err != nil {
			t.Fatalf("line %d: %v", i+1, err)
		}
		got, err := expr.Run(timeProg, rec)
		if err != nil {
			t.Fatalf("line %d: time: %v", i+1, err)
		}
		switch ms := got.(type) {
		case nil:
			noTime++
		case int64:
			if ms < from || ms >= to {
				t.Errorf("line %d: time %d outside 2026-11-01", i+1, ms)
			}
		default:
			t.Fatalf("line %d: time is %T", i+1, got)
		}
		s, err := expr.Run(statusProg, rec)
		if err != nil {
			t.Fatalf("line %d: status: %v", i+1, err)
		}
		if s == "open" || s == "in progress" || s == "resolved" {
			statuses++
		}
		tags, err := expr.Run(tagsProg, rec)
		if err != nil {
			t.Fatalf("line %d: tags: %v", i+1, err)
		}
		for _, tag := range tags.([]string) {
			if tag == "" || !strings.Contains(tag, ":") {
				t.Errorf("line %d: tag %q is not k:v", i+1, tag)
			}
		}
		if len(tags.([]string)) > 0 {
			tagged++
		}
	}
	// The generator makes about 1% of alerts without any usable time.
	if noTime == 0 || noTime > 8 {
		t.Errorf("%d of 200 alerts have no time; want a few", noTime)
	}
	if statuses < 50 || tagged < 120 {
		t.Errorf("only %d alerts normalised to open/in progress/resolved, %d with tags", statuses, tagged)
	}
}
