package authentiksim

import (
	"bytes"
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/dezky/platform-api/integrations/sim/faults"
)

// APIPrefix is where the simulator answers, as Authentik does: every path lives under it.
const APIPrefix = "/api/v3"

// DefaultPageSize is Authentik's REST_FRAMEWORK PAGE_SIZE.
const DefaultPageSize = 100

// Texts Django REST framework and Authentik put in their error bodies.
const (
	msgNoCredentials   = "Authentication credentials were not provided."
	msgUnsupportedAuth = "Unsupported authentication type"
	msgMalformedHeader = "Malformed header"
	msgTokenInvalid    = "Token invalid/expired"
	msgNotFound        = "Not found."
	msgNoGroup         = "No Group matches the given query."
	msgNoUser          = "No User matches the given query."
	msgInvalidPage     = "Invalid page."
	msgRequired        = "This field is required."
	msgBlank           = "This field may not be blank."
	msgNull            = "This field may not be null."
	msgGroupNameTaken  = "Group with this name already exists."
	msgThrottled       = "Request was throttled."
)

// Options configures a simulator. The zero value is usable but accepts no token at all.
type Options struct {
	// Token is the one API token (intent=api) the simulator accepts as "Authorization: Bearer
	// <Token>". Empty: every request is refused, as a server without tokens would.
	Token string
	// PageSize overrides the default page size (REST_FRAMEWORK PAGE_SIZE). Zero means 100, the
	// value Authentik ships with; tests lower it to exercise pagination cheaply.
	PageSize int
}

// Server is the simulator: an http.Handler answering under /api/v3. Safe for concurrent use.
type Server struct {
	token    string
	pageSize int
	faults   *faults.Injector
	handler  http.Handler
	now      func() time.Time

	mu       sync.Mutex
	groups   map[string]*group // by pk (UUID)
	users    map[int]*user     // by pk
	nextUser int
	nextNum  int
}

// New returns an empty simulator (no groups, no users).
func New(o Options) *Server {
	s := &Server{
		token:    o.Token,
		pageSize: o.PageSize,
		groups:   map[string]*group{},
		users:    map[int]*user{},
		now:      time.Now,
	}
	if s.pageSize <= 0 {
		s.pageSize = DefaultPageSize
	}
	s.faults = faults.New(errorBody)
	s.handler = s.faults.Wrap(http.HandlerFunc(s.route))
	return s
}

// Faults returns the fault injector wrapping the simulator (also the request recorder and the
// call counter).
func (s *Server) Faults() *faults.Injector { return s.faults }

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.handler.ServeHTTP(w, r) }

// errorBody renders injected faults in Authentik's GenericError shape.
func errorBody(status int) (string, []byte) {
	detail := http.StatusText(status)
	if status == http.StatusTooManyRequests {
		detail = msgThrottled
	}
	b, _ := json.Marshal(map[string]string{"detail": detail})
	return "application/json", b
}

