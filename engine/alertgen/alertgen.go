// Package alertgen generates realistic Zscaler DSPM cloud alerts for tests,
// benchmarks and demos: the source field names of the vendor's field table
// (the spec, zscaler-dspm-security-lake.md) plus the resource's region, with
// the irregular values real exports carry. For a given seed and Options
// the output is the same on every run and platform.
package alertgen

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"

	"github.com/ocsfmap/ocsfmap/engine/internal/jsontext"
)

// Fractions of irregular values. Each is drawn independently per alert, so
// a corpus of n alerts holds about n*p of each; TestFractions checks the
// observed rates and testdata/dspm/alerts.ndjson holds every kind.
const (
	// alert_status (the rest of the mass is the seven vendor values, see
	// statusWeights): odd casing or surrounding blanks ("  open",
	// "IN PROGRESS", "resolved "), a value outside the vendor's set
	// ("Escalated"), a blank string, no key at all.
	pStatusOddCase = 0.25
	pStatusUnknown = 0.04
	pStatusBlank   = 0.02
	pStatusMissing = 0.01
	// risk: the mix is in risks; a given value is in odd casing this often.
	pRiskOddCase = 0.10
	// csp_event_timestamp absent, null or "" (time falls back to
	// alert_updated_dt, then alert_created_dt); and alerts where no
	// timestamp at all is usable (missing, "", "N/A", 0), which the mapping
	// must dead-letter.
	pEventTimeMissing = 0.08
	pEventTimeNull    = 0.02
	pEventTimeBlank   = 0.02
	pNoUsableTime     = 0.01
	// tags: list of "k:v" strings, object {k: v}, one "k:v,k:v" string,
	// empty list; the rest has no tags key.
	pTagsList   = 0.45
	pTagsObject = 0.35
	pTagsString = 0.05
	pTagsEmpty  = 0.05
	// Japanese display names (account, organisation, resource) and emoji in
	// tags and descriptions.
	pJapanese = 0.06
	pEmoji    = 0.03
	// alert_description of about 8 KB (a per-object findings list).
	pLongDescription = 0.015
	// Optional groups that many alerts lack: the identity_* fields, the
	// compliance_* fields, the Kubernetes fields on non-Kubernetes resources
	// (absent, or present as "").
	pIdentityMissing   = 0.20
	pComplianceMissing = 0.30
	pK8sFieldsBlank    = 0.40
	// Each of alert_status_description, organisation_name, organisation_id,
	// policy_theme, age and associated_cloud is absent this often.
	pOptionalMissing = 0.05
	// age as a numeric string ("12") instead of a number.
	pAgeString = 0.15
	// An AWS account id with a leading zero: it must stay a string.
	pAWSLeadingZero = 0.05
)

// Timestamp formats, drawn per timestamp field (weights in percent).
var timeFormats = []struct {
	name   string
	weight int
}{
	{"iso-ms-z", 40},       // 2026-11-01T10:15:30.123Z
	{"iso-offset", 10},     // 2026-11-01T19:15:30.123+09:00 or -0500
	{"iso-space", 5},       // 2026-11-01 10:15:30 (no zone: UTC)
	{"iso-z", 5},           // 2026-11-01T10:15:30Z
	{"epoch-s", 12},        // 1793528130 (JSON number)
	{"epoch-s-frac", 3},    // 1793528130.123
	{"epoch-ms", 15},       // 1793528130123
	{"epoch-s-string", 5},  // "1793528130"
	{"epoch-ms-string", 5}, // "1793528130123"
}

// Options shape a corpus. Zero values take the defaults.
type Options struct {
	// Accounts is the number of cloud accounts alerts come from (200). Each
	// lives in 1-3 regions, so 200 accounts give about 400 region/account
	// partitions.
	Accounts int
	// Days spreads alert times over this many days from Start (1).
	Days int
	// Start is the first instant of the time window (2026-11-01T00:00:00Z).
	Start time.Time
	// Ordered, when > 0, makes event times rise through a corpus of that
	// many alerts, as a live stream delivers them: alert i's event lies in
	// the i-th of Ordered equal slices of the window, at a random point of
	// it. The records' times are then mostly in order; alerts whose time
	// falls back to alert_updated_dt (no usable event timestamp) are later
	// by up to six hours. 0: times are uniform over the window, in random
	// order (the hard case for a writer).
	Ordered int
}

