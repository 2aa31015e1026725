package ocissim

import (
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/dezky/platform-api/integrations/sim/faults"
)

// TokenPath is where the simulated IdP's token endpoint is served.
const TokenPath = "/token"

// DefaultTokenTTL is the lifetime of an issued access token when Options leave it zero: five
// minutes, authentik's default access-token validity.
const DefaultTokenTTL = 5 * time.Minute

// Options configures a simulator.
type Options struct {
	// ClientID and ClientSecret are the only client the token endpoint accepts.
	ClientID     string
	ClientSecret string
	// TokenTTL is the lifetime of an access token (expires_in is its whole seconds, at least 1).
	// Zero means DefaultTokenTTL.
	TokenTTL time.Duration
}

// Server is the simulator: an http.Handler serving POST /token and the libre-graph API under
// /graph. Safe for concurrent use.
type Server struct {
	opts    Options
	faults  *faults.Injector
	handler http.Handler

	mu sync.Mutex
	// storageID is the storage provider id every drive id starts with.
	storageID string
	// serviceUser is the directory user the client_credentials identity maps to.
	serviceUser *user
	tokens      map[string]time.Time
	issued      int
	lastScopes  []string
	drives      map[string]*drive
	created     map[string]int
	seq         int
	groups      map[string]*Group
	users       map[string]*user
}

// New returns a simulator with an empty directory apart from the service user the client
// credentials act as.
func New(o Options) *Server {
	if o.TokenTTL == 0 {
		o.TokenTTL = DefaultTokenTTL
	}
	s := &Server{
		opts:      o,
		faults:    faults.New(faultBody),
		storageID: newUUID(),
		tokens:    map[string]time.Time{},
		drives:    map[string]*drive{},
		created:   map[string]int{},
		groups:    map[string]*Group{},
		users:     map[string]*user{},
	}
	s.serviceUser = &user{id: newUUID(), displayName: o.ClientID}
	s.users[s.serviceUser.id] = s.serviceUser

	graph := http.NewServeMux()
	graph.HandleFunc("GET /graph/v1.0/drives", s.listDrives)
	graph.HandleFunc("POST /graph/v1.0/drives", s.createDrive)
	graph.HandleFunc("GET /graph/v1.0/drives/{id}", s.getDrive)
	graph.HandleFunc("PATCH /graph/v1.0/drives/{id}", s.updateDrive)
	graph.HandleFunc("DELETE /graph/v1.0/drives/{id}", s.deleteDrive)
	graph.HandleFunc("GET /graph/v1beta1/drives/{id}/root/permissions", s.listPermissions)
	graph.HandleFunc("POST /graph/v1beta1/drives/{id}/root/invite", s.invite)
	graph.HandleFunc("PATCH /graph/v1beta1/drives/{id}/root/permissions/{perm}", s.updatePermission)
	graph.HandleFunc("GET /graph/v1.0/groups", s.listGroups)
	graph.HandleFunc("POST /graph/v1.0/groups", s.createGroup)
	graph.HandleFunc("GET /graph/v1.0/groups/{id}", s.getGroup)
	graph.HandleFunc("DELETE /graph/v1.0/groups/{id}", s.deleteGroupHandler)
	graph.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, errf(http.StatusNotFound, codeItemNotFound, "no such resource: %s %s", r.Method, r.URL.Path))
	})

	root := http.NewServeMux()
	root.HandleFunc(TokenPath, s.token)
	root.Handle("/graph/", s.authenticate(graph))
	root.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		http.NotFound(w, r)
	})
	s.handler = s.faults.Wrap(root)
	return s
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.handler.ServeHTTP(w, r) }

// Faults returns the fault injector wrapping the handler (it also records every request).
func (s *Server) Faults() *faults.Injector { return s.faults }

// TokenURL is the token endpoint of a simulator served at base (e.g. httptest.Server.URL).
func TokenURL(base string) string { return strings.TrimRight(base, "/") + TokenPath }

// TokenURL is the token endpoint of this simulator served at base.
func (s *Server) TokenURL(base string) string { return TokenURL(base) }

// ServiceUserID is the directory id of the user the client credentials act as; oCIS grants it
// Manager on every space it creates.
func (s *Server) ServiceUserID() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.serviceUser.id
}

// authenticate admits a request only with an unexpired bearer token this simulator issued, as
// oCIS's proxy does with a JWT from its trusted issuer. Basic auth is a development-only mode in
// oCIS and is refused here.
func (s *Server) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		scheme, tok, _ := strings.Cut(r.Header.Get("Authorization"), " ")
		if !strings.EqualFold(scheme, "Bearer") || tok == "" {
			unauthorized(w, "missing bearer token")
			return
		}
		s.mu.Lock()
		exp, ok := s.tokens[tok]
		s.mu.Unlock()
		switch {
		case !ok:
			unauthorized(w, "unknown access token")
		case !time.Now().Before(exp):
			unauthorized(w, "access token expired")
		default:
			next.ServeHTTP(w, r)
		}
	})
}

func unauthorized(w http.ResponseWriter, msg string) {
	w.Header().Set("WWW-Authenticate", `Bearer realm="ocis-sim"`)
	writeError(w, errf(http.StatusUnauthorized, codeUnauthenticated, "%s", msg))
}
