package alertgen

import (
	"bufio"
	"bytes"
	"encoding/json"
	"math"
	"os"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode"

	"github.com/ocsfmap/ocsfmap/engine/internal/jsontext"
)

// vendorFields are the source fields of the vendor table, plus region.
var vendorFields = []string{
	"csp_event_timestamp", "alert_status", "alert_status_description", "alert_description", "risk", "alert_id",
	"policy_name", "alert_created_dt", "alert_updated_dt", "policy_type", "policy_threat_category", "policy_theme",
	"age", "account_name", "organisation_name", "csp", "resource_id", "account_id", "organisation_id",
	"resource_name", "resource_type", "tags", "cluster_name", "cluster_type", "namespace", "associated_cloud",
	"identity_id", "identity_type", "identity_source", "identity_name", "identity_power_category",
	"compliance_benchmark", "compliance_control_number", "region",
}

// alwaysPresent are the fields every alert carries.
var alwaysPresent = []string{
	"alert_description", "alert_id", "policy_name", "policy_type", "policy_threat_category", "account_name",
	"csp", "resource_id", "account_id", "resource_name", "resource_type", "region",
}

func TestDeterministic(t *testing.T) {
	gen := func(seed uint64, opts Options) []byte {
		g := New(seed, opts)
		var out []byte
		for range 300 {
			out = g.AppendNDJSON(out)
		}
		return out
	}
	opts := Options{Accounts: 50, Days: 3, Start: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)}
	a, b := gen(7, opts), gen(7, opts)
	if !bytes.Equal(a, b) {
		t.Fatal("same seed and options gave different output")
	}
	if bytes.Equal(a, gen(8, opts)) {
		t.Fatal("different seeds gave the same output")
	}
}

// TestNDJSONMatchesNext: the hand-written encoder writes exactly the alert
// Next returns, as encoding/json reads it back.
func TestNDJSONMatchesNext(t *testing.T) {
	ga, gb := New(3, Options{}), New(3, Options{})
	var line []byte
	for i := range 2000 {
		line = ga.AppendNDJSON(line[:0])
		if line[len(line)-1] != '\n' || bytes.Count(line, []byte{'\n'}) != 1 {
			t.Fatalf("record %d: not one line: %q", i, line)
		}
		var got map[string]any
		if err := json.Unmarshal(line, &got); err != nil {
			t.Fatalf("record %d: invalid JSON: %v\n%s", i, err, line)
		}
		if want := gb.Next(); !reflect.DeepEqual(got, want) {
			t.Fatalf("record %d:\n got %#v\nwant %#v", i, got, want)
		}
	}
}

func TestAppendString(t *testing.T) {
	for _, s := range []string{"", "plain", `q"uote\back`, "ctl\x00\x01\x1f\n\r\t", "日本語🚀", "line\u2028sep\u2029", "bad\xff\xfeutf8", "<&>"} {
		enc := jsontext.AppendString(nil, s)
		var back string
		if err := json.Unmarshal(enc, &back); err != nil {
			t.Errorf("%q encoded as %s: %v", s, enc, err)
			continue
		}
		want := strings.ToValidUTF8(s, "\uFFFD")
		want = strings.ReplaceAll(want, "\xff\xfe", "\uFFFD\uFFFD") // one U+FFFD per bad byte, as encoding/json
		if strings.Contains(s, "\xff") {
			want = "bad\uFFFD\uFFFDutf8"
		}
		if back != want {
			t.Errorf("%q round-tripped to %q, want %q", s, back, want)
		}
	}
	for _, f := range []float64{0, 1, -1.5, 1793527200.123, 1793527200123, 1e21, 1e-7, 123456789012345678} {
		var back float64
		if err := json.Unmarshal(jsontext.AppendFloat(nil, f), &back); err != nil || back != f {
			t.Errorf("%v encoded as %s, read back %v, %v", f, jsontext.AppendFloat(nil, f), back, err)
		}
	}
}

var (
	awsAccountRe = regexp.MustCompile(`^[0-9]{12}$`)
	guidRe       = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	gcpProjectRe = regexp.MustCompile(`^[a-z][a-z0-9-]{4,28}[a-z0-9]$`)
)