// DefaultStart is the start of the time window when Options.Start is zero.
var DefaultStart = time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)

// Generator produces one alert per call. It is not safe for concurrent use;
// give each goroutine its own Generator (with its own seed).
type Generator struct {
	rng      *rand.Rand
	accounts []account
	start    int64 // ms
	span     int64 // ms
	rec      []field
	ordered  int64 // Options.Ordered
	seq      int64 // alerts made so far, for Ordered
}

type account struct {
	cloud    *cloud
	id       string
	name     string
	orgID    string
	orgName  string
	regions  []string
	stem     string // company stem used in resource names
	env, app string
}

type field struct {
	name  string
	value any
}

// New returns a generator of alerts for seed. The same seed and options
// always give the same sequence.
func New(seed uint64, opts Options) *Generator {
	if opts.Accounts <= 0 {
		opts.Accounts = 200
	}
	if opts.Days <= 0 {
		opts.Days = 1
	}
	if opts.Start.IsZero() {
		opts.Start = DefaultStart
	}
	g := &Generator{
		rng:     rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)),
		start:   opts.Start.UnixMilli(),
		span:    int64(opts.Days) * 24 * 3600 * 1000,
		ordered: int64(max(opts.Ordered, 0)),
	}
	g.accounts = g.makeAccounts(opts.Accounts)
	return g
}

// Partitions lists the region/account pairs alerts can carry, for tests that
// check partitioning.
func (g *Generator) Partitions() [][2]string {
	var out [][2]string
	for _, a := range g.accounts {
		for _, r := range a.regions {
			out = append(out, [2]string{r, a.id})
		}
	}
	return out
}

// Next returns the next alert as decoded JSON would hold it: string,
// float64, nil, []any and map[string]any values.
func (g *Generator) Next() map[string]any {
	rec := g.next()
	m := make(map[string]any, len(rec))
	for _, f := range rec {
		m[f.name] = f.value
	}
	return m
}

// AppendNDJSON appends the next alert as one line of JSON (fields in the
// vendor table's order, object keys sorted) and a newline.
func (g *Generator) AppendNDJSON(dst []byte) []byte {
	rec := g.next()
	dst = append(dst, '{')
	for i, f := range rec {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = jsontext.AppendString(dst, f.name)
		dst = append(dst, ':')
		dst = g.appendValue(dst, f.value)
	}
	return append(dst, '}', '\n')
}

func (g *Generator) chance(p float64) bool { return g.rng.Float64() < p }

func (g *Generator) pick(list []string) string { return list[g.rng.IntN(len(list))] }

func (g *Generator) weighted(weights []int) int {
	total := 0
	for _, w := range weights {
		total += w
	}
	n := g.rng.IntN(total)
	for i, w := range weights {
		if n < w {
			return i
		}
		n -= w
	}
	return len(weights) - 1
}

func (g *Generator) digits(n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte('0' + g.rng.IntN(10))
	}
	return string(b)
}

func (g *Generator) alnum(n int, alphabet string) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = alphabet[g.rng.IntN(len(alphabet))]
	}
	return string(b)
}

const (
	lowerAlnum = "abcdefghijklmnopqrstuvwxyz0123456789"
	upperAlnum = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
)

func (g *Generator) uuid() string {
	hi, lo := g.rng.Uint64(), g.rng.Uint64()
	hi = hi&^0xf000 | 0x4000           // version 4
	lo = lo&^(0xc000<<48) | 0x8000<<48 // RFC 4122 variant
	s := fmt.Sprintf("%016x%016x", hi, lo)
	return s[0:8] + "-" + s[8:12] + "-" + s[12:16] + "-" + s[16:20] + "-" + s[20:32]
}

