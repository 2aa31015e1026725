package ocissim

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/dezky/platform-api/integrations/sim/faults"
)

// TokenPath is where the simulated IdP's token endpoint is served.
const TokenPath = "/token"

// DefaultQuota is the quota oCIS gives a project space created without one
// (GRAPH_SPACES_DEFAULT_QUOTA, 1 GB).
const DefaultQuota = 1000000000

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
	// DefaultQuota is the quota of a space created without one (or with a negative one).
	// Zero means DefaultQuota; set GRAPH_SPACES_DEFAULT_QUOTA's way, a negative value means
	// none (quota.total 0, unlimited).
	DefaultQuota int64
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
	// serviceUser is the directory user the client_credentials identity maps to: an
	// administrator (oCIS role ocisAdmin), a member only of the spaces it created or was added to.
	serviceUser *user
	// otherAdmin is a second administrator who creates spaces out of band.
	otherAdmin *user
	tokens     map[string]*accessToken
	// keysRotated and jwksLag model an IdP key rotation (RotateIssuerKeys).
	keysRotated time.Time
	jwksLag     time.Duration
	issued      int
	lastScopes  []string
	drives      map[string]*drive
	created     map[string]int
	seq         int
	groups      map[string]*group
	// formerGroups keeps the names of deleted groups: their grants stay and still show them.
	formerGroups map[string]string
	// groupLag hides groups younger than it from invites (SetGroupLookupLag).
	groupLag time.Duration
	users    map[string]*user
}

// New returns a simulator with an empty directory apart from the service user the client
// credentials act as.
func New(o Options) *Server {
	if o.TokenTTL == 0 {
		o.TokenTTL = DefaultTokenTTL
	}
	switch {
	case o.DefaultQuota == 0:
		o.DefaultQuota = DefaultQuota
	case o.DefaultQuota < 0:
		o.DefaultQuota = 0
	}
	s := &Server{
		opts:         o,
		faults:       faults.New(faultBody),
		storageID:    newUUID(),
		tokens:       map[string]*accessToken{},
		drives:       map[string]*drive{},
		created:      map[string]int{},
		groups:       map[string]*group{},
		formerGroups: map[string]string{},
		users:        map[string]*user{},
	}
	s.serviceUser = &user{id: newUUID(), displayName: o.ClientID}
	s.otherAdmin = &user{id: newUUID(), displayName: "admin"}
	for _, u := range []*user{s.serviceUser, s.otherAdmin} {
		s.users[u.id] = u
		s.newPersonalDrive(u)
	}

	graph := http.NewServeMux()
	graph.HandleFunc("GET /graph/v1.0/me", s.me)
	graph.HandleFunc("GET /graph/v1.0/drives", s.listDrives)
	graph.HandleFunc("POST /graph/v1.0/drives", s.createDrive)
	graph.HandleFunc("GET /graph/v1.0/drives/{id}", s.getDrive)
	graph.HandleFunc("PATCH /graph/v1.0/drives/{id}", s.updateDrive)
	graph.HandleFunc("DELETE /graph/v1.0/drives/{id}", s.deleteDrive)
	graph.HandleFunc("GET /graph/v1beta1/drives/{id}/root/permissions", s.listPermissions)
	graph.HandleFunc("POST /graph/v1beta1/drives/{id}/root/invite", s.invite)
	graph.HandleFunc("PATCH /graph/v1beta1/drives/{id}/root/permissions/{perm}", s.updatePermission)
	graph.HandleFunc("DELETE /graph/v1beta1/drives/{id}/root/permissions/{perm}", s.deletePermission)
	graph.HandleFunc("GET /graph/v1.0/groups", s.listGroups)
	graph.HandleFunc("POST /graph/v1.0/groups", s.createGroup)
	graph.HandleFunc("GET /graph/v1.0/groups/{id}", s.getGroup)
	graph.HandleFunc("DELETE /graph/v1.0/groups/{id}", s.deleteGroupHandler)
	// Paths the graph service does not route get the router's plain-text 404, not a graph error.
	graph.HandleFunc("/", http.NotFound)

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
// Manager on every space it creates, and it is a member of no other space until granted.
func (s *Server) ServiceUserID() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.serviceUser.id
}

// authenticate admits a request only with an unexpired bearer token this simulator issued, as
// oCIS's proxy does with a JWT from its trusted issuer. Basic auth is a development-only mode in
// oCIS (off by default) and is refused here.
func (s *Server) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		scheme, tok, _ := strings.Cut(r.Header.Get("Authorization"), " ")
		if !strings.EqualFold(scheme, "Bearer") || tok == "" {
			unauthorized(w, r)
			return
		}
		s.mu.Lock()
		ok := s.accept(s.tokens[tok], time.Now())
		s.mu.Unlock()
		if !ok {
			unauthorized(w, r)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// unauthorized answers as oCIS's proxy does: 401 with an empty body and a Bearer challenge
// naming the host; whatever went wrong is only in the proxy's log.
func unauthorized(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("WWW-Authenticate", fmt.Sprintf(`Bearer realm=%q, charset="UTF-8"`, r.Host))
	w.WriteHeader(http.StatusUnauthorized)
}
