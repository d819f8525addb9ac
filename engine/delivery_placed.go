package engine

import (
	"strings"
	"time"

	"github.com/ocsfmap/ocsfmap/engine/plan"
)

// Placement is the partition a delivered record went to: the values of its
// region and account keys and the UTC day of its time, as the lake writer
// names the partition's folder.
type Placement struct {
	Region, Account string // valid only during the call: copy to keep
	Day             int64  // days since 1970-01-01 UTC
}

// EventDay is the day as the eventDay key spells it (YYYYMMDD).
func (p Placement) EventDay() string {
	return time.UnixMilli(p.Day * dayMs).UTC().Format("20060102")
}

const dayMs = 86_400_000

// placingSink tells where each record the lake took went. The values are
// read as the lake writer reads them (blank: the default; surrounding
// blanks trimmed); a record it took had valid ones.
type placingSink struct {
	lakeSink
	placed                func(string, Placement)
	time, region, account int
	defRegion, defAccount string
}

func (s placingSink) Write(r *Result) error {
	if err := s.lakeSink.Write(r); err != nil {
		return err
	}
	v := r.Rec.Values
	s.placed(r.Input, Placement{
		Region:  slotString(v, s.region, s.defRegion),
		Account: slotString(v, s.account, s.defAccount),
		Day:     v[s.time].Int / dayMs, // the lake took it: 0 <= time
	})
	return nil
}

func slotString(v []plan.Value, slot int, def string) string {
	if slot < 0 || v[slot].Kind != plan.String {
		return def
	}
	if s := strings.TrimSpace(v[slot].Str); s != "" {
		return s
	}
	return def
}
