// Package columnartest builds plan trees and records shaped like a mapped
// Security Finding by hand, for the tests and benchmarks of columnar and lake
// (and anyone needing a realistic record before a compiled plan exists).
package columnartest

import (
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/ocsfmap/ocsfmap/engine/plan"
)

// Slots names the record slots of the tree FindingTree returns.
type Slots struct {
	ClassUID, Severity, Time, TimeDT                   int
	AccountUID, Provider, Region                       int
	Req0, Req1                                         int
	FindingTitle, FindingTypes, FindingUID             int
	ProductName, VendorName, Profiles, MetaVersion     int
	ResData, ResLabels, ResName, OwnerTypeID, OwnerUID int
	ResUID                                             int
	UnmappedAge, UnmappedTheme                         int
	N                                                  int // number of slots
}

type treeBuilder struct{ n int }

func (tb *treeBuilder) leaf(name, path string, kind plan.Kind, typ string, slot *int) *plan.Node {
	*slot = tb.n
	tb.n++
	return &plan.Node{Name: name, Path: path, Kind: kind, OCSFType: typ, Slot: *slot}
}

func obj(name, path, typ string, kids ...*plan.Node) *plan.Node {
	return &plan.Node{Name: name, Path: path, Kind: plan.KindObject, OCSFType: typ, Children: kids, Slot: -1}
}

// shape is a leaf-less copy of n (Slot -1 throughout), as a list's Elem.
func shape(n *plan.Node) *plan.Node {
	c := *n
	c.Name, c.Slot = "", -1
	c.Children = nil
	for _, k := range n.Children {
		s := shape(k)
		s.Name = k.Name
		c.Children = append(c.Children, s)
	}
	if n.Elem != nil {
		c.Elem = shape(n.Elem)
	}
	c.Items = nil
	return &c
}

