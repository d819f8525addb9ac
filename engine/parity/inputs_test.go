package parity

import (
	"bytes"
	"encoding/json"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/ocsfmap/ocsfmap/engine"
	"github.com/ocsfmap/ocsfmap/engine/alertgen"
	"github.com/ocsfmap/ocsfmap/engine/source"
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

// inputsFor is what the law is checked on for one mapping: the samples of
// its source (testdata/<source>/, read as the mapping reads its inputs,
// envelopes included), generated alerts for the DSPM source, and variants
// of them with odd values and odd bytes.
func inputsFor(t testing.TB, path string, m *engine.Mapping) [][]byte {
	t.Helper()
	src := filepath.Base(filepath.Dir(path))
	dir := filepath.Join("../../testdata", src)
	if src == "zscaler-dspm" {
		dir = "../../testdata/dspm"
	}
	alerts := sourceSamples(t, dir, m.Plan.Envelope)
	if len(alerts) == 0 {
		t.Fatalf("no samples of %s in %s", path, dir)
	}
	next := samplesNext(alerts)
	if src == "zscaler-dspm" {
		alerts = append(alerts, generated(300, 19)...)
		next = generatedNext(20)
	}
	base := alerts
	alerts = append(alerts, fuzzed(600, 19, sourceFields([]*engine.Mapping{m}), next)...)
	return append(alerts, rawOdd(base[:min(24, len(base))])...)
}

// sourceSamples reads every sample file of dir (NDJSON, JSON documents and
// envelopes, gzip) into one alert each.
func sourceSamples(t testing.TB, dir string, envelope []string) [][]byte {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*"))
	if err != nil {
		t.Fatal(err)
	}
	var out [][]byte
	for _, f := range files {
		if base := filepath.Base(f); base == "SOURCES" || strings.HasSuffix(base, ".md") {
			continue
		}
		r, err := source.Open(f)
		if err != nil {
			t.Fatal(err)
		}
		r.Envelope(envelope...)
		for {
			rec, err := r.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			out = append(out, bytes.Clone(rec.Raw))
		}
		r.Close()
	}
	return out
}

// generatedNext returns alerts from the project's generator, one per call.
func generatedNext(seed uint64) func() map[string]any {
	g := alertgen.New(seed, alertgen.Options{Accounts: 2, Days: 1})
	return g.Next
}

// samplesNext returns the samples in turn, decoded afresh each time.
func samplesNext(samples [][]byte) func() map[string]any {
	i := 0
	return func() map[string]any {
		var m map[string]any
		json.Unmarshal(samples[i%len(samples)], &m)
		i++
		if m == nil {
			m = map[string]any{}
		}
		return m
	}
}

// fuzzed derives n alerts from those next returns, each with one to four of
// its fields, or of the fields the mappings read, deleted or replaced by an
// odd value (inside nested objects too).
func fuzzed(n int, seed uint64, fields []string, next func() map[string]any) [][]byte {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	out := make([][]byte, n)
	for i := range out {
		alert := next()
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
