package main

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/ocsfmap/ocsfmap/engine/integration"
	"github.com/ocsfmap/ocsfmap/engine/store"
)

func init() {
	register(command{name: "status", summary: "show an integration's status (Pending, Success, Failed)", run: runStatus})
}

// statusView is what status prints: the persisted status plus what is
// waiting in staging.
type statusView struct {
	Integration string `json:"integration"`
	Destination string `json:"destination"`
	store.Status
	Staged store.Counts `json:"staged"`
}

func runStatus(args []string, stdout, stderr io.Writer) error {
	fset := newFlags("status", "-c INTEGRATION [--json]", stderr)
	file := fset.String("c", "", "integration `file`")
	asJSON := fset.Bool("json", false, "print JSON, for scripts")
	in, err := parseIntegration(fset, args, file, stderr)
	if err != nil {
		return err
	}
	st, err := store.ReadStatus(in.StateDir)
	if err != nil {
		return err
	}
	v := statusView{
		Integration: in.Name,
		Destination: destinations(in),
		Status:      st,
	}
	if v.Staged, err = store.Staged(in.StagingDir); err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(v)
	}
	fmt.Fprint(stdout, renderStatus(v))
	return nil
}

func renderStatus(v statusView) string {
	var b strings.Builder
	row := func(k, format string, args ...any) { fmt.Fprintf(&b, "%-14s %s\n", k, fmt.Sprintf(format, args...)) }
	ts := func(t time.Time) string { return t.Local().Format("2006-01-02 15:04:05 MST") }
	row("integration", "%s → %s", v.Integration, v.Destination)
	row("status", "%s", v.State)
	if v.State == store.Failed {
		row("reason", "%s", v.Reason)
		row("failed at", "%s (%s)", ts(v.FailedAt), v.Kind)
	}
	if d := v.LastDelivery; d != nil {
		row("last delivery", "%s: %d objects, %s (run started %s)", ts(d.Last), d.Objects, humanBytes(d.Bytes), ts(d.Started))
	}
	row("total", "%d objects, %s", v.Total.Objects, humanBytes(v.Total.Bytes))
	if v.Staged.Objects > 0 {
		row("staged", "%d files, %s waiting for delivery", v.Staged.Objects, humanBytes(v.Staged.Bytes))
	}
	for _, rule := range slices.Sorted(maps.Keys(v.ScopeErrors)) {
		e := v.ScopeErrors[rule]
		row("scope errors", "rule %q: %d alerts (first at %s: %s)", rule, e.Count, e.Where, e.First)
	}
	if c := v.LastCheck; c != nil {
		result := "ok"
		if !c.OK {
			result = "failed"
		}
		row("last check", "%s: %s", ts(c.Time), result)
	}
	if v.State == store.Pending && v.LastDelivery == nil {
		b.WriteString("\nNothing delivered yet: run 'ocsfmap connect -c FILE', then 'ocsfmap run -c FILE'.\n")
	}
	return b.String()
}

func humanBytes(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d bytes", n)
}

// destinations names where an integration's files go: one custom source per
// class the mapping emits, or the one of a single-class mapping.
func destinations(in *integration.Integration) string {
	return "s3://" + in.Bucket + "/" + strings.Join(in.KeyPrefixes(), " and s3://"+in.Bucket+"/")
}
