package exprenv

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
)

// agreementExprs are the expressions the native tree must agree with the VM
// on: those of the shipped mappings and their templates, plus every node
// kind and operator it handles, including operands the VM rejects.
var agreementExprs = []string{
	`a`,
	`a ?? b ?? "lit"`,
	`a ?? (b != nil ? "x" : nil)`,
	`a == nil ? nil : (norm(b) == "aws" ? str(a) : "external_" + str(a))`,
	`trim(str(a) ?? "") == "" ? nil : trim(str(a))`,
	`is_email(a) ? nil : a`,
	`is_email(a) ? trim(a) : nil`,
	`epoch_ms(a) ?? epoch_ms(b) ?? epoch_ms(c)`,
	`tags_kv(a)`,
	`norm(a) == "" ? "none" : trim(str(a)) + " risk"`,
	`join(filter([a ?? "resource", str(b ?? c)], # != nil && # != ""), " ")`,
	`join(filter(a, # != ""), ", ")`,
	`filter(a, # != nil)`,
	`[a, b, 1, 2.5, true, nil]`,
	`a != nil ? ", id " + str(a) : ""`,
	`a != nil ? "; cluster " + str(a) + (b != nil ? " (" + str(b) + ")" : "") : ""`,
	`a == b`, `a != b`, `a == 1`, `a == 1.5`, `a == "x"`, `a == true`, `1 == 1.0`,
	`a && b`, `a || b`, `!a`, `not a`, `a and b`, `a or b`,
	`a + b`, `a + "x"`, `a ? b : c`,
	`lower(a)`, `upper(a)`, `trim(a)`, `join(a)`, `join([a, b], c)`,
	`coalesce(a, b, c)`, `to_int(a)`, `truncate(a, 5)`, `tag_key(a)`, `tag_value(a)`, `json(a)`, `norm(a)`, `str(a)`,
	`len(a)`, `a in ["x", "y"]`, `let x = a; x`, // no native form: always the VM
}

// agreementValues are the values a variable takes: what records decode to,
// and a few no record does (the VM dereferences pointers; ints come from
// helpers and literals).
func agreementValues() []any {
	s := "ptr"
	return []any{
		nil, "", "  ", "x", "y", "AWS", " In Progress ", "Ünïcode ", "user@example.com", " a@b.co ",
		"2024-06-10T08:15:30Z", "1717999999", "env:prod,team:sec", `["k:v"]`,
		0.0, 1.0, 1.5, -2.0, 1717999999000.0, 1e300,
		true, false, 1, int64(7), json.Number("12345678901234567890"),
		[]any{}, []any{"a", "", nil, "b"}, []any{"k:v", 2.0}, []string{"p", "q"}, []string(nil),
		map[string]any{}, map[string]any{"k": "v", "n": 1.0}, map[string]any(nil), &s,
	}
}

// TestNativeAgreesWithVM runs each expression over every combination of
// values for a, b and c: a native result must be exactly the VM's, and a
// record the VM fails on must not have a native result.
func TestNativeAgreesWithVM(t *testing.T) {
	vals := agreementValues()
	for _, text := range agreementExprs {
		p := mustBind(t, text)
		r := NewRunner()
		n := 0
		for _, a := range vals {
			for _, b := range vals {
				// c over a few values keeps the run short; a and b cover all.
				for _, c := range vals[:12] {
					checkAgreement(t, r, p, []any{a, b, c})
					n++
				}
			}
		}
		if testing.Verbose() {
			t.Logf("%-60s native=%v, %d cases", text, p.Native(), n)
		}
	}
}

// FuzzNativeAgreesWithVM decodes a JSON object into a, b and c, as a record's
// fields, and checks every agreement expression over it.
func FuzzNativeAgreesWithVM(f *testing.F) {
	f.Add(`{"a": "AWS", "b": "x@y.co", "c": null}`)
	f.Add(`{"a": ["k:v", "", null], "b": 1717999999000, "c": " High "}`)
	f.Add(`{"a": {"k": "v"}, "b": true, "c": "2024-06-10T08:15:30Z"}`)
	progs := make([]*Program, len(agreementExprs))
	for i, text := range agreementExprs {
		progs[i] = mustBind(f, text)
	}
	f.Fuzz(func(t *testing.T, doc string) {
		var m map[string]any
		if json.Unmarshal([]byte(doc), &m) != nil {
			return
		}
		src := []any{m["a"], m["b"], m["c"]}
		r := NewRunner()
		for _, p := range progs {
			checkAgreement(t, r, p, src)
		}
	})
}

// mustBind compiles text with variables a, b, c at slots 0, 1, 2.
func mustBind(t testing.TB, text string) *Program {
	t.Helper()
	p, err := Compile(text, Options{})
	if err != nil {
		t.Fatalf("%s: %v", text, err)
	}
	slots := make([]int, len(p.Vars))
	for i, v := range p.Vars {
		slots[i] = int(v[0] - 'a')
	}
	return p.Bind(slots)
}

