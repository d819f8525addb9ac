package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/ocsfmap/ocsfmap/engine/plan"
)

func init() {
	register(command{name: "explain", summary: "print a mapping's compiled table and its OCSF coverage", run: runExplain})
}

func runExplain(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("explain", "-m MAPPING", stderr)
	var mapping string
	fs.StringVar(&mapping, "m", "", "mapping file")
	fs.StringVar(&mapping, "mapping", "", "mapping file")
	rest, err := parse(fs, args)
	if err != nil {
		return err
	}
	if mapping == "" && len(rest) == 1 {
		mapping = rest[0]
	}
	m, err := loadMapping(mapping, stderr)
	if err != nil {
		return err
	}
	if len(m.Plans) > 1 {
		p := m.Plan
		fmt.Fprintf(stdout, "%s %s -> OCSF %s, %d classes: %s\nroute: %s\n", p.Name, p.Version, p.OCSFVersion, len(m.Plans), strings.Join(m.Classes(), ", "), strings.Join(strings.Fields(p.Route), " "))
	}
	for i, p := range m.Plans {
		if len(m.Plans) > 1 {
			fmt.Fprintf(stdout, "\n== class %d of %d: %s (%d) profiles [%s]\n\n", i+1, len(m.Plans), p.Class.Name, p.Class.UID, strings.Join(p.Profiles, ", "))
		} else {
			fmt.Fprintf(stdout, "%s %s -> OCSF %s %s (%d) profiles [%s]\n\n", p.Name, p.Version, p.OCSFVersion, p.Class.Name, p.Class.UID, strings.Join(p.Profiles, ", "))
		}
		explainPlan(stdout, p)
	}
	return nil
}

// explainPlan prints one class's compiled table and its OCSF coverage.
func explainPlan(stdout io.Writer, p *plan.Plan) {
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "TARGET\tTYPE\tREQUIREMENT\tRULE")
	for _, r := range p.Explain() {
		req := string(r.Requirement)
		if req == "" {
			req = "-"
		}
		if r.Deprecated {
			req += " (deprecated)"
		}
		rule := r.Rule
		if r.Deviation != "" {
			rule += "  [deviation]"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", r.Path, r.Type, req, rule)
	}
	tw.Flush()
	fmt.Fprintln(stdout)
	for _, c := range p.Coverage() {
		total := len(c.Set) + len(c.Missing)
		fmt.Fprintf(stdout, "%s attributes: %d of %d set", c.Level, len(c.Set), total)
		if len(c.Missing) > 0 {
			fmt.Fprintf(stdout, "; not set: %s", strings.Join(c.Missing, ", "))
		}
		fmt.Fprintln(stdout)
	}
	if devs := p.Deviations(); len(devs) > 0 {
		fmt.Fprintf(stdout, "\ndeviations from the source's own table: %d (see the mapping file)\n", len(devs))
	}
}