func TestShape(t *testing.T) {
	known := map[string]bool{}
	for _, f := range vendorFields {
		known[f] = true
	}
	regionsOf := map[string][]string{}
	for _, c := range clouds {
		regionsOf[c.name] = c.regions
	}
	start := time.Date(2026, 5, 10, 0, 0, 0, 0, time.UTC)
	opts := Options{Accounts: 120, Days: 3, Start: start}
	g := New(11, opts)
	ids := map[string]bool{}
	for i := range 3000 {
		rec := g.Next()
		for k := range rec {
			if !known[k] {
				t.Fatalf("record %d: field %q is not a vendor field", i, k)
			}
		}
		for _, k := range alwaysPresent {
			if s, ok := rec[k].(string); !ok || s == "" {
				t.Fatalf("record %d: %s = %#v, want a non-empty string", i, k, rec[k])
			}
		}
		csp := rec["csp"].(string)
		if !slices.Contains(regionsOf[csp], rec["region"].(string)) {
			t.Fatalf("record %d: region %v is not a %s region", i, rec["region"], csp)
		}
		acct := rec["account_id"].(string)
		if ok := map[string]*regexp.Regexp{"AWS": awsAccountRe, "Azure": guidRe, "GCP": gcpProjectRe}[csp].MatchString(acct); !ok {
			t.Fatalf("record %d: %s account id %q has the wrong form", i, csp, acct)
		}
		id := rec["alert_id"].(string)
		if ids[id] {
			t.Fatalf("record %d: alert_id %s repeated", i, id)
		}
		ids[id] = true
		for _, f := range []string{"csp_event_timestamp", "alert_created_dt", "alert_updated_dt"} {
			if ms, ok := usableTime(rec[f]); ok && (ms < start.UnixMilli() || ms >= start.Add(72*time.Hour).UnixMilli()) {
				t.Fatalf("record %d: %s %v (%s) outside the 3-day window", i, f, rec[f], time.UnixMilli(ms).UTC())
			}
		}
		ev, ok1 := usableTime(rec["csp_event_timestamp"])
		cr, ok2 := usableTime(rec["alert_created_dt"])
		up, ok3 := usableTime(rec["alert_updated_dt"])
		if ok1 && ok2 && ok3 && !(ev/1000 <= cr/1000+1 && cr/1000 <= up/1000+1) {
			t.Fatalf("record %d: times out of order: event %d created %d updated %d", i, ev, cr, up)
		}
	}
}

func TestPartitions(t *testing.T) {
	g := New(1, Options{})
	parts := g.Partitions()
	if n := len(parts); n < 340 || n > 460 {
		t.Errorf("200 accounts give %d region/account partitions, want about 400", n)
	}
	seen := map[[2]string]bool{}
	for range 20000 {
		rec := g.Next()
		seen[[2]string{rec["region"].(string), rec["account_id"].(string)}] = true
	}
	for p := range seen {
		if !slices.Contains(parts, p) {
			t.Fatalf("alert partition %v is not in Partitions()", p)
		}
	}
	if len(seen) < len(parts)*9/10 {
		t.Errorf("20000 alerts cover %d of %d partitions", len(seen), len(parts))
	}
}

// usableTime is an oracle independent of the engine's parser: time.Parse
// for text, the magnitude rule for numbers.
func usableTime(v any) (int64, bool) {
	var f float64
	switch x := v.(type) {
	case float64:
		f = x
	case string:
		for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.000-0700", "2006-01-02 15:04:05"} {
			if t, err := time.Parse(layout, x); err == nil {
				return t.UnixMilli(), true
			}
		}
		n, err := strconv.ParseFloat(x, 64)
		if err != nil {
			return 0, false
		}
		f = n
	default:
		return 0, false
	}
	switch {
	case f <= 0:
		return 0, false
	case f < 1e11:
		return int64(math.Round(f * 1000)), true
	default:
		return int64(f), true
	}
}

