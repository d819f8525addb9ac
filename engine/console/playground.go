package console

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/ocsfmap/ocsfmap/engine"
	"github.com/ocsfmap/ocsfmap/engine/diag"
	"github.com/ocsfmap/ocsfmap/engine/plan"
	"github.com/ocsfmap/ocsfmap/engine/validate"
)

type cachedMapping struct {
	mod   time.Time
	m     *engine.Mapping
	diags diag.List // the load's errors (m nil) or warnings
	err   string
}

// loadMapping compiles a mapping once per version of its file.
func (c *Console) loadMapping(path string) *cachedMapping {
	fi, err := os.Stat(path)
	if err != nil {
		return &cachedMapping{err: err.Error()}
	}
	if !fi.Mode().IsRegular() {
		return &cachedMapping{err: path + " is not a regular file"}
	}
	c.mapMu.Lock()
	defer c.mapMu.Unlock()
	if cm := c.mappings[path]; cm != nil && cm.mod.Equal(fi.ModTime()) {
		return cm
	}
	cm := &cachedMapping{mod: fi.ModTime()}
	m, err := engine.Load(path)
	var dl diag.List
	switch {
	case err == nil:
		cm.m, cm.diags = m, m.Warnings
	case errors.As(err, &dl):
		cm.diags = dl
	default:
		cm.err = err.Error()
	}
	c.mappings[path] = cm
	return cm
}

type recentChoice struct {
	Key   string // integration:index
	Label string
	Alert string
}

type playgroundData struct {
	Mappings []choice
	Mapping  string
	Recent   []recentChoice
	Pick     string
	Alert    string

	Ran        bool
	Header     string // mapping name -> OCSF version class
	LoadErr    string
	Diags      []diagRow
	Output     string
	MapErr     *plan.Error
	MapErrText string
	Violations []validate.Violation
	// Class is the class the record went to, for a mapping with classes
	// ("" otherwise, or when the route named none).
	Class        string
	Explain      []plan.Row
	ExplainClass string // whose table Explain is, for a mapping with classes
}

type diagRow struct {
	Severity, Code, Where, Message, Detail, Source string
}

func diagRows(l diag.List) []diagRow {
	var out []diagRow
	for _, d := range l {
		msg := d.Message
		if len(d.Suggest) > 0 {
			msg += " (did you mean " + strings.Join(d.Suggest, ", ") + "?)"
		}
		out = append(out, diagRow{Severity: d.Severity.String(), Code: d.Code, Where: d.Pos.String(), Message: msg, Detail: d.Detail, Source: d.Source})
	}
	return out
}

func (c *Console) recentChoices() []recentChoice {
	var out []recentChoice
	for _, st := range c.svc.Statuses() {
		for i, a := range c.svc.Recent(st.Name) {
			out = append(out, recentChoice{Key: st.Name + ":" + strconv.Itoa(i),
				Label: fmt.Sprintf("%s · %s · %s", st.Name, a.At.UTC().Format("15:04:05"), summary(a.Alert)), Alert: string(a.Alert)})
		}
	}
	return out
}

func (c *Console) playgroundPage(w http.ResponseWriter, r *http.Request, s *session) {
	d := &playgroundData{Mapping: r.URL.Query().Get("mapping")}
	c.playground(w, r, s, d)
}

func (c *Console) playgroundPost(w http.ResponseWriter, r *http.Request, s *session) {
	d := &playgroundData{Mapping: r.PostFormValue("mapping"), Pick: r.PostFormValue("pick"), Alert: r.PostFormValue("alert"), Ran: true}
	c.playground(w, r, s, d)
}