// route dispatches one request. Like DRF, an unknown URL is a 404 before authentication, and
// a known URL authenticates before the method is checked (405 only for authenticated callers).
func (s *Server) route(w http.ResponseWriter, r *http.Request) {
	rest, ok := strings.CutPrefix(r.URL.Path, APIPrefix+"/")
	if !ok || !strings.HasSuffix(rest, "/") {
		// Authentik's routes all end in a slash; Django's 404 for the rest.
		writeDetail(w, http.StatusNotFound, msgNotFound)
		return
	}
	parts := strings.Split(strings.TrimSuffix(rest, "/"), "/")
	var h func(http.ResponseWriter, *http.Request, []string)
	var allowed []string
	switch {
	case len(parts) == 2 && parts[0] == "core" && parts[1] == "groups":
		h, allowed = s.groupsCollection, []string{http.MethodGet, http.MethodPost}
	case len(parts) == 3 && parts[0] == "core" && parts[1] == "groups":
		h, allowed = s.groupItem, []string{http.MethodGet, http.MethodPut, http.MethodPatch, http.MethodDelete}
	case len(parts) == 4 && parts[0] == "core" && parts[1] == "groups" && (parts[3] == "add_user" || parts[3] == "remove_user"):
		h, allowed = s.groupMembership, []string{http.MethodPost}
	case len(parts) == 2 && parts[0] == "core" && parts[1] == "users":
		// Creating users over HTTP is not simulated: tests seed them with AddUser.
		h, allowed = s.usersCollection, []string{http.MethodGet}
	case len(parts) == 3 && parts[0] == "core" && parts[1] == "users":
		h, allowed = s.userItem, []string{http.MethodGet}
	default:
		writeDetail(w, http.StatusNotFound, msgNotFound)
		return
	}
	if msg, ok := s.authenticate(r); !ok {
		writeDetail(w, http.StatusForbidden, msg)
		return
	}
	if !contains(allowed, r.Method) {
		w.Header().Set("Allow", strings.Join(allowed, ", "))
		writeDetail(w, http.StatusMethodNotAllowed, fmt.Sprintf("Method %q not allowed.", r.Method))
		return
	}
	h(w, r, parts)
}

// authenticate follows authentik/api/authentication.py: no header (or one without a space) is
// "not provided"; a scheme other than Bearer is refused; an unknown key is "invalid/expired".
// DRF answers all of them with 403 because Authentik's authenticator sends no
// WWW-Authenticate challenge.
func (s *Server) authenticate(r *http.Request) (string, bool) {
	raw := strings.TrimSpace(r.Header.Get("Authorization"))
	if raw == "" || !strings.Contains(raw, " ") {
		return msgNoCredentials, false
	}
	scheme, cred, _ := strings.Cut(raw, " ")
	if !strings.EqualFold(scheme, "bearer") {
		return msgUnsupportedAuth, false
	}
	if cred == "" {
		return msgMalformedHeader, false
	}
	if s.token == "" || subtle.ConstantTimeCompare([]byte(cred), []byte(s.token)) != 1 {
		return msgTokenInvalid, false
	}
	return "", true
}

// readJSON decodes a request body the way DRF's parsers would: an empty body, or one without a
// Content-Type, is empty data; a non-JSON content type is a 415 (form encodings are not
// simulated); a parse error is a 400 "JSON parse error"; a top level other than an object is a
// 400 non_field_errors. It writes the error response itself.
func readJSON(w http.ResponseWriter, r *http.Request) (map[string]any, bool) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		writeDetail(w, http.StatusBadRequest, "cannot read request body")
		return nil, false
	}
	ct := r.Header.Get("Content-Type")
	if len(body) == 0 || ct == "" {
		return map[string]any{}, true
	}
	if mt, _, err := mime.ParseMediaType(ct); err != nil || mt != "application/json" {
		writeDetail(w, http.StatusUnsupportedMediaType, fmt.Sprintf("Unsupported media type %q in request.", ct))
		return nil, false
	}
	var v any
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		writeDetail(w, http.StatusBadRequest, "JSON parse error - "+err.Error())
		return nil, false
	}
	obj, ok := v.(map[string]any)
	if !ok {
		writeJSON(w, http.StatusBadRequest, map[string]any{
			"non_field_errors": []string{fmt.Sprintf("Invalid data. Expected a dictionary, but got %s.", jsonTypeName(v))},
		})
		return nil, false
	}
	return obj, true
}

func writeDetail(w http.ResponseWriter, status int, detail string) {
	writeJSON(w, status, map[string]string{"detail": detail})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// jsonTypeName names a decoded JSON value's type the way Python would (DRF messages use it).
func jsonTypeName(v any) string {
	switch v.(type) {
	case nil:
		return "NoneType"
	case bool:
		return "bool"
	case json.Number:
		return "int"
	case string:
		return "str"
	case []any:
		return "list"
	case map[string]any:
		return "dict"
	default:
		return fmt.Sprintf("%T", v)
	}
}