// kinds classifies an alert's irregular values, from the record alone.
func kinds(rec map[string]any) map[string]bool {
	k := map[string]bool{}
	canon := map[string]string{}
	for _, s := range statuses {
		canon[strings.ToLower(s)] = s
	}
	switch s, ok := rec["alert_status"].(string); {
	case !ok:
		k["status missing"] = true
	case strings.TrimSpace(s) == "":
		k["status blank"] = true
	case canon[strings.ToLower(strings.TrimSpace(s))] == "":
		k["status unknown"] = true
	case canon[strings.ToLower(strings.TrimSpace(s))] != s:
		k["status odd case"] = true
	}
	switch r, ok := rec["risk"].(string); {
	case !ok:
		k["risk missing"] = true
	case r == "":
		k["risk blank"] = true
	case strings.EqualFold(strings.TrimSpace(r), "severe"):
		k["risk unknown"] = true
	case strings.EqualFold(strings.TrimSpace(r), "informational"):
		k["risk informational"] = true
	}
	ev, hasEvent := rec["csp_event_timestamp"]
	if !hasEvent {
		k["event time missing"] = true
	}
	_, e1 := usableTime(ev)
	_, e2 := usableTime(rec["alert_updated_dt"])
	_, e3 := usableTime(rec["alert_created_dt"])
	if !e1 && (e2 || e3) {
		k["event time unusable, fallback usable"] = true
	}
	if !e1 && !e2 && !e3 {
		k["no usable time"] = true
	}
	switch x := ev.(type) {
	case float64:
		if x >= 1e11 {
			k["time epoch ms number"] = true
		} else if x > 0 {
			k["time epoch s number"] = true
		}
	case string:
		if _, err := strconv.ParseInt(x, 10, 64); err == nil {
			k["time numeric string"] = true
		} else if len(x) > 10 {
			k["time iso"] = true
		}
	}
	switch x := rec["tags"].(type) {
	case nil:
		k["tags missing"] = true
	case []any:
		if len(x) == 0 {
			k["tags empty list"] = true
		} else {
			k["tags list"] = true
		}
	case map[string]any:
		k["tags object"] = true
	case string:
		k["tags string"] = true
	}
	if d, _ := rec["alert_description"].(string); len(d) > 7*1024 {
		k["long description"] = true
	}
	if _, ok := rec["identity_id"]; !ok {
		k["identity missing"] = true
	}
	if _, ok := rec["compliance_benchmark"]; !ok {
		k["compliance missing"] = true
	}
	if s, ok := rec["age"].(string); ok && s != "" {
		k["age string"] = true
	}
	if s, ok := rec["cluster_name"].(string); ok && s == "" {
		k["cluster blank"] = true
	}
	if id, _ := rec["account_id"].(string); rec["csp"] == "AWS" && strings.HasPrefix(id, "0") {
		k["aws account leading zero"] = true
	}
	raw, _ := json.Marshal(rec)
	for _, r := range string(raw) {
		if unicode.In(r, unicode.Han, unicode.Hiragana, unicode.Katakana) {
			k["japanese"] = true
		}
		if r >= 0x1F300 {
			k["emoji"] = true
		}
	}
	return k
}

// TestFractions checks each documented fraction against the rate observed
// in 20,000 alerts (within 4 standard deviations plus 0.5 points).
func TestFractions(t *testing.T) {
	const n = 20000
	count := map[string]int{}
	g := New(42, Options{})
	for range n {
		for kind := range kinds(g.Next()) {
			count[kind]++
		}
	}
	pEvent := (1 - pNoUsableTime)
	want := map[string]float64{
		"status missing":     pStatusMissing,
		"status blank":       pStatusBlank,
		"status unknown":     pStatusUnknown,
		"status odd case":    pStatusOddCase * (1 - pStatusMissing - pStatusBlank - pStatusUnknown),
		"risk missing":       0.03,
		"risk blank":         0.03,
		"risk unknown":       0.02,
		"risk informational": 0.05,
		// The no-time alerts lack the key a fifth of the time.
		"event time missing":                   pEvent*pEventTimeMissing + pNoUsableTime/5,
		"no usable time":                       pNoUsableTime,
		"tags list":                            pTagsList,
		"tags object":                          pTagsObject,
		"tags string":                          pTagsString,
		"tags empty list":                      pTagsEmpty,
		"tags missing":                         1 - pTagsList - pTagsObject - pTagsString - pTagsEmpty,
		"long description":                     pLongDescription,
		"identity missing":                     pIdentityMissing,
		"compliance missing":                   pComplianceMissing,
		"age string":                           pAgeString * (1 - pOptionalMissing),
		"time epoch s number":                  pEvent * (1 - pEventTimeMissing - pEventTimeNull - pEventTimeBlank) * 0.15,
		"time epoch ms number":                 pEvent * (1 - pEventTimeMissing - pEventTimeNull - pEventTimeBlank) * 0.15,
		"time numeric string":                  pEvent * (1 - pEventTimeMissing - pEventTimeNull - pEventTimeBlank) * 0.10,
		"time iso":                             pEvent * (1 - pEventTimeMissing - pEventTimeNull - pEventTimeBlank) * 0.60,
		"event time unusable, fallback usable": pEvent * (pEventTimeMissing + pEventTimeNull + pEventTimeBlank),
	}
	for kind, p := range want {
		got := float64(count[kind]) / n
		tol := 4*math.Sqrt(p*(1-p)/n) + 0.005
		if math.Abs(got-p) > tol {
			t.Errorf("%s: observed %.4f, documented %.4f (tolerance %.4f)", kind, got, p, tol)
		}
	}
	// Rates that depend on several draws: only bounds.
	for kind, bounds := range map[string][2]float64{
		"japanese":                 {0.05, 0.40},
		"emoji":                    {0.02, 0.15},
		"cluster blank":            {0.2, 0.4},
		"aws account leading zero": {0.005, 0.15},
	} {
		if got := float64(count[kind]) / n; got < bounds[0] || got > bounds[1] {
			t.Errorf("%s: observed %.4f, want within %v", kind, got, bounds)
		}
	}
}