func (g *Generator) makeAccounts(n int) []account {
	type org struct{ id, name, stem string }
	orgs := make([][]org, len(clouds))
	for ci := range clouds {
		for range max(1, n/15) {
			stem := g.pick(orgStems)
			o := org{stem: strings.ToLower(stem), name: stem + " " + g.pick(orgSuffix)}
			switch clouds[ci].name {
			case "AWS":
				o.id = "o-" + g.alnum(10, lowerAlnum)
			case "Azure":
				o.id = g.uuid() // the Entra tenant
			default:
				o.id = strings.TrimLeft(g.digits(12), "0") + "7"
			}
			if g.chance(pJapanese) {
				o.name = g.pick(jaNames) + "株式会社"
			}
			orgs[ci] = append(orgs[ci], o)
		}
	}
	accts := make([]account, n)
	for i := range accts {
		// Half the accounts are AWS, as in a typical DSPM deployment.
		ci := g.weighted([]int{50, 30, 20})
		c := &clouds[ci]
		o := orgs[ci][g.rng.IntN(len(orgs[ci]))]
		a := account{cloud: c, orgID: o.id, orgName: o.name, stem: o.stem, env: g.pick(envs), app: g.pick(apps)}
		switch c.name {
		case "AWS":
			a.id = g.digits(12)
			if a.id[0] != '0' && g.chance(pAWSLeadingZero) {
				a.id = "0" + a.id[1:]
			}
			a.name = a.stem + "-" + a.env + "-" + a.app
		case "Azure":
			a.id = g.uuid()
			a.name = strings.ToUpper(a.stem[:1]) + a.stem[1:] + " " + strings.ToUpper(a.env[:1]) + a.env[1:] + " - " + a.app
		default:
			// Project ids are 6-30 characters.
			base := a.stem + "-" + a.env + "-" + a.app
			base = strings.TrimRight(base[:min(len(base), 25)], "-")
			a.id = base + "-" + g.digits(4)
			a.name = a.stem + " " + a.app + " (" + a.env + ")"
		}
		if g.chance(pJapanese) {
			a.name = g.pick(jaNames) + "-" + a.env
		}
		// 1-3 regions, 2 on average: ~2 partitions per account.
		nr := 1 + g.weighted([]int{30, 40, 30})
		perm := g.rng.Perm(len(c.regions))
		for _, p := range perm[:nr] {
			a.regions = append(a.regions, c.regions[p])
		}
		accts[i] = a
	}
	return accts
}

// next builds one alert in g.rec, reusing its storage.
func (g *Generator) next() []field {
	g.rec = g.rec[:0]
	add := func(name string, v any) { g.rec = append(g.rec, field{name, v}) }
	maybe := func(name string, v any) {
		if !g.chance(pOptionalMissing) {
			add(name, v)
		}
	}

	a := &g.accounts[g.rng.IntN(len(g.accounts))]
	pol := &policies[g.rng.IntN(len(policies))]
	kind := pol.kinds[g.rng.IntN(len(pol.kinds))]
	res := g.resource(a, kind)
	person := g.person()

	// Times: event, then the alert created within 15 minutes, updated
	// within 6 hours, all inside the window.
	end := g.start + g.span - 1
	event := g.start + g.rng.Int64N(g.span)
	if g.ordered > 0 {
		slice := max(g.span/g.ordered, 1)
		event = min(g.start+g.seq%g.ordered*g.span/g.ordered+(event-g.start)%slice, end)
		g.seq++
	}
	created := min(event+g.rng.Int64N(15*60*1000), end)
	updated := min(created+g.rng.Int64N(6*3600*1000), end)
	noTime := g.chance(pNoUsableTime)

	switch {
	case noTime:
		if v, ok := g.unusableTime(); ok {
			add("csp_event_timestamp", v)
		}
	case g.chance(pEventTimeMissing):
	case g.chance(pEventTimeNull / (1 - pEventTimeMissing)):
		add("csp_event_timestamp", nil)
	case g.chance(pEventTimeBlank / (1 - pEventTimeMissing - pEventTimeNull)):
		add("csp_event_timestamp", "")
	default:
		add("csp_event_timestamp", g.timestamp(event))
	}

	status, detailKey := g.status()
	if status != nil {
		add("alert_status", status)
	}
	if detailKey != "" {
		d := g.pick(statusDetailOf[detailKey])
		if strings.Contains(d, "%s") {
			d = fmt.Sprintf(d, person.email)
		}
		maybe("alert_status_description", d)
	} else {
		maybe("alert_status_description", "Status set by an external workflow")
	}

	classes := g.dataClasses()
	add("alert_description", g.description(pol, res.name, classes))
	if r := g.risk(); r != nil {
		add("risk", r)
	}
	add("alert_id", g.uuid())
	add("policy_name", pol.name)
	for _, tf := range []struct {
		name string
		ms   int64
	}{{"alert_created_dt", created}, {"alert_updated_dt", updated}} {
		if noTime {
			if v, ok := g.unusableTime(); ok {
				add(tf.name, v)
			}
			continue
		}
		add(tf.name, g.timestamp(tf.ms))
	}
	add("policy_type", pol.ptype)
	add("policy_threat_category", pol.threat)
	maybe("policy_theme", pol.theme)
	ageDays := float64(g.rng.IntN(121))
	if g.chance(pAgeString) {
		maybe("age", strconv.Itoa(int(ageDays)))
	} else {
		maybe("age", ageDays)
	}
	add("account_name", a.name)
	maybe("organisation_name", a.orgName)
	add("csp", a.cloud.name)
	add("resource_id", res.id)
	add("account_id", a.id)
	maybe("organisation_id", a.orgID)
	add("resource_name", res.name)
	add("resource_type", res.typ)
	if tags, ok := g.tags(a); ok {
		add("tags", tags)
	}
	g.kubernetes(a, res, add)
	if !g.chance(pIdentityMissing) {
		g.identity(a, person, add)
	}
	if !g.chance(pComplianceMissing) {
		add("compliance_benchmark", pol.benchmark)
		add("compliance_control_number", pol.control)
	}
	add("region", g.pick(a.regions))
	return g.rec
}

