package s3test

import (
	"encoding/xml"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"time"
)

// STS is a fake AWS STS (query protocol, XML answers) for AssumeRole and
// GetCallerIdentity. AssumeRole succeeds only for RoleARN with ExternalID,
// like a Security Lake provider role's trust policy, and hands out the
// configured keys with an empty session token (what versitygw's root
// account accepts). Requests must be SigV4-signed with CallerKey.
type STS struct {
	URL string
	cfg STSConfig
	srv *httptest.Server
	mu  sync.Mutex
	log []Call
}

// STSConfig is what the fake STS grants, fixed when it starts.
type STSConfig struct {
	RoleARN    string
	ExternalID string
	Account    string // the caller's account, for GetCallerIdentity
	CallerKey  string // access key id the caller must sign with ("" = any)
	AccessKey  string // credentials AssumeRole hands out
	SecretKey  string
	// Lifetime of the handed-out credentials (default 1h). Set it just above
	// the client's refresh window to see refreshes.
	Lifetime time.Duration
}

// Call is one request the fake STS answered.
type Call struct {
	Action      string
	RoleARN     string
	ExternalID  string
	SessionName string
	Duration    string
	Status      int
}

// NewSTS starts the fake STS on 127.0.0.1; Close stops it.
func NewSTS(c STSConfig) *STS {
	if c.Lifetime <= 0 {
		c.Lifetime = time.Hour
	}
	s := &STS{cfg: c}
	s.srv = httptest.NewServer(s)
	s.URL = s.srv.URL
	return s
}

// Close stops the server.
func (s *STS) Close() { s.srv.Close() }

// AnyExternalID as STSConfig.ExternalID trusts every non-empty External ID:
// a stand-in for a custom source created with whatever ID the user pasted.
const AnyExternalID = "*"

func (s *STS) trusts(id string) bool {
	if s.cfg.ExternalID == AnyExternalID {
		return id != ""
	}
	return id == s.cfg.ExternalID
}

// Calls returns the requests answered so far.
func (s *STS) Calls() []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Call(nil), s.log...)
}

// AssumeRoleCalls counts AssumeRole requests (granted or not).
func (s *STS) AssumeRoleCalls() int {
	n := 0
	for _, c := range s.Calls() {
		if c.Action == "AssumeRole" {
			n++
		}
	}
	return n
}

const stsNS = "https://sts.amazonaws.com/doc/2011-06-15/"

func (s *STS) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		s.fail(w, Call{}, http.StatusBadRequest, "InvalidParameterValue", err.Error())
		return
	}
	c := Call{
		Action:      r.PostForm.Get("Action"),
		RoleARN:     r.PostForm.Get("RoleArn"),
		ExternalID:  r.PostForm.Get("ExternalId"),
		SessionName: r.PostForm.Get("RoleSessionName"),
		Duration:    r.PostForm.Get("DurationSeconds"),
	}
	auth := r.Header.Get("Authorization")
	if !strings.HasPrefix(auth, "AWS4-HMAC-SHA256 Credential=") {
		s.fail(w, c, http.StatusForbidden, "MissingAuthenticationToken", "Request is missing Authentication Token")
		return
	}
	if s.cfg.CallerKey != "" && !strings.HasPrefix(auth, "AWS4-HMAC-SHA256 Credential="+s.cfg.CallerKey+"/") {
		s.fail(w, c, http.StatusForbidden, "InvalidClientTokenId", "The security token included in the request is invalid.")
		return
	}
	switch c.Action {
	case "AssumeRole":
		if c.RoleARN != s.cfg.RoleARN || !s.trusts(c.ExternalID) {
			s.fail(w, c, http.StatusForbidden, "AccessDenied",
				fmt.Sprintf("User: arn:aws:iam::%s:user/writer is not authorized to perform: sts:AssumeRole on resource: %s", s.cfg.Account, c.RoleARN))
			return
		}
		s.ok(w, c, fmt.Sprintf(`<AssumeRoleResponse xmlns="%s"><AssumeRoleResult>
<AssumedRoleUser><Arn>%s</Arn><AssumedRoleId>AROATEST:%s</AssumedRoleId></AssumedRoleUser>
<Credentials><AccessKeyId>%s</AccessKeyId><SecretAccessKey>%s</SecretAccessKey><SessionToken></SessionToken><Expiration>%s</Expiration></Credentials>
</AssumeRoleResult><ResponseMetadata><RequestId>req-assume</RequestId></ResponseMetadata></AssumeRoleResponse>`,
			stsNS, esc(strings.Replace(c.RoleARN, ":iam::", ":sts::", 1)+"/"+c.SessionName), esc(c.SessionName),
			esc(s.cfg.AccessKey), esc(s.cfg.SecretKey), time.Now().Add(s.cfg.Lifetime).UTC().Format(time.RFC3339)))
	case "GetCallerIdentity":
		s.ok(w, c, fmt.Sprintf(`<GetCallerIdentityResponse xmlns="%s"><GetCallerIdentityResult>
<Arn>arn:aws:iam::%s:user/writer</Arn><UserId>AIDATEST</UserId><Account>%s</Account>
</GetCallerIdentityResult><ResponseMetadata><RequestId>req-whoami</RequestId></ResponseMetadata></GetCallerIdentityResponse>`,
			stsNS, esc(s.cfg.Account), esc(s.cfg.Account)))
	default:
		s.fail(w, c, http.StatusBadRequest, "InvalidAction", "Could not find operation "+c.Action)
	}
}

func (s *STS) ok(w http.ResponseWriter, c Call, body string) {
	c.Status = http.StatusOK
	s.record(c)
	w.Header().Set("Content-Type", "text/xml")
	fmt.Fprint(w, body)
}

func (s *STS) fail(w http.ResponseWriter, c Call, status int, code, msg string) {
	c.Status = status
	s.record(c)
	w.Header().Set("Content-Type", "text/xml")
	w.WriteHeader(status)
	fmt.Fprintf(w, `<ErrorResponse xmlns="%s"><Error><Type>Sender</Type><Code>%s</Code><Message>%s</Message></Error><RequestId>req-error</RequestId></ErrorResponse>`,
		stsNS, esc(code), esc(msg))
}

func (s *STS) record(c Call) {
	s.mu.Lock()
	s.log = append(s.log, c)
	s.mu.Unlock()
}

func esc(s string) string {
	var b strings.Builder
	xml.EscapeText(&b, []byte(s))
	return b.String()
}