func checkAgreement(t testing.TB, r *Runner, p *Program, src []any) {
	t.Helper()
	clear(r.Env)
	for _, name := range []string{"a", "b", "c"} {
		r.Env[name] = src[name[0]-'a']
	}
	want, wantErr := r.Run(p)
	got, ok := r.Eval(p, src)
	where := func() string { return fmt.Sprintf("%s with a=%#v b=%#v c=%#v", p.Text, src[0], src[1], src[2]) }
	switch {
	case ok && wantErr != nil:
		t.Fatalf("%s: native %#v, VM error %v", where(), got, wantErr)
	case ok && !reflect.DeepEqual(got, want):
		t.Fatalf("%s: native %#v (%T), VM %#v (%T)", where(), got, got, want, want)
	}
	// RunFields is the VM's result either way.
	rf, err := r.RunFields(p, src)
	if (err != nil) != (wantErr != nil) || err == nil && !reflect.DeepEqual(rf, want) {
		t.Fatalf("%s: RunFields %#v, %v; VM %#v, %v", where(), rf, err, want, wantErr)
	}
	// Append writes a string result into the buffer and hands back the rest.
	out, v, ok := r.Append([]byte("<"), p, src)
	if !ok {
		return
	}
	if wantErr != nil {
		t.Fatalf("%s: Append succeeded, VM error %v", where(), wantErr)
	}
	if s, isStr := want.(string); isStr {
		if string(out) != "<"+s || v != nil {
			t.Fatalf("%s: Append wrote %q and returned %#v, want %q", where(), out, v, "<"+s)
		}
	} else if string(out) != "<" || !reflect.DeepEqual(v, want) {
		t.Fatalf("%s: Append wrote %q and returned %#v, want %#v", where(), out, v, want)
	}
}

func TestNativeBool(t *testing.T) {
	p, err := Compile(`a ?? b`, Options{Bool: true})
	if err != nil {
		t.Fatal(err)
	}
	p = p.Bind([]int{0, 1})
	r := NewRunner()
	for _, tc := range []struct {
		a, b any
		want any // nil: the native form gives up
	}{
		{true, nil, true},
		{nil, false, false},
		{nil, nil, false}, // the VM's bool cast makes nil false
		{"yes", nil, nil},
	} {
		got, ok := r.Eval(p, []any{tc.a, tc.b})
		if tc.want == nil {
			if ok {
				t.Errorf("a=%#v b=%#v: native %#v, want the VM", tc.a, tc.b, got)
			}
			continue
		}
		if !ok || got != tc.want {
			t.Errorf("a=%#v b=%#v: native %#v, %v; want %v", tc.a, tc.b, got, ok, tc.want)
		}
		checkAgreement(t, r, p, []any{tc.a, tc.b, nil})
	}
}

// TestShippedExpressionsNative keeps the mappings on the fast path: every
// expression and template hole they ship has a native form.
func TestShippedExpressionsNative(t *testing.T) {
	dir := "../../mappings/zscaler-dspm"
	files, _ := filepath.Glob(filepath.Join(dir, "*.yaml"))
	tmpls, _ := filepath.Glob(filepath.Join(dir, "templates", "*.txt"))
	if len(files) == 0 || len(tmpls) == 0 {
		t.Fatalf("no mappings or templates under %s", dir)
	}
	exprRe := regexp.MustCompile(`(?m)(?:expr|key|when):\s*(?:'((?:[^']|'')*)'|([^'{}\n][^\n}]*?))\s*(?:}|$)`)
	holeRe := regexp.MustCompile(`\{\{(.*?)\}\}`)
	var texts []string
	for _, f := range files {
		if strings.HasSuffix(f, "_test.yaml") {
			continue
		}
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range exprRe.FindAllStringSubmatch(string(src), -1) {
			texts = append(texts, strings.ReplaceAll(m[1]+m[2], "''", "'"))
		}
	}
	for _, f := range tmpls {
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range holeRe.FindAllStringSubmatch(string(src), -1) {
			texts = append(texts, m[1])
		}
	}
	if len(texts) < 20 {
		t.Fatalf("found only %d expressions: %q", len(texts), texts)
	}
	for _, text := range texts {
		p, err := Compile(text, Options{})
		if err != nil {
			t.Fatalf("%s: %v", text, err)
		}
		if !p.Native() {
			t.Errorf("%s: no native form; it would run on the VM for every record", text)
		}
	}
}

// TestBox checks that slab-boxed values behave as compiler-made interfaces.
func TestBox(t *testing.T) {
	var b boxes
	var strs, ints []any
	for i := range 3 * 256 {
		strs = append(strs, b.str(fmt.Sprint("s", i)))
		ints = append(ints, b.int64(int64(i)<<33))
	}
	for i := range 3 * 256 {
		if s, ok := strs[i].(string); !ok || s != fmt.Sprint("s", i) || strs[i] != any(fmt.Sprint("s", i)) {
			t.Fatalf("box %d: %#v", i, strs[i])
		}
		if n, ok := ints[i].(int64); !ok || n != int64(i)<<33 || !reflect.DeepEqual(ints[i], any(int64(i)<<33)) {
			t.Fatalf("box %d: %#v", i, ints[i])
		}
	}
	if e := b.str(""); e != "" {
		t.Fatalf("empty box: %#v", e)
	}
}

func BenchmarkRunFields(b *testing.B) {
	const text = `a != nil ? "; cluster " + str(a) + (b != nil ? " (" + str(b) + ")" : "") : ""`
	src := []any{"prod-eks", "EKS"}
	for _, mode := range []string{"native", "vm"} {
		b.Run(mode, func(b *testing.B) {
			p := mustBind(b, text)
			r := NewRunner()
			if mode == "vm" {
				p.native = nil
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := r.RunFields(p, src); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
