package ocissim

import (
	"encoding/json"
	"net/http"
	"sort"
	"strings"
	"unicode"
)

// groupIn is every property the libre-graph group schema declares (oCIS decodes strictly).
type groupIn struct {
	ID               *string         `json:"id"`
	Description      *string         `json:"description"`
	DisplayName      *string         `json:"displayName"`
	GroupTypes       []string        `json:"groupTypes"`
	Members          json.RawMessage `json:"members"`
	MembersODataBind []string        `json:"members@odata.bind"`
}

type groupOut struct {
	ID          string   `json:"id"`
	DisplayName string   `json:"displayName"`
	GroupTypes  []string `json:"groupTypes"`
}

type groupList struct {
	Value []groupOut `json:"value"`
}

func renderGroup(g *group) groupOut {
	return groupOut{ID: g.ID, DisplayName: g.DisplayName, GroupTypes: []string{}}
}

// groupByName finds a group by display name. The directory (LDAP cn) compares names without
// regard to case, so "Team" and "team" cannot both exist. The caller holds s.mu.
func (s *Server) groupByName(name string) *group {
	for _, g := range s.groups {
		if strings.EqualFold(g.DisplayName, name) {
			return g
		}
	}
	return nil
}

// listGroups answers $search as the identity backend does: a case-insensitive substring match
// (quotes around the phrase are OData syntax, not part of it), so callers must compare the
// returned displayName exactly themselves. Unquoted, the term is parsed as OData search words:
// a character such as "-" makes the rest an invalid token, as oCIS's parser says.
func (s *Server) listGroups(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	term := strings.TrimSpace(q.Get("$search"))
	if len(term) >= 2 && term[0] == '"' && term[len(term)-1] == '"' {
		term = term[1 : len(term)-1]
	} else if i := strings.IndexFunc(term, func(c rune) bool { return !isSearchWordRune(c) }); i >= 0 {
		writeError(w, errf(http.StatusBadRequest, codeInvalidRequest, "Token '%s' is invalid", term[i:]))
		return
	}
	desc := false
	if q.Has("$orderby") {
		switch q.Get("$orderby") {
		case "displayName", "displayName asc":
		case "displayName desc":
			desc = true
		default:
			writeError(w, errf(http.StatusBadRequest, codeInvalidRequest, "we do not support <%s> as a order parameter", q.Get("$orderby")))
			return
		}
	}
	s.mu.Lock()
	out := []groupOut{}
	for _, g := range s.groups {
		if term == "" || strings.Contains(strings.ToLower(g.DisplayName), strings.ToLower(term)) || g.ID == term {
			out = append(out, renderGroup(g))
		}
	}
	s.mu.Unlock()
	sort.Slice(out, func(i, j int) bool {
		if desc {
			return out[i].DisplayName > out[j].DisplayName
		}
		return out[i].DisplayName < out[j].DisplayName
	})
	writeJSON(w, http.StatusOK, groupList{Value: out})
}

// createGroup follows oCIS PostGroup: strict body, displayName required, id read-only, and a
// duplicate name is nameAlreadyExists (409).
func (s *Server) createGroup(w http.ResponseWriter, r *http.Request) {
	var in groupIn
	if err := decodeStrict(r, &in); err != nil {
		writeError(w, errf(http.StatusBadRequest, codeInvalidRequest, "invalid request body: %v", err))
		return
	}
	if in.DisplayName == nil {
		writeError(w, errf(http.StatusBadRequest, codeInvalidRequest, "Missing Required Attribute"))
		return
	}
	name := *in.DisplayName
	if strings.TrimSpace(name) == "" || strings.ContainsFunc(name, func(r rune) bool { return r < 0x20 }) {
		writeError(w, errf(http.StatusBadRequest, codeInvalidRequest, "Invalid displayName"))
		return
	}
	if in.ID != nil {
		writeError(w, errf(http.StatusBadRequest, codeInvalidRequest, "group id is a read-only attribute"))
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.groupByName(name) != nil {
		writeError(w, errf(http.StatusConflict, codeNameAlreadyExists, "group already exists"))
		return
	}
	writeJSON(w, http.StatusCreated, renderGroup(s.newGroup(name)))
}

// getGroup takes an id or a name, as the document's "key: id or name of group" says.
func (s *Server) getGroup(w http.ResponseWriter, r *http.Request) {
	key := r.PathValue("id")
	s.mu.Lock()
	defer s.mu.Unlock()
	g, ok := s.groups[key]
	if !ok {
		g = s.groupByName(key)
	}
	if g == nil {
		writeError(w, errf(http.StatusNotFound, codeItemNotFound, "not found"))
		return
	}
	writeJSON(w, http.StatusOK, renderGroup(g))
}

func (s *Server) deleteGroupHandler(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.deleteGroup(r.PathValue("id")) {
		writeError(w, errf(http.StatusNotFound, codeItemNotFound, "not found"))
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// isSearchWordRune reports whether c may appear in an unquoted OData search word.
func isSearchWordRune(c rune) bool {
	return unicode.IsLetter(c) || unicode.IsDigit(c) || c == '_' || c == ' '
}