// FindingTree returns a hand-built output tree of a Security Finding (2001)
// mapping: scalars of every kind, nested objects, lists set as a whole and by
// index, and json_t with and without keyed children. Children are sorted by
// name, as the plan sorts them.
func FindingTree() (*plan.Node, Slots) {
	var s Slots
	tb := &treeBuilder{}
	strElem := &plan.Node{Kind: plan.KindString, OCSFType: "string_t", Slot: -1}

	types := tb.leaf("types", "finding.types", plan.KindList, "string_t", &s.FindingTypes)
	types.Elem = strElem
	profiles := tb.leaf("profiles", "metadata.profiles", plan.KindList, "string_t", &s.Profiles)
	profiles.Elem = strElem
	labels := tb.leaf("labels", "resources[0].labels", plan.KindList, "string_t", &s.ResLabels)
	labels.Elem = strElem

	res0 := obj("", "resources[0]", "resource_details",
		tb.leaf("data", "resources[0].data", plan.KindJSON, "json_t", &s.ResData),
		labels,
		tb.leaf("name", "resources[0].name", plan.KindString, "string_t", &s.ResName),
		obj("owner", "resources[0].owner", "user",
			tb.leaf("type_id", "resources[0].owner.type_id", plan.KindInt, "integer_t", &s.OwnerTypeID),
			tb.leaf("uid", "resources[0].owner.uid", plan.KindString, "string_t", &s.OwnerUID),
		),
		tb.leaf("uid", "resources[0].uid", plan.KindString, "string_t", &s.ResUID),
	)
	resources := &plan.Node{Name: "resources", Path: "resources", Kind: plan.KindList, OCSFType: "resource_details",
		Elem: shape(res0), Items: []*plan.Node{res0}, Slot: -1}

	req0 := tb.leaf("", "compliance.requirements[0]", plan.KindString, "string_t", &s.Req0)
	req1 := tb.leaf("", "compliance.requirements[1]", plan.KindString, "string_t", &s.Req1)
	reqs := &plan.Node{Name: "requirements", Path: "compliance.requirements", Kind: plan.KindList, OCSFType: "string_t",
		Elem: strElem, Items: []*plan.Node{req0, req1}, Slot: -1}

	unmapped := &plan.Node{Name: "unmapped", Path: "unmapped", Kind: plan.KindJSON, OCSFType: "object", Slot: -1,
		Children: []*plan.Node{
			tb.leaf("age", "unmapped.age", plan.KindLong, "long_t", &s.UnmappedAge),
			tb.leaf("theme", "unmapped.theme", plan.KindString, "string_t", &s.UnmappedTheme),
		}}

	root := obj("", "", "security_finding",
		tb.leaf("class_uid", "class_uid", plan.KindInt, "integer_t", &s.ClassUID),
		obj("cloud", "cloud", "cloud",
			obj("account", "cloud.account", "account",
				tb.leaf("uid", "cloud.account.uid", plan.KindString, "string_t", &s.AccountUID)),
			tb.leaf("provider", "cloud.provider", plan.KindString, "string_t", &s.Provider),
			tb.leaf("region", "cloud.region", plan.KindString, "string_t", &s.Region),
		),
		obj("compliance", "compliance", "compliance", reqs),
		obj("finding", "finding", "finding",
			tb.leaf("title", "finding.title", plan.KindString, "string_t", &s.FindingTitle),
			types,
			tb.leaf("uid", "finding.uid", plan.KindString, "string_t", &s.FindingUID),
		),
		obj("metadata", "metadata", "metadata",
			obj("product", "metadata.product", "product",
				tb.leaf("name", "metadata.product.name", plan.KindString, "string_t", &s.ProductName),
				tb.leaf("vendor_name", "metadata.product.vendor_name", plan.KindString, "string_t", &s.VendorName),
			),
			profiles,
			tb.leaf("version", "metadata.version", plan.KindString, "string_t", &s.MetaVersion),
		),
		resources,
		tb.leaf("severity", "severity", plan.KindString, "string_t", &s.Severity),
		tb.leaf("time", "time", plan.KindLong, "timestamp_t", &s.Time),
		tb.leaf("time_dt", "time_dt", plan.KindDatetime, "datetime_t", &s.TimeDT),
		unmapped,
	)
	s.N = tb.n
	return root, s
}

// Gen fills records of FindingTree with synthetic, deterministic data:
// Accounts accounts, each in 1–3 regions (so ~2×Accounts region/account
// partitions), over Days UTC days from Start.
type Gen struct {
	Slots    Slots
	Accounts int
	Days     int
	Start    time.Time

	rng      *rand.Rand
	accounts []string
	regions  [][]string
	titles   []string
	themes   []string
	data     []any
	labels   [][]plan.Value
	seq      int
}

var allRegions = []string{"us-east-1", "us-west-2", "eu-west-1", "eu-central-1", "ap-southeast-2", "ca-central-1"}

// NewGen returns a generator; seed fixes the data.
func NewGen(s Slots, accounts, days int, seed uint64) *Gen {
	g := &Gen{Slots: s, Accounts: accounts, Days: days,
		Start: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC),
		rng:   rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))}
	for i := range accounts {
		g.accounts = append(g.accounts, strconv.Itoa(100000000000+i*7919))
		var rs []string
		for j := 0; j < 1+i%3; j++ {
			rs = append(rs, allRegions[(i+j*2)%len(allRegions)])
		}
		g.regions = append(g.regions, rs)
	}
	for i := range 64 {
		g.titles = append(g.titles, "Sensitive data exposed in public bucket #"+strconv.Itoa(i))
		g.themes = append(g.themes, "theme-"+strconv.Itoa(i%7))
		g.data = append(g.data, map[string]any{
			"clusterName": "cluster-" + strconv.Itoa(i), "clusterType": "eks",
			"associatedCloud": map[string]any{"id": float64(i), "tags": []any{"a", "b"}},
		})
		g.labels = append(g.labels, []plan.Value{
			{Kind: plan.String, Str: "env=prod"}, {Kind: plan.String, Str: "team=" + strconv.Itoa(i)}})
	}
	return g
}

