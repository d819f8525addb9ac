package console

import (
	"net/http"
	"sort"

	"github.com/ocsfmap/ocsfmap/engine/service"
)

type integrationsData struct {
	Rows     []service.Status
	CanAdd   bool
	Dir      string
	Rejected int64
}

func (c *Console) integrationsData() integrationsData {
	rows := c.svc.Statuses()
	sort.Slice(rows, func(i, j int) bool { return rows[i].Name < rows[j].Name })
	return integrationsData{Rows: rows, CanAdd: c.o.Dir != "", Dir: c.o.Dir}
}

func (c *Console) integrationsPage(w http.ResponseWriter, r *http.Request, s *session) {
	data := c.integrationsData()
	names := make([]string, len(data.Rows))
	for i, st := range data.Rows {
		names[i] = st.Name
	}
	d := pageData{Title: "Integrations", Nav: "integrations", Data: data, Flash: flashText(r.URL.Query(), names)}
	c.render(w, r, http.StatusOK, "integrations", s, d)
}

// integrationsTable is the table alone: the page fetches it every few
// seconds to refresh itself.
func (c *Console) integrationsTable(w http.ResponseWriter, r *http.Request, s *session) {
	c.renderPart(w, "integrations", "rows", pageData{CSRF: s.csrf, Data: c.integrationsData()})
}
