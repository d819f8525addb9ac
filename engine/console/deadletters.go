package console

import (
	"net/http"
	"path/filepath"

	"github.com/ocsfmap/ocsfmap/engine/service"
)

// deadLettersShown is how many dead letters each integration shows.
const deadLettersShown = 50

type deadLetterGroup struct {
	Name    string
	Total   int64
	ByCode  map[string]int64
	Entries []deadLetterRow
	Err     string
}

type deadLetterRow struct {
	service.DeadLetterEntry
	FileName string
}

func (c *Console) deadLettersPage(w http.ResponseWriter, r *http.Request, s *session) {
	only := r.URL.Query().Get("integration")
	var groups []deadLetterGroup
	for _, st := range c.svc.Statuses() {
		if only != "" && st.Name != only {
			continue
		}
		g := deadLetterGroup{Name: st.Name, Total: st.Alerts.DeadLettered + st.Alerts.Rejected, ByCode: st.Alerts.DeadByCode}
		entries, err := c.svc.DeadLetters(st.Name, deadLettersShown)
		if err != nil {
			g.Err = err.Error()
		}
		for _, e := range entries {
			g.Entries = append(g.Entries, deadLetterRow{DeadLetterEntry: e, FileName: filepath.Base(e.File)})
		}
		groups = append(groups, g)
	}
	c.render(w, r, http.StatusOK, "deadletters", s, pageData{Title: "Dead letters", Nav: "dead-letters", Data: groups})
}