var severities = []string{"Informational", "Low", "Medium", "High", "Critical"}

var (
	typesVal    = []plan.Value{{Kind: plan.String, Str: "DSPM"}, {Kind: plan.String, Str: "Data Exposure"}}
	profilesVal = []plan.Value{{Kind: plan.String, Str: "cloud"}, {Kind: plan.String, Str: "datetime"}}
)

// Fill overwrites rec with the next synthetic finding and returns its time
// (ms). Every 10th record has no compliance requirements, every 7th only the
// second one, every 5th no owner: nulls and holes occur in every batch.
func (g *Gen) Fill(rec *plan.Record) int64 {
	s := g.Slots
	if cap(rec.Values) < s.N {
		rec.Values = make([]plan.Value, s.N)
	}
	rec.Values = rec.Values[:s.N]
	clear(rec.Values)
	g.seq++
	a := g.rng.IntN(len(g.accounts))
	rs := g.regions[a]
	region := rs[g.rng.IntN(len(rs))]
	day := g.rng.IntN(g.Days)
	ms := g.Start.UnixMilli() + int64(day)*86_400_000 + g.rng.Int64N(86_400_000)
	k := g.seq % 64
	v := rec.Values
	v[s.ClassUID] = plan.Value{Kind: plan.Int, Int: 2001}
	v[s.Severity] = plan.Value{Kind: plan.String, Str: severities[g.seq%len(severities)]}
	v[s.Time] = plan.Value{Kind: plan.Int, Int: ms}
	v[s.TimeDT] = plan.Value{Kind: plan.Int, Int: ms}
	v[s.AccountUID] = plan.Value{Kind: plan.String, Str: g.accounts[a]}
	v[s.Provider] = plan.Value{Kind: plan.String, Str: "AWS"}
	v[s.Region] = plan.Value{Kind: plan.String, Str: region}
	if g.seq%10 != 0 {
		if g.seq%7 != 0 {
			v[s.Req0] = plan.Value{Kind: plan.String, Str: "PCI-DSS 3.4"}
		}
		v[s.Req1] = plan.Value{Kind: plan.String, Str: "NIST 800-53 SC-28"}
	}
	v[s.FindingTitle] = plan.Value{Kind: plan.String, Str: g.titles[k]}
	v[s.FindingTypes] = plan.Value{Kind: plan.List, List: typesVal}
	v[s.FindingUID] = plan.Value{Kind: plan.String, Str: "alert-" + strconv.Itoa(g.seq)}
	v[s.ProductName] = plan.Value{Kind: plan.String, Str: "Zscaler DSPM"}
	v[s.VendorName] = plan.Value{Kind: plan.String, Str: "Zscaler"}
	v[s.Profiles] = plan.Value{Kind: plan.List, List: profilesVal}
	v[s.MetaVersion] = plan.Value{Kind: plan.String, Str: "1.1.0"}
	v[s.ResData] = plan.Value{Kind: plan.JSON, JSON: g.data[k]}
	v[s.ResLabels] = plan.Value{Kind: plan.List, List: g.labels[k]}
	v[s.ResName] = plan.Value{Kind: plan.String, Str: "bucket-" + strconv.Itoa(k)}
	if g.seq%5 != 0 {
		v[s.OwnerTypeID] = plan.Value{Kind: plan.Int, Int: 1}
		v[s.OwnerUID] = plan.Value{Kind: plan.String, Str: "owner-" + strconv.Itoa(k)}
	}
	v[s.ResUID] = plan.Value{Kind: plan.String, Str: "arn:aws:s3:::bucket-" + strconv.Itoa(k)}
	v[s.UnmappedAge] = plan.Value{Kind: plan.Int, Int: int64(g.seq % 90)}
	v[s.UnmappedTheme] = plan.Value{Kind: plan.String, Str: g.themes[k]}
	return ms
}
