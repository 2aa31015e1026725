package ocissim

import "net/http"

// meOut is the part of libre-graph's user resource GET /v1.0/me answers with that oCIS always
// fills for a directory user.
type meOut struct {
	ID                       string `json:"id"`
	DisplayName              string `json:"displayName"`
	OnPremisesSamAccountName string `json:"onPremisesSamAccountName"`
	UserType                 string `json:"userType"`
}

// me is GET /graph/v1.0/me: the directory user the bearer token acts as (in this simulator,
// always the client_credentials service account).
func (s *Server) me(w http.ResponseWriter, _ *http.Request) {
	s.mu.Lock()
	u := *s.serviceUser
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, meOut{ID: u.id, DisplayName: u.displayName, OnPremisesSamAccountName: u.displayName, UserType: "Member"})
}