func (c *Console) playground(w http.ResponseWriter, r *http.Request, s *session, d *playgroundData) {
	maps := c.mappingChoices()
	d.Mappings = c.mappingLabels()
	allowed := false
	for _, m := range maps {
		allowed = allowed || m == d.Mapping
	}
	if !allowed && len(maps) > 0 {
		d.Mapping = maps[0]
		for _, m := range maps {
			if strings.HasSuffix(m, "security_finding_1.1.0.yaml") {
				d.Mapping = m
			}
		}
	}
	d.Recent = c.recentChoices()
	if strings.TrimSpace(d.Alert) == "" && d.Pick != "" {
		for _, rc := range d.Recent {
			if rc.Key == d.Pick {
				d.Alert = rc.Alert
			}
		}
	}
	status := http.StatusOK
	if d.Mapping != "" {
		cm := c.loadMapping(d.Mapping)
		d.Diags = diagRows(cm.diags)
		switch {
		case cm.err != "":
			d.LoadErr = cm.err
		case cm.m == nil:
			d.LoadErr = "The mapping does not load: see its diagnostics."
		default:
			p := cm.m.Plan
			d.Header = fmt.Sprintf("%s %s → OCSF %s %s (%d)", p.Name, p.Version, p.OCSFVersion, p.Class.Name, p.Class.UID)
			if len(cm.m.Plans) > 1 {
				d.Header = fmt.Sprintf("%s %s → OCSF %s %s, the class the route names: %s", p.Name, p.Version, p.OCSFVersion, classList(cm.m), p.Route)
			}
			class := 0
			if d.Ran && strings.TrimSpace(d.Alert) != "" {
				class = c.mapOne(cm.m, d)
			}
			d.Explain = cm.m.Plans[class].Explain()
			if len(cm.m.Plans) > 1 {
				d.ExplainClass = cm.m.Plans[class].Class.Name
			}
		}
	}
	if d.Ran && strings.TrimSpace(d.Alert) == "" {
		d.MapErrText = "Paste an alert (one JSON object) or pick a recent one."
		status = http.StatusUnprocessableEntity
	}
	c.render(w, r, status, "playground", s, pageData{Title: "Mapping playground", Nav: "playground", Data: d})
}

// mapOne maps the alert with the plan's checks and validates the record
// against the full JSON Schema of its class. It returns the record's class
// (0 when the route named none).
func (c *Console) mapOne(m *engine.Mapping, d *playgroundData) int {
	alert := bytes.TrimSpace([]byte(d.Alert))
	mp := m.NewMapper()
	out, violations, err := mp.MapValidated(alert)
	d.Violations = violations
	class := mp.Class()
	if class >= 0 && len(m.Plans) > 1 {
		cl := m.Plans[class].Class
		d.Class = fmt.Sprintf("%s (%d)", cl.Caption, cl.UID)
	}
	var pe *plan.Error
	switch {
	case errors.As(err, &pe):
		d.MapErr = pe
		d.MapErrText = pe.Error()
	case err != nil:
		d.MapErrText = err.Error()
	}
	if len(out) > 0 {
		var b bytes.Buffer
		if json.Indent(&b, out, "", "  ") == nil {
			d.Output = b.String()
		} else {
			d.Output = string(out)
		}
	}
	return max(class, 0)
}

// classList names a mapping's classes with their uids.
func classList(m *engine.Mapping) string {
	var names []string
	for _, p := range m.Plans {
		names = append(names, fmt.Sprintf("%s (%d)", p.Class.Caption, p.Class.UID))
	}
	return strings.Join(names, ", ")
}

// mappingLabels are the mapping choices with what each maps to: the OCSF
// version and class, which the custom source's event class must match.
func (c *Console) mappingLabels() []choice {
	var out []choice
	for _, p := range c.mappingChoices() {
		label := shortPath(p)
		if cm := c.loadMapping(p); cm.m != nil {
			label += fmt.Sprintf(" — OCSF %s %s", cm.m.Plan.OCSFVersion, classList(cm.m))
		} else {
			label += " — does not load"
		}
		out = append(out, choice{Value: p, Label: label})
	}
	return out
}