// TestCorpusHasEveryKind: the committed 200-alert corpus (made by
// cmd/alertgen, which checks it is up to date) holds every irregular kind,
// so mapping tests over it see them all.
func TestCorpusHasEveryKind(t *testing.T) {
	f, err := os.Open("../../testdata/dspm/alerts.ndjson")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	count := map[string]int{}
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	lines := 0
	for sc.Scan() {
		var rec map[string]any
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			t.Fatalf("line %d: %v", lines+1, err)
		}
		lines++
		for kind := range kinds(rec) {
			count[kind]++
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if lines != 200 {
		t.Errorf("corpus has %d alerts, want 200", lines)
	}
	for _, kind := range []string{
		"status missing", "status blank", "status unknown", "status odd case", "risk missing", "risk blank",
		"risk unknown", "risk informational", "event time missing", "event time unusable, fallback usable",
		"no usable time", "time epoch s number", "time epoch ms number", "time numeric string", "time iso",
		"tags list", "tags object", "tags string", "tags empty list", "tags missing", "long description",
		"identity missing", "compliance missing", "age string", "cluster blank", "japanese", "emoji",
	} {
		if count[kind] == 0 {
			t.Errorf("corpus has no alert of kind %q", kind)
		}
	}
}

func BenchmarkAppendNDJSON(b *testing.B) {
	g := New(1, Options{})
	var buf []byte
	b.ReportAllocs()
	total := 0
	for b.Loop() {
		buf = g.AppendNDJSON(buf[:0])
		total += len(buf)
	}
	b.ReportMetric(float64(total)/float64(b.N), "bytes/alert")
}

func BenchmarkNext(b *testing.B) {
	g := New(1, Options{})
	b.ReportAllocs()
	for b.Loop() {
		_ = g.Next()
	}
}

// With Ordered, event times rise through the corpus (to the second: some
// formats drop the milliseconds) and still cover the window; the other
// fields are drawn as without it.
func TestOrdered(t *testing.T) {
	const n = 2000
	start := time.Date(2026, 5, 10, 0, 0, 0, 0, time.UTC)
	g := New(5, Options{Accounts: 30, Days: 2, Start: start, Ordered: n})
	last, seen := int64(0), 0
	for i := range n {
		rec := g.Next()
		ms, ok := usableTime(rec["csp_event_timestamp"])
		if !ok {
			continue
		}
		seen++
		if ms/1000 < last/1000 {
			t.Fatalf("record %d: event %s before the previous one, %s", i, time.UnixMilli(ms).UTC(), time.UnixMilli(last).UTC())
		}
		if ms < start.UnixMilli() || ms >= start.Add(48*time.Hour).UnixMilli() {
			t.Fatalf("record %d: event %s outside the window", i, time.UnixMilli(ms).UTC())
		}
		last = ms
	}
	if seen < n*3/4 || last < start.Add(47*time.Hour).UnixMilli() {
		t.Errorf("%d event times, the last %s: want most alerts, up to the window's end", seen, time.UnixMilli(last).UTC())
	}
}