// status returns the alert_status value (nil: no key) and the canonical
// status its detail text follows ("" for unknown and blank ones).
func (g *Generator) status() (any, string) {
	switch x := g.rng.Float64(); {
	case x < pStatusMissing:
		return nil, ""
	case x < pStatusMissing+pStatusBlank:
		return []string{"", " ", "   "}[g.rng.IntN(3)], ""
	case x < pStatusMissing+pStatusBlank+pStatusUnknown:
		return g.pick(unknownStatus), ""
	}
	s := statuses[g.weighted(statusWeights)]
	if g.chance(pStatusOddCase) {
		return g.oddCase(s), s
	}
	return s, s
}

func (g *Generator) risk() any {
	r := risks[g.weighted(riskWeights)].value
	switch {
	case r == "<missing>":
		return nil
	case r != "" && g.chance(pRiskOddCase):
		return g.oddCase(r)
	}
	return r
}

var riskWeights = func() []int {
	w := make([]int, len(risks))
	for i, r := range risks {
		w[i] = r.weight
	}
	return w
}()

// oddCase returns s in one of the casings and paddings exports show; never
// s itself.
func (g *Generator) oddCase(s string) string {
	switch g.rng.IntN(5) {
	case 0:
		return strings.ToLower(s)
	case 1:
		return strings.ToUpper(s)
	case 2:
		return "  " + strings.ToLower(s)
	case 3:
		return strings.ToLower(s) + " "
	default:
		return " " + strings.ToUpper(s) + "\t"
	}
}

// timestamp renders ms in one of timeFormats.
func (g *Generator) timestamp(ms int64) any {
	t := time.UnixMilli(ms).UTC()
	switch timeFormats[g.weighted(timeFormatWeights)].name {
	case "iso-ms-z":
		return t.Format("2006-01-02T15:04:05.000Z")
	case "iso-offset":
		zones := []int{9 * 3600, -5 * 3600, 5*3600 + 1800, 3600, -8 * 3600}
		off := zones[g.rng.IntN(len(zones))]
		lt := t.In(time.FixedZone("", off))
		if g.chance(0.5) {
			return lt.Format("2006-01-02T15:04:05.000-07:00")
		}
		return lt.Format("2006-01-02T15:04:05.000-0700")
	case "iso-space":
		return t.Format("2006-01-02 15:04:05")
	case "iso-z":
		return t.Format("2006-01-02T15:04:05Z")
	case "epoch-s":
		return float64(ms / 1000)
	case "epoch-s-frac":
		return float64(ms) / 1000
	case "epoch-ms":
		return float64(ms)
	case "epoch-s-string":
		return strconv.FormatInt(ms/1000, 10)
	default:
		return strconv.FormatInt(ms, 10)
	}
}

var timeFormatWeights = func() []int {
	w := make([]int, len(timeFormats))
	for i, f := range timeFormats {
		w[i] = f.weight
	}
	return w
}()

// unusableTime is a timestamp no parser should accept; ok false: no key.
func (g *Generator) unusableTime() (any, bool) {
	switch g.rng.IntN(5) {
	case 0:
		return nil, false
	case 1:
		return "", true
	case 2:
		return "N/A", true
	case 3:
		return float64(0), true
	default:
		return nil, true
	}
}

