package stalwartsim

import (
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/dezky/platform-api/integrations/sim/faults"
)

// Stalwart's default JMAP limits (the Jmap settings object), advertised in the session's
// urn:ietf:params:jmap:core capability.
const (
	defaultMaxCallsInRequest = 16
	defaultMaxObjectsInGet   = 500
	defaultMaxObjectsInSet   = 500
	defaultMaxSizeRequest    = 10_000_000
	defaultQueryMaxResults   = 5000
)

// adminAccountID is the JMAP account of the authenticated administrator. It is the token's own
// account, not an object of the simulated registry (like the recovery admin).
const adminAccountID = "a"

// Options configures a simulator. The zero value is usable: any bearer token is accepted and
// Stalwart's default limits apply.
type Options struct {
	// Token is the only bearer token accepted. Empty: any non-empty bearer token is accepted (the
	// dev stack), a missing or non-Bearer Authorization still gets 401.
	Token string
	// MaxCallsInRequest, MaxObjectsInGet and MaxObjectsInSet are the limits advertised and
	// enforced. Zero means Stalwart's defaults (16, 500, 500); tests lower them to check a
	// client splits its work.
	MaxCallsInRequest int
	MaxObjectsInGet   int
	MaxObjectsInSet   int
	// QueryMaxResults caps a /query page. Zero means Stalwart's default (5000).
	QueryMaxResults int
	// PublicURL is the base of the URLs in the session object (Stalwart uses its configured
	// https hostname). Empty: the scheme and Host of each request.
	PublicURL string
	// NoPrimaryAccount leaves urn:stalwart:jmap out of primaryAccounts; registry calls without an
	// accountId then act on the token's account, as Stalwart does.
	NoPrimaryAccount bool
	// Now is the clock for createdAt values. Nil means time.Now.
	Now func() time.Time
}

// Server is the simulator: an http.Handler safe for concurrent use.
type Server struct {
	opts    Options
	schema  *schema
	faults  *faults.Injector
	handler http.Handler

	mu           sync.Mutex
	reg          registry
	sessionState uint32
	methodFaults []methodFault
}

// methodFault answers the next matching method calls with a method-level error.
type methodFault struct {
	method  string
	errType string
	left    int
}

// New builds a simulator.
func New(opts Options) *Server {
	if opts.MaxCallsInRequest <= 0 {
		opts.MaxCallsInRequest = defaultMaxCallsInRequest
	}
	if opts.MaxObjectsInGet <= 0 {
		opts.MaxObjectsInGet = defaultMaxObjectsInGet
	}
	if opts.MaxObjectsInSet <= 0 {
		opts.MaxObjectsInSet = defaultMaxObjectsInSet
	}
	if opts.QueryMaxResults <= 0 {
		opts.QueryMaxResults = defaultQueryMaxResults
	}
	sc, err := loadSchema()
	if err != nil {
		panic(err) // the schema is embedded at build time; a bad one is a programming error
	}
	s := &Server{opts: opts, schema: sc, reg: newRegistry(), sessionState: 1}
	s.faults = faults.New(problemBody)
	mux := http.NewServeMux()
	mux.HandleFunc("/", s.route)
	s.handler = s.faults.Wrap(mux)
	return s
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.handler.ServeHTTP(w, r) }

// Faults returns the fault injector wrapping every request.
func (s *Server) Faults() *faults.Injector { return s.faults }

func (s *Server) now() time.Time {
	if s.opts.Now != nil {
		return s.opts.Now()
	}
	return time.Now()
}

// route dispatches like Stalwart's HTTP router (crates/http/src/request.rs): the JMAP discovery
// redirect, the session resource and the API endpoint; anything else is a problem-JSON 404.
func (s *Server) route(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.URL.Path == "/.well-known/jmap" && r.Method == http.MethodGet:
		// Unauthenticated and with an empty body, to a path relative to the server.
		w.Header().Set("Cache-Control", "no-cache")
		w.Header().Set("Location", "/jmap/session")
		w.WriteHeader(http.StatusTemporaryRedirect)
	case r.URL.Path == "/jmap/session" && r.Method == http.MethodGet:
		s.serveSession(w, r)
	case (r.URL.Path == "/jmap/" || r.URL.Path == "/jmap") && r.Method == http.MethodPost:
		s.serveAPI(w, r)
	case strings.HasPrefix(r.URL.Path, "/jmap") && r.Method == http.MethodOptions:
		w.WriteHeader(http.StatusNoContent)
	default:
		writeProblem(w, problem{Type: "about:blank", Status: http.StatusNotFound, Title: "Not Found",
			Detail: "The requested resource does not exist on this server."})
	}
}

// authenticate checks the bearer token. Stalwart answers a missing or failed authentication on
// the JMAP endpoints with 401, a WWW-Authenticate challenge and a problem JSON body
// (api-endpoints.md "Authentication"; RequestError::unauthorized).
func (s *Server) authenticate(w http.ResponseWriter, r *http.Request) bool {
	h := r.Header.Get("Authorization")
	scheme, tok, _ := strings.Cut(h, " ")
	ok := strings.EqualFold(scheme, "Bearer") && tok != ""
	if ok && s.opts.Token != "" {
		ok = subtle.ConstantTimeCompare([]byte(tok), []byte(s.opts.Token)) == 1
	}
	if ok {
		return true
	}
	w.Header().Add("WWW-Authenticate",
		`Bearer realm="Stalwart Server", resource_metadata="/.well-known/oauth-protected-resource"`)
	w.Header().Add("WWW-Authenticate", `Basic realm="Stalwart Server"`)
	writeProblem(w, problem{Type: "about:blank", Status: http.StatusUnauthorized, Title: "Unauthorized",
		Detail: "You have to authenticate first."})
	return false
}

