package parity

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/ocsfmap/ocsfmap/engine"
	"github.com/ocsfmap/ocsfmap/engine/alertgen"
)

// mappingsDir holds the shipped mappings.
const mappingsDir = "../../mappings"

// shippedMappings lists every mapping under mappings/ (the *_test.yaml
// files beside them are their tests, not mappings).
func shippedMappings(t testing.TB) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(mappingsDir, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() || !strings.HasSuffix(path, ".yaml") || strings.HasSuffix(path, "_test.yaml") {
			return nil
		}
		out = append(out, path)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(out) == 0 {
		t.Fatalf("no mapping under %s", mappingsDir)
	}
	return out
}

func loadMapping(t testing.TB, path string) *engine.Mapping {
	t.Helper()
	m, err := engine.Load(path)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return m
}

// generated is n alerts from the project's generator, one line each.
func generated(n int, seed uint64) [][]byte {
	g := alertgen.New(seed, alertgen.Options{Accounts: 2, Days: 1})
	out := make([][]byte, n)
	for i := range out {
		out[i] = bytes.TrimSuffix(g.AppendNDJSON(nil), []byte("\n"))
	}
	return out
}

// sourceFields are the top-level alert fields the mappings read, sorted:
// the fuzzer aims at them as well as at the fields an alert has.
func sourceFields(ms []*engine.Mapping) []string {
	set := map[string]bool{}
	for _, m := range ms {
		for _, f := range m.Plan.Fields {
			name, _, _ := strings.Cut(f, ".")
			name, _, _ = strings.Cut(name, "[")
			if name != "" {
				set[name] = true
			}
		}
	}
	out := make([]string, 0, len(set))
	for f := range set {
		out = append(out, f)
	}
	sort.Strings(out)
	return out
}

// oddValues are what a source sends that a mapping may not expect: every
// JSON type, empty and blank strings, numbers at and beyond the edges of
// int32, int64 and float64, unicode that is hard to carry (NUL, a
// right-to-left override, an emoji), strings that
// look like values of OCSF's typed scalars but are not, and nested junk.
var oddValues = []any{
	nil, true, false, "", " ", "\t\n", "null", "0", "-1", "NaN", "true",
	"ünïcødé ✓ 🙂 \u202eevil", "a\u0000b", strings.Repeat("x", 4096),
	"2026-13-45T99:99:99Z", "1970-01-01T00:00:00Z", "9999-12-31T23:59:59.999Z", "1e309",
	"ec2.amazonaws.com", "not-a-mac", "nobody", "not a url", "300.1.2.3",
	json.Number("0"), json.Number("-1"), json.Number("70000"), json.Number("2147483648"),
	json.Number("-9223372036854775808"), json.Number("9223372036854775807"),
	json.Number("18446744073709551616"), json.Number("1e300"), json.Number("1e400"),
	json.Number("1.5"), json.Number("-0.0"), json.Number("4.9e-324"),
	[]any{}, []any{nil}, []any{json.Number("1"), "a", nil, map[string]any{}},
	[]any{[]any{[]any{}}}, map[string]any{}, map[string]any{"a": map[string]any{"b": []any{}}},
	map[string]any{"name": json.Number("7"), "": nil},
}

// fuzzed derives n alerts from generated ones, each with one to four of its
// fields, or of the fields the mappings read, deleted or replaced by an odd
// value (inside nested objects too).
func fuzzed(n int, seed uint64, fields []string) [][]byte {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	g := alertgen.New(seed+1, alertgen.Options{Accounts: 2, Days: 1})
	out := make([][]byte, n)
	for i := range out {
		alert := g.Next()
		for range 1 + rng.IntN(4) {
			mutate(rng, alert, fields)
		}
		b, err := json.Marshal(alert)
		if err != nil {
			panic(err) // every odd value is valid JSON
		}
		out[i] = b
	}
	return out
}

// mutate deletes or replaces one field of obj: a field it has or, at the
// top level, one of fields; inside a nested object half the time.
func mutate(rng *rand.Rand, obj map[string]any, fields []string) {
	keys := make([]string, 0, len(obj)+len(fields))
	for k := range obj {
		keys = append(keys, k)
	}
	sort.Strings(keys) // map order is random: keep runs reproducible
	keys = append(keys, fields...)
	if len(keys) == 0 {
		obj["x"] = oddValues[rng.IntN(len(oddValues))]
		return
	}
	k := keys[rng.IntN(len(keys))]
	if sub, ok := obj[k].(map[string]any); ok && len(sub) > 0 && rng.IntN(2) == 0 {
		mutate(rng, sub, nil)
		return
	}
	if rng.IntN(5) == 0 {
		delete(obj, k)
		return
	}
	obj[k] = oddValues[rng.IntN(len(oddValues))]
}

// rawOdd are alerts whose oddity lives in their bytes, which no Go value
// marshals to: a lone surrogate escape, invalid UTF-8 inside a string, a
// duplicate key, deep nesting, a byte order mark. Each is made from one of
// the given alerts, whose first field it changes.
func rawOdd(base [][]byte) [][]byte {
	edits := []func(a []byte) []byte{
		func(a []byte) []byte { return bytes.Replace(a, []byte(`":"`), []byte(`":"\ud800`), 1) },
		func(a []byte) []byte { return bytes.Replace(a, []byte(`":"`), []byte("\":\"\xff\xfe"), 1) },
		func(a []byte) []byte {
			return append(bytes.TrimSuffix(a, []byte("}")), []byte(`,"region":"eu-west-3","region":"us-east-1"}`)...)
		},
		func(a []byte) []byte {
			deep := strings.Repeat(`{"a":`, 200) + "1" + strings.Repeat("}", 200)
			return append(bytes.TrimSuffix(a, []byte("}")), []byte(`,"tags":`+deep+`}`)...)
		},
		func(a []byte) []byte { return append([]byte("\ufeff"), a...) },
		func(a []byte) []byte { return bytes.Replace(a, []byte(`":"`), []byte(`":"\u0000\u001f\"\\`), 1) },
	}
	var out [][]byte
	for i, a := range base {
		out = append(out, edits[i%len(edits)](append([]byte(nil), a...)))
	}
	return out
}