type resource struct {
	id, name, typ      string
	kind               resourceKind
	cluster, namespace string // Kubernetes resources only
}

func (g *Generator) resource(a *account, kind resourceKind) resource {
	var cands []resourceType
	for _, rt := range resourceTypes {
		if rt.kind == kind {
			cands = append(cands, rt)
		}
	}
	rt := cands[g.rng.IntN(len(cands))]
	r := resource{kind: kind}
	region := a.regions[0]
	suffix := g.alnum(5, lowerAlnum)
	base := a.stem + "-" + a.env + "-" + a.app
	switch a.cloud.name {
	case "AWS":
		r.typ = rt.aws
	case "Azure":
		r.typ = rt.azure
	default:
		r.typ = rt.gcp
	}
	switch kind {
	case kindObjectStore:
		r.name = base + "-" + g.pick([]string{"exports", "logs", "backups", "raw", "uploads"}) + "-" + suffix
	case kindDatabase:
		r.name = a.app + "-db-" + a.env + "-" + g.digits(2)
	case kindWarehouse:
		r.name = a.app + "_" + a.env + "_dw"
	case kindVolume:
		r.name = a.app + "-data-" + suffix
	case kindKubernetes:
		r.name = a.app + "-" + g.alnum(9, lowerAlnum) + "-" + suffix
	}
	cluster := a.app + "-" + a.env + "-" + strings.ToLower(a.cloud.cluster)
	if kind == kindKubernetes {
		r.namespace = g.pick(namespaces)
		r.cluster = cluster
	}
	k8sPath := "/namespaces/" + r.namespace + "/" + strings.ToLower(rt.aws) + "s/" + r.name
	switch a.cloud.name {
	case "AWS":
		switch r.typ {
		case "AWS::S3::Bucket":
			r.id = "arn:aws:s3:::" + r.name
		case "AWS::RDS::DBInstance":
			r.id = "arn:aws:rds:" + region + ":" + a.id + ":db:" + r.name
		case "AWS::DynamoDB::Table":
			r.id = "arn:aws:dynamodb:" + region + ":" + a.id + ":table/" + r.name
		case "AWS::Redshift::Cluster":
			r.id = "arn:aws:redshift:" + region + ":" + a.id + ":cluster:" + r.name
		case "AWS::EC2::Volume":
			r.id = "arn:aws:ec2:" + region + ":" + a.id + ":volume/vol-0" + g.alnum(16, "0123456789abcdef")
		default:
			r.id = "arn:aws:eks:" + region + ":" + a.id + ":cluster/" + cluster + k8sPath
		}
	case "Azure":
		if kind == kindKubernetes {
			r.id = "/subscriptions/" + a.id + "/resourceGroups/rg-" + a.app + "-" + a.env +
				"/providers/Microsoft.ContainerService/managedClusters/" + cluster + k8sPath
		} else {
			r.id = "/subscriptions/" + a.id + "/resourceGroups/rg-" + a.app + "-" + a.env + "/providers/" + r.typ + "/" + r.name
		}
	default:
		if kind == kindKubernetes {
			r.id = "//container.googleapis.com/projects/" + a.id + "/locations/" + region + "/clusters/" + cluster + "/k8s" + k8sPath
		} else {
			r.id = "//" + strings.SplitN(r.typ, "/", 2)[0] + "/projects/" + a.id + "/locations/" + region + "/" + r.name
		}
	}
	// A display name in Japanese; the id keeps the ASCII name clouds require.
	if kind != kindKubernetes && g.chance(pJapanese) {
		r.name = g.pick(jaNames) + "-" + suffix
	}
	return r
}

type person struct{ first, last, email string }

func (g *Generator) person() person {
	f, l := g.pick(firstNames), g.pick(lastNames)
	return person{f, l, f + "." + l + "@" + g.pick(domains)}
}

func (g *Generator) dataClasses() []string {
	n := 1 + g.rng.IntN(3)
	perm := g.rng.Perm(len(dataClasses))
	out := make([]string, n)
	for i := range out {
		out[i] = dataClasses[perm[i]]
	}
	return out
}

