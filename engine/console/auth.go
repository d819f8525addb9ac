package console

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"net/http"
	"strconv"
	"sync"
	"time"
)

const (
	sessionCookie = "ocsfmap_session"
	loginCookie   = "ocsfmap_login" // the sign-in form's CSRF token, before there is a session
	csrfField     = "csrf"
	csrfHeader    = "X-CSRF-Token"
)

// session is one signed-in browser. Sessions live in memory: a restart
// signs everyone out, which is what a console of one process should do.
type session struct {
	id      string
	csrf    string
	expires time.Time
}

type sessions struct {
	ttl time.Duration
	mu  sync.Mutex
	m   map[string]*session
}

func newSessions(ttl time.Duration) *sessions { return &sessions{ttl: ttl, m: map[string]*session{}} }

func (s *sessions) create() *session {
	ss := &session{id: randomToken(), csrf: randomToken(), expires: time.Now().Add(s.ttl)}
	s.mu.Lock()
	defer s.mu.Unlock()
	for id, old := range s.m { // drop the expired ones as new ones come
		if time.Now().After(old.expires) {
			delete(s.m, id)
		}
	}
	s.m[ss.id] = ss
	return ss
}

func (s *sessions) get(id string) *session {
	s.mu.Lock()
	defer s.mu.Unlock()
	ss := s.m[id]
	if ss == nil || time.Now().After(ss.expires) {
		delete(s.m, id)
		return nil
	}
	return ss
}

func (s *sessions) drop(id string) {
	s.mu.Lock()
	delete(s.m, id)
	s.mu.Unlock()
}

func randomToken() string {
	var b [32]byte
	rand.Read(b[:]) // never fails (crypto/rand panics instead)
	return base64.RawURLEncoding.EncodeToString(b[:])
}

func equal(a, b string) bool {
	return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}

// auth lets a request through only with a session; a POST also needs the
// session's CSRF token (form field csrf or header X-CSRF-Token), else 403.
// Without a session nothing runs: pages and forms redirect to /login; the
// list's refresh and the scope check (fetches) get 401.
func (c *Console) auth(h func(http.ResponseWriter, *http.Request, *session)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var s *session
		if ck, err := r.Cookie(sessionCookie); err == nil {
			s = c.sess.get(ck.Value)
		}
		if s == nil {
			// Nothing is done without a session. A page (or a form posted
			// after the session ended) goes to /login; a fetch gets 401.
			if r.Header.Get("X-Requested-With") == "fetch" || r.Header.Get(csrfHeader) != "" {
				http.Error(w, "sign in first", http.StatusUnauthorized)
				return
			}
			http.Redirect(w, r, "/login", http.StatusSeeOther)
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			token := r.Header.Get(csrfHeader)
			if token == "" {
				token = r.PostFormValue(csrfField)
			}
			if !equal(token, s.csrf) {
				http.Error(w, "missing or wrong CSRF token: reload the page and try again", http.StatusForbidden)
				return
			}
		}
		h(w, r, s)
	})
}

// cookie sets a cookie the way the console's cookies are set.
func (c *Console) cookie(w http.ResponseWriter, name, value, path string, maxAge int) {
	http.SetCookie(w, &http.Cookie{
		Name: name, Value: value, Path: path, MaxAge: maxAge,
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: c.o.Secure,
	})
}

type loginData struct{ Token string }

func (c *Console) loginPage(w http.ResponseWriter, r *http.Request) {
	if ck, err := r.Cookie(sessionCookie); err == nil && c.sess.get(ck.Value) != nil {
		http.Redirect(w, r, "/", http.StatusSeeOther)
		return
	}
	c.showLogin(w, r, http.StatusOK, "")
}

func (c *Console) showLogin(w http.ResponseWriter, r *http.Request, status int, msg string) {
	// Keep the form's token while the browser has one: a second GET /login
	// (another tab, a redirected favicon request) must not void the first form.
	token := randomToken()
	if ck, err := r.Cookie(loginCookie); err == nil && len(ck.Value) == len(token) {
		token = ck.Value
	}
	c.cookie(w, loginCookie, token, "/login", 600)
	c.render(w, r, status, "login", nil, pageData{Title: "Sign in", CSRF: token, Error: msg})
}

// login checks the form's token against the admin tokens in constant time
// (every one is compared, whichever matches) and starts a session.
func (c *Console) login(w http.ResponseWriter, r *http.Request) {
	ck, err := r.Cookie(loginCookie)
	if err != nil || !equal(r.PostFormValue(csrfField), ck.Value) {
		http.Error(w, "missing or wrong CSRF token: reload the sign-in page", http.StatusForbidden)
		return
	}
	token := r.PostFormValue("token")
	ok, locked := c.signIn.check(r.RemoteAddr, func() bool {
		ok := 0
		for _, t := range c.o.AdminTokens {
			ok |= subtle.ConstantTimeCompare([]byte(token), []byte(t))
		}
		return ok == 1 && token != ""
	})
	if locked {
		c.log.Warn("console sign-in refused: too many wrong tokens from this address", "remote", r.RemoteAddr)
		w.Header().Set("Retry-After", strconv.Itoa(int(c.signIn.lockFor.Seconds())))
		c.showLogin(w, r, http.StatusTooManyRequests, "Too many wrong tokens from this address: sign-in is locked for a while.")
		return
	}
	if !ok {
		c.log.Warn("console sign-in refused", "remote", r.RemoteAddr)
		c.showLogin(w, r, http.StatusUnauthorized, "That token does not sign in to the console (ingest tokens do not).")
		return
	}
	s := c.sess.create()
	c.cookie(w, loginCookie, "", "/login", -1)
	c.cookie(w, sessionCookie, s.id, "/", int(c.o.SessionTTL.Seconds()))
	c.log.Info("console sign-in", "remote", r.RemoteAddr)
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

func (c *Console) logout(w http.ResponseWriter, r *http.Request, s *session) {
	c.sess.drop(s.id)
	c.cookie(w, sessionCookie, "", "/", -1)
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}