// problem is an RFC 7807 body as Stalwart's RequestError serialises it.
type problem struct {
	Type   string `json:"type"`
	Status int    `json:"status"`
	Title  string `json:"title,omitempty"`
	Detail string `json:"detail"`
	Limit  string `json:"limit,omitempty"`
}

func writeProblem(w http.ResponseWriter, p problem) {
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(p.Status)
	_ = json.NewEncoder(w).Encode(p)
}

// problemBody renders injected HTTP faults the way Stalwart renders those statuses.
func problemBody(status int) (string, []byte) {
	p := problem{Type: "about:blank", Status: status, Title: http.StatusText(status), Detail: http.StatusText(status)}
	switch status {
	case http.StatusTooManyRequests:
		p.Detail = "Your request has been rate limited. Please try again in a few seconds."
	case http.StatusInternalServerError:
		p.Title = "Internal Server Error"
		p.Detail = "There was a problem while processing your request. " +
			"Please contact the system administrator if this problem persists."
	case http.StatusServiceUnavailable:
		p.Title = "Temporarily Unavailable"
		p.Detail = "There was a temporary problem while processing your request. " +
			"Please try again in a few moments."
	}
	b, _ := json.Marshal(p)
	return "application/problem+json", b
}

// baseURL is the prefix of the session's URLs.
func (s *Server) baseURL(r *http.Request) string {
	if s.opts.PublicURL != "" {
		return strings.TrimRight(s.opts.PublicURL, "/")
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

// Capability URNs.
const (
	capCore     = "urn:ietf:params:jmap:core"
	capStalwart = "urn:stalwart:jmap"
)

// knownCapabilities are the URNs Stalwart accepts in "using" (jmap-proto Capability); anything
// else is unknownCapability.
var knownCapabilities = map[string]bool{
	capCore: true, capStalwart: true,
	"urn:ietf:params:jmap:mail": true, "urn:ietf:params:jmap:submission": true,
	"urn:ietf:params:jmap:vacationresponse": true, "urn:ietf:params:jmap:contacts": true,
	"urn:ietf:params:jmap:contacts:parse": true, "urn:ietf:params:jmap:calendars": true,
	"urn:ietf:params:jmap:calendars:parse": true, "urn:ietf:params:jmap:websocket": true,
	"urn:ietf:params:jmap:sieve": true, "urn:ietf:params:jmap:blob": true,
	"urn:ietf:params:jmap:quota": true, "urn:ietf:params:jmap:principals": true,
	"urn:ietf:params:jmap:principals:owner": true, "urn:ietf:params:jmap:principals:availability": true,
	"urn:ietf:params:jmap:filenode": true, "urn:ietf:params:jmap:mail:share": true,
	"urn:ietf:params:jmap:webpush-vapid": true, "urn:ietf:params:jmap:emailpush": true,
}

// serveSession answers the RFC 8620 session resource. Like Stalwart, a request without an
// Authorization header gets a session with no accounts; a failed authentication gets 401.
func (s *Server) serveSession(w http.ResponseWriter, r *http.Request) {
	anonymous := r.Header.Get("Authorization") == ""
	if !anonymous && !s.authenticate(w, r) {
		return
	}
	base := s.baseURL(r)
	s.mu.Lock()
	state := s.sessionState
	s.mu.Unlock()
	session := map[string]any{
		"capabilities": map[string]any{
			capCore: map[string]any{
				"maxSizeUpload":         50_000_000,
				"maxConcurrentUpload":   4,
				"maxSizeRequest":        defaultMaxSizeRequest,
				"maxConcurrentRequests": 4,
				"maxCallsInRequest":     s.opts.MaxCallsInRequest,
				"maxObjectsInGet":       s.opts.MaxObjectsInGet,
				"maxObjectsInSet":       s.opts.MaxObjectsInSet,
				"collationAlgorithms":   []string{"i;ascii-numeric", "i;ascii-casemap", "i;unicode-casemap"},
			},
			capStalwart: map[string]any{},
		},
		"accounts":        map[string]any{},
		"primaryAccounts": map[string]any{},
		"username":        "",
		"apiUrl":          base + "/jmap/",
		"downloadUrl":     base + "/jmap/download/{accountId}/{blobId}/{name}?accept={type}",
		"uploadUrl":       base + "/jmap/upload/{accountId}/",
		"eventSourceUrl":  base + "/jmap/eventsource/?types={types}&closeafter={closeafter}&ping={ping}",
		"state":           fmt.Sprintf("%x", state),
	}
	if !anonymous {
		session["username"] = "admin"
		session["accounts"] = map[string]any{adminAccountID: map[string]any{
			"name": "admin", "isPersonal": true, "isReadOnly": false,
			"accountCapabilities": map[string]any{capStalwart: map[string]any{}},
		}}
		if !s.opts.NoPrimaryAccount {
			session["primaryAccounts"] = map[string]any{capStalwart: adminAccountID}
		}
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, session)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
