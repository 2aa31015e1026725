package authentiksim

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// usersCollection serves GET /core/users/: exact filters on email, username, name, uuid and
// path, is_active, a search over username, name and email, ordered by username and paginated.
// Filters the simulator does not implement are ignored, as django-filter ignores unknown ones.
func (s *Server) usersCollection(w http.ResponseWriter, r *http.Request, _ []string) {
	q := r.URL.Query()
	s.mu.Lock()
	defer s.mu.Unlock()
	var active *bool
	if v := q.Get("is_active"); v != "" {
		b, ok := boolValue(v)
		if !ok {
			writeJSON(w, http.StatusBadRequest, map[string][]string{"is_active": {"Select a valid choice. " + v + " is not one of the available choices."}})
			return
		}
		active = &b
	}
	exact := map[string]func(*user) string{
		"email":    func(u *user) string { return u.email },
		"username": func(u *user) string { return u.username },
		"name":     func(u *user) string { return u.name },
		"uuid":     func(u *user) string { return u.uuid },
		"path":     func(*user) string { return "users" },
	}
	search := strings.ToLower(q.Get("search"))
	items := []any{}
	for _, u := range s.sortedUsers() {
		if !userMatches(u, q, exact, active, search) {
			continue
		}
		items = append(items, s.userJSON(u, q))
	}
	p, ok := s.paginate(q, items)
	if !ok {
		writeDetail(w, http.StatusNotFound, msgInvalidPage)
		return
	}
	writeJSON(w, http.StatusOK, p)
}

func userMatches(u *user, q url.Values, exact map[string]func(*user) string, active *bool, search string) bool {
	for param, field := range exact {
		if v := q.Get(param); v != "" && field(u) != v {
			return false
		}
	}
	if active != nil && u.isActive != *active {
		return false
	}
	if search != "" {
		hay := strings.ToLower(u.username + "\n" + u.name + "\n" + u.email)
		if !strings.Contains(hay, search) {
			return false
		}
	}
	return true
}

// userItem serves GET /core/users/{id}/.
func (s *Server) userItem(w http.ResponseWriter, r *http.Request, parts []string) {
	pk, err := strconv.Atoi(parts[2])
	if err != nil {
		writeDetail(w, http.StatusNotFound, msgNotFound)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	u, ok := s.users[pk]
	if !ok {
		writeDetail(w, http.StatusNotFound, msgNoUser)
		return
	}
	writeJSON(w, http.StatusOK, s.userJSON(u, r.URL.Query()))
}

// userJSON renders the User schema. groups (UUIDs, ordered by group name) is always present;
// groups_obj and roles_obj are null when include_groups / include_roles is false. Callers
// hold mu.
func (s *Server) userJSON(u *user, q url.Values) map[string]any {
	groups := []string{}
	groupsObj := []any{}
	superuser := false
	for _, g := range s.sortedGroups() {
		if !g.users[u.pk] {
			continue
		}
		groups = append(groups, g.pk)
		groupsObj = append(groupsObj, map[string]any{
			"pk":           g.pk,
			"num_pk":       g.numPK,
			"name":         g.name,
			"is_superuser": g.isSuperuser,
			"attributes":   cloneAttrs(g.attributes),
		})
		superuser = superuser || g.isSuperuser
	}
	out := map[string]any{
		"pk":                   u.pk,
		"username":             u.username,
		"name":                 u.name,
		"is_active":            u.isActive,
		"last_login":           nil,
		"date_joined":          u.dateJoined.Format(time.RFC3339Nano),
		"is_superuser":         superuser,
		"groups":               groups,
		"groups_obj":           groupsObj,
		"roles":                []string{},
		"roles_obj":            []any{},
		"email":                u.email,
		"avatar":               "/static/dist/assets/images/user_default.png",
		"attributes":           cloneAttrs(u.attributes),
		"uid":                  userUID(u),
		"path":                 "users",
		"type":                 "internal",
		"uuid":                 u.uuid,
		"password_change_date": u.dateJoined.Format(time.RFC3339Nano),
		"last_updated":         u.dateJoined.Format(time.RFC3339Nano),
	}
	if !flag(q, "include_groups", true) {
		out["groups_obj"] = nil
	}
	if !flag(q, "include_roles", true) {
		out["roles_obj"] = nil
	}
	return out
}