func (g *Generator) description(pol *policy, resName string, classes []string) string {
	var b strings.Builder
	joined := strings.Join(classes, ", ")
	fmt.Fprintf(&b, pol.desc, resName, joined)
	if g.chance(pEmoji) {
		b.WriteString(" " + g.pick(emoji))
	}
	if g.chance(0.5) {
		objects := 50 + g.rng.IntN(50000)
		fmt.Fprintf(&b, " DSPM scanned %d objects and found %d matching records.", objects, 1+g.rng.IntN(objects))
	}
	if g.chance(0.1) {
		b.WriteString(" Remediation: restrict access to the data store to the identities that need it, enable encryption and access logging, and review the data owner's retention policy.")
	}
	if g.chance(pLongDescription) {
		// A per-object findings list, as the vendor attaches for large
		// scans: about 8 KB in total.
		b.WriteString(" Findings by object:")
		for i := 0; b.Len() < 8*1024; i++ {
			fmt.Fprintf(&b, " %s/part-%05d.parquet: %d %s;", resName, i, 1+g.rng.IntN(5000), classes[i%len(classes)])
		}
	}
	return b.String()
}

func (g *Generator) tags(a *account) (any, bool) {
	kv := [][2]string{
		{"env", a.env}, {"app", a.app}, {"team", g.pick(teams)},
		{"owner", g.pick(firstNames) + "@" + g.pick(domains)},
		{"cost-center", "cc-" + g.digits(4)},
	}
	kv = kv[:2+g.rng.IntN(4)]
	if g.chance(pJapanese) {
		kv = append(kv, [2]string{"部署", g.pick(jaNames)})
	}
	if g.chance(pEmoji) {
		kv = append(kv, [2]string{"status", g.pick(emoji)})
	}
	switch x := g.rng.Float64(); {
	case x < pTagsList:
		l := make([]any, len(kv))
		for i, p := range kv {
			l[i] = p[0] + ":" + p[1]
		}
		return l, true
	case x < pTagsList+pTagsObject:
		m := make(map[string]any, len(kv))
		for _, p := range kv {
			m[p[0]] = p[1]
		}
		return m, true
	case x < pTagsList+pTagsObject+pTagsString:
		parts := make([]string, len(kv))
		for i, p := range kv {
			parts[i] = p[0] + ":" + p[1]
		}
		return strings.Join(parts, ","), true
	case x < pTagsList+pTagsObject+pTagsString+pTagsEmpty:
		return []any{}, true
	}
	return nil, false
}

func (g *Generator) kubernetes(a *account, r resource, add func(string, any)) {
	if r.kind == kindKubernetes {
		add("cluster_name", r.cluster)
		add("cluster_type", a.cloud.cluster)
		add("namespace", r.namespace)
		add("associated_cloud", a.cloud.name)
		return
	}
	if g.chance(pK8sFieldsBlank) {
		add("cluster_name", "")
		add("cluster_type", "")
		add("namespace", "")
	}
	if !g.chance(pOptionalMissing) {
		add("associated_cloud", a.cloud.name)
	}
}

// identity adds the identity_* fields. identity_name is an email address
// for users and GCP service accounts, and a role or identity name
// otherwise, as the vendor sends it.
func (g *Generator) identity(a *account, p person, add func(string, any)) {
	typ := []string{"User", "Role", "ServiceAccount", "Group"}[g.weighted([]int{50, 25, 15, 10})]
	var id, name string
	source := a.cloud.idSource
	switch typ {
	case "User":
		name = p.email
		if g.chance(0.15) {
			source = "Okta"
		}
	case "Role":
		name = strings.ToUpper(a.app[:1]) + a.app[1:] + "DataAccessRole"
	case "ServiceAccount":
		name = a.app + "-svc"
		if a.cloud.name == "GCP" {
			name += "@" + a.id + ".iam.gserviceaccount.com"
		}
	default:
		name = a.app + "-" + g.pick(teams) + "-admins"
	}
	switch a.cloud.name {
	case "AWS":
		prefix := map[string]string{"User": "AIDA", "Role": "AROA", "ServiceAccount": "AIDA", "Group": "AGPA"}[typ]
		id = prefix + g.alnum(17, upperAlnum)
	case "Azure":
		id = g.uuid()
	default:
		id = "1" + g.digits(20)
	}
	add("identity_id", id)
	add("identity_type", typ)
	add("identity_source", source)
	add("identity_name", name)
	add("identity_power_category", g.pick(powerCats))
}
