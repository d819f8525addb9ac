package console

import (
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// apiTestConnection is POST /v1/integrations/{name}/test-connection: Test
// Connection for scripts, with an admin token (an ingest token only sends
// alerts), throttled with the wizard's. The outcome is recorded in the
// integration's status.
func (c *Console) apiTestConnection(w http.ResponseWriter, r *http.Request) {
	token, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	ok := 0
	for _, t := range c.o.AdminTokens {
		ok |= subtle.ConstantTimeCompare([]byte(strings.TrimSpace(token)), []byte(t))
	}
	if ok != 1 {
		time.Sleep(c.signIn.failDelay)
		w.Header().Set("WWW-Authenticate", `Bearer realm="ocsfmap console"`)
		writeJSONError(w, http.StatusUnauthorized, "Test Connection needs the console's admin token (Authorization: Bearer TOKEN); an ingest token does not run it")
		return
	}
	name := r.PathValue("name")
	if _, found := c.svc.Status(name); !found {
		writeJSONError(w, http.StatusNotFound, fmt.Sprintf("no integration named %q", name))
		return
	}
	done, wait, started := c.checks.start(time.Now())
	if !started {
		tooMany(w, wait)
		return
	}
	defer done()
	res, err := c.svc.TestConnection(r.Context(), name, r.URL.Query().Get("write_probe") == "true")
	if err != nil {
		writeJSONError(w, http.StatusInternalServerError, err.Error())
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	json.NewEncoder(w).Encode(res)
}

func tooMany(w http.ResponseWriter, wait time.Duration) {
	secs := int(math.Ceil(wait.Seconds()))
	w.Header().Set("Retry-After", strconv.Itoa(secs))
	writeJSONError(w, http.StatusTooManyRequests, fmt.Sprintf("a connection test is running, or too many ran in a short while: retry in %ds", secs))
}

func writeJSONError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]string{"error": msg})
}
