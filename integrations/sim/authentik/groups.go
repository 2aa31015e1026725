package authentiksim

import (
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// groupsCollection serves GET (list) and POST (create) on /core/groups/.
func (s *Server) groupsCollection(w http.ResponseWriter, r *http.Request, _ []string) {
	q := r.URL.Query()
	if r.Method == http.MethodPost {
		data, ok := readJSON(w, r)
		if !ok {
			return
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		in, errs := s.parseGroupInput(data, false, nil)
		if len(errs) > 0 {
			writeJSON(w, http.StatusBadRequest, errs)
			return
		}
		g := s.insertGroup(*in.name, deref(in.isSuperuser), deref(in.parents), deref(in.users), in.attributes)
		writeJSON(w, http.StatusCreated, s.groupJSON(g, q))
		return
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	groups, errs := s.filterGroups(q)
	if errs != nil {
		writeJSON(w, http.StatusBadRequest, errs)
		return
	}
	// Paginate first, then render only the page: rendering every group for every page made a
	// listing of a large fleet quadratic.
	items := make([]any, 0, len(groups))
	for _, g := range groups {
		items = append(items, g)
	}
	p, ok := s.paginate(q, items)
	if !ok {
		writeDetail(w, http.StatusNotFound, msgInvalidPage)
		return
	}
	for i, it := range p.Results {
		p.Results[i] = s.groupJSON(it.(*group), q)
	}
	writeJSON(w, http.StatusOK, p)
}

// groupItem serves GET, PUT, PATCH and DELETE on /core/groups/{group_uuid}/.
func (s *Server) groupItem(w http.ResponseWriter, r *http.Request, parts []string) {
	var data map[string]any
	if r.Method == http.MethodPut || r.Method == http.MethodPatch {
		var ok bool
		if data, ok = readJSON(w, r); !ok {
			return
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	g, msg := s.lookupGroup(parts[2])
	if g == nil {
		writeDetail(w, http.StatusNotFound, msg)
		return
	}
	switch r.Method {
	case http.MethodGet:
		writeJSON(w, http.StatusOK, s.groupJSON(g, r.URL.Query()))
	case http.MethodDelete:
		delete(s.groups, g.pk)
		w.WriteHeader(http.StatusNoContent)
	default:
		in, errs := s.parseGroupInput(data, r.Method == http.MethodPatch, g)
		if len(errs) > 0 {
			writeJSON(w, http.StatusBadRequest, errs)
			return
		}
		in.apply(g)
		writeJSON(w, http.StatusOK, s.groupJSON(g, r.URL.Query()))
	}
}

// groupMembership serves POST add_user/ and remove_user/: the group is looked up first (404),
// then the body's pk; a user that does not exist is a bare 404 "Not found.". Both are set
// operations, so repeating one is harmless.
func (s *Server) groupMembership(w http.ResponseWriter, r *http.Request, parts []string) {
	s.mu.Lock()
	g, msg := s.lookupGroup(parts[2])
	s.mu.Unlock()
	if g == nil {
		writeDetail(w, http.StatusNotFound, msg)
		return
	}
	data, ok := readJSON(w, r)
	if !ok {
		return
	}
	raw, present := data["pk"]
	if !present {
		writeJSON(w, http.StatusBadRequest, map[string][]string{"pk": {msgRequired}})
		return
	}
	pk, ok := intValue(raw)
	if !ok {
		writeJSON(w, http.StatusBadRequest, map[string][]string{"pk": {"A valid integer is required."}})
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, still := s.groups[g.pk]; !still {
		writeDetail(w, http.StatusNotFound, msgNoGroup)
		return
	}
	if _, ok := s.users[pk]; !ok {
		writeDetail(w, http.StatusNotFound, msgNotFound)
		return
	}
	if parts[3] == "add_user" {
		g.users[pk] = true
	} else {
		delete(g.users, pk)
	}
	w.WriteHeader(http.StatusNoContent)
}

// lookupGroup finds a group by the path's UUID. Like DRF's get_object_or_404, a value that is
// not a UUID is a bare "Not found." and a missing UUID names the model. Callers hold mu.
func (s *Server) lookupGroup(raw string) (*group, string) {
	id, ok := canonicalUUID(raw)
	if !ok {
		return nil, msgNotFound
	}
	if g, ok := s.groups[id]; ok {
		return g, ""
	}
	return nil, msgNoGroup
}

// filterGroups applies GroupFilter and search (authentik/core/api/groups.py) and returns the
// matches ordered by name. A malformed filter value is a 400 ValidationError body. Callers
// hold mu.
func (s *Server) filterGroups(q url.Values) ([]*group, any) {
	var attrFilter map[string]any
	if v := q.Get("attributes"); v != "" {
		if err := json.Unmarshal([]byte(v), &attrFilter); err != nil {
			var probe any
			if json.Unmarshal([]byte(v), &probe) != nil {
				return nil, []string{"filter: failed to parse JSON"}
			}
			return nil, []string{"filter: value must be key:value mapping"}
		}
	}
	var superuser *bool
	if v := q.Get("is_superuser"); v != "" {
		b, ok := boolValue(v)
		if !ok {
			return nil, map[string][]string{"is_superuser": {"Select a valid choice. " + v + " is not one of the available choices."}}
		}
		superuser = &b
	}
	memberPKs := map[int]bool{}
	for _, v := range q["members_by_pk"] {
		pk, err := strconv.Atoi(v)
		if _, ok := s.users[pk]; err != nil || !ok {
			return nil, map[string][]string{"members_by_pk": {"Select a valid choice. " + v + " is not one of the available choices."}}
		}
		memberPKs[pk] = true
	}
	for _, v := range q["members_by_username"] {
		found := false
		for _, u := range s.users {
			if u.username == v {
				memberPKs[u.pk], found = true, true
			}
		}
		if !found {
			return nil, map[string][]string{"members_by_username": {"Select a valid choice. " + v + " is not one of the available choices."}}
		}
	}
	name, search := q.Get("name"), strings.ToLower(q.Get("search"))

	var out []*group
	for _, g := range s.sortedGroups() {
		switch {
		case name != "" && g.name != name:
			continue
		case search != "" && !strings.Contains(strings.ToLower(g.name), search):
			continue
		case superuser != nil && g.isSuperuser != *superuser:
			continue
		case !attrsMatch(g.attributes, attrFilter):
			continue
		case len(memberPKs) > 0 && !anyMember(g, memberPKs):
			continue
		}
		out = append(out, g)
	}
	return out, nil
}

// childrenOf lists the groups that name pk as a parent, by name. Callers hold mu.
func (s *Server) childrenOf(pk string) []*group {
	var out []*group
	for _, c := range s.groups {
		if slices.Contains(c.parents, pk) {
			out = append(out, c)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out
}

// groupJSON renders the Group schema. include_users defaults to true (users_obj filled) and is
// true only for the literal "true" in any case, as Authentik parses it; the other include_*
// flags default to false and leave their *_obj fields null. Callers hold mu.
func (s *Server) groupJSON(g *group, q url.Values) map[string]any {
	children := []string{}
	var childrenObj any
	var kids []any
	for _, c := range s.childrenOf(g.pk) {
		children = append(children, c.pk)
		kids = append(kids, relatedGroup(c))
	}
	if flag(q, "include_children", false) {
		childrenObj = append([]any{}, kids...)
	}
	var parentsObj any
	if flag(q, "include_parents", false) {
		objs := []any{}
		for _, p := range g.parents {
			if pg, ok := s.groups[p]; ok {
				objs = append(objs, relatedGroup(pg))
			}
		}
		parentsObj = objs
	}
	var usersObj any
	members := memberList(g)
	if flag(q, "include_users", true) {
		objs := []any{}
		for _, pk := range members {
			if u, ok := s.users[pk]; ok {
				objs = append(objs, partialUser(u))
			}
		}
		usersObj = objs
	}
	var inherited any
	if flag(q, "include_inherited_roles", false) {
		inherited = []any{}
	}
	return map[string]any{
		"pk":                  g.pk,
		"num_pk":              g.numPK,
		"name":                g.name,
		"is_superuser":        g.isSuperuser,
		"parents":             append([]string{}, g.parents...),
		"parents_obj":         parentsObj,
		"users":               members,
		"users_obj":           usersObj,
		"attributes":          cloneAttrs(g.attributes),
		"roles":               []string{},
		"roles_obj":           []any{},
		"inherited_roles_obj": inherited,
		"children":            children,
		"children_obj":        childrenObj,
	}
}

func relatedGroup(g *group) map[string]any {
	return map[string]any{
		"pk":           g.pk,
		"group_uuid":   g.pk,
		"name":         g.name,
		"is_superuser": g.isSuperuser,
		"attributes":   cloneAttrs(g.attributes),
	}
}

func partialUser(u *user) map[string]any {
	return map[string]any{
		"pk":         u.pk,
		"username":   u.username,
		"name":       u.name,
		"is_active":  u.isActive,
		"last_login": nil,
		"email":      u.email,
		"attributes": cloneAttrs(u.attributes),
		"uid":        userUID(u),
	}
}

// attrsMatch applies the attributes filter: each key must equal the JSON value given, as the
// attributes__<key>=<value> lookups do.
func attrsMatch(attrs, filter map[string]any) bool {
	for k, want := range filter {
		got, ok := attrs[k]
		if !ok {
			return false
		}
		a, _ := json.Marshal(got)
		b, _ := json.Marshal(want)
		if string(a) != string(b) {
			return false
		}
	}
	return true
}

func anyMember(g *group, pks map[int]bool) bool {
	for pk := range pks {
		if g.users[pk] {
			return true
		}
	}
	return false
}

// flag reads an include_* query flag the way Authentik does: absent means def, otherwise only
// "true" (any case) is true.
func flag(q url.Values, name string, def bool) bool {
	if _, ok := q[name]; !ok {
		return def
	}
	return strings.EqualFold(q.Get(name), "true")
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}
