package authentiksim

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"
)

// group is one stored Authentik group.
type group struct {
	pk          string
	numPK       int
	name        string
	isSuperuser bool
	parents     []string
	users       map[int]bool
	attributes  map[string]any
}

// user is one stored Authentik user (seeded, never created over HTTP).
type user struct {
	pk         int
	uuid       string
	username   string
	name       string
	email      string
	isActive   bool
	dateJoined time.Time
	attributes map[string]any
}

// Group is a snapshot of one simulated group, for test assertions.
type Group struct {
	PK          string
	Name        string
	IsSuperuser bool
	Attributes  map[string]any
	// Users are the member user pks, ascending.
	Users []int
}

// AddUser seeds an active internal user and returns its pk (integer ids start at 1, as in
// Authentik's database). Emails are not unique in Authentik, so neither are they here.
func (s *Server) AddUser(username, email string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.nextUser++
	u := &user{
		pk:         s.nextUser,
		uuid:       newUUID(),
		username:   username,
		name:       username,
		email:      email,
		isActive:   true,
		dateJoined: s.now().UTC(),
		attributes: map[string]any{},
	}
	s.users[u.pk] = u
	return u.pk
}

// SetUserActive flips a seeded user's is_active flag (a deactivated account still exists and
// still matches lookups). It reports whether the user exists.
func (s *Server) SetUserActive(pk int, active bool) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	u, ok := s.users[pk]
	if ok {
		u.isActive = active
	}
	return ok
}

// Groups returns a snapshot of every group, ordered by name.
func (s *Server) Groups() []Group {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Group, 0, len(s.groups))
	for _, g := range s.sortedGroups() {
		out = append(out, snapshot(g))
	}
	return out
}

// GroupByName returns a snapshot of the group with exactly this name.
func (s *Server) GroupByName(name string) (Group, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if g := s.groupNamed(name); g != nil {
		return snapshot(g), true
	}
	return Group{}, false
}

// GroupCount is the number of groups.
func (s *Server) GroupCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.groups)
}

// DeleteGroupOutOfBand removes the named group as an administrator would in the UI. It reports
// whether the group existed.
func (s *Server) DeleteGroupOutOfBand(name string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	g := s.groupNamed(name)
	if g == nil {
		return false
	}
	delete(s.groups, g.pk)
	return true
}

// SetGroupAttributes replaces the named group's attributes (drift). It reports whether the
// group exists.
func (s *Server) SetGroupAttributes(name string, attrs map[string]any) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	g := s.groupNamed(name)
	if g == nil {
		return false
	}
	g.attributes = cloneAttrs(attrs)
	return true
}

// RenameGroupOutOfBand renames the named group (drift). It reports whether the group exists;
// like the API it refuses (false) a name another group already holds.
func (s *Server) RenameGroupOutOfBand(name, newName string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	g := s.groupNamed(name)
	if g == nil || s.groupNamed(newName) != nil {
		return false
	}
	g.name = newName
	return true
}

// RemoveMemberOutOfBand removes a user from the named group (drift). It reports whether the
// group exists.
func (s *Server) RemoveMemberOutOfBand(name string, userPK int) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	g := s.groupNamed(name)
	if g == nil {
		return false
	}
	delete(g.users, userPK)
	return true
}

// CreateGroupOutOfBand creates a group as someone else would (for example one carrying another
// tenant's marker) and returns its pk. An existing name is an error, as in Authentik.
func (s *Server) CreateGroupOutOfBand(name string, attrs map[string]any) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.groupNamed(name) != nil {
		return "", errors.New("group name taken")
	}
	return s.insertGroup(name, false, nil, nil, cloneAttrs(attrs)).pk, nil
}

// insertGroup stores a new group. Callers hold mu and have checked the name.
func (s *Server) insertGroup(name string, superuser bool, parents []string, users []int, attrs map[string]any) *group {
	s.nextNum++
	g := &group{
		pk:          newUUID(),
		numPK:       s.nextNum,
		name:        name,
		isSuperuser: superuser,
		parents:     append([]string{}, parents...),
		users:       map[int]bool{},
		attributes:  attrs,
	}
	if g.attributes == nil {
		g.attributes = map[string]any{}
	}
	for _, u := range users {
		g.users[u] = true
	}
	s.groups[g.pk] = g
	return g
}

// groupNamed finds a group by exact, case-sensitive name (a PostgreSQL unique text column).
// Callers hold mu.
func (s *Server) groupNamed(name string) *group {
	for _, g := range s.groups {
		if g.name == name {
			return g
		}
	}
	return nil
}

// sortedGroups lists groups by name, Authentik's default ordering. Callers hold mu.
func (s *Server) sortedGroups() []*group {
	out := make([]*group, 0, len(s.groups))
	for _, g := range s.groups {
		out = append(out, g)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out
}

// sortedUsers lists users by username, the users endpoint's default ordering. Callers hold mu.
func (s *Server) sortedUsers() []*user {
	out := make([]*user, 0, len(s.users))
	for _, u := range s.users {
		out = append(out, u)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].username != out[j].username {
			return out[i].username < out[j].username
		}
		return out[i].pk < out[j].pk
	})
	return out
}

func snapshot(g *group) Group {
	return Group{
		PK:          g.pk,
		Name:        g.name,
		IsSuperuser: g.isSuperuser,
		Attributes:  cloneAttrs(g.attributes),
		Users:       memberList(g),
	}
}

func memberList(g *group) []int {
	out := make([]int, 0, len(g.users))
	for pk := range g.users {
		out = append(out, pk)
	}
	sort.Ints(out)
	return out
}

// cloneAttrs deep-copies a JSON value tree through encoding, so callers never share maps with
// the store. json.Number values come back as float64 or stay numbers on re-encoding alike.
func cloneAttrs(in map[string]any) map[string]any {
	if in == nil {
		return map[string]any{}
	}
	b, err := json.Marshal(in)
	if err != nil {
		return map[string]any{}
	}
	out := map[string]any{}
	_ = json.Unmarshal(b, &out)
	return out
}

// newUUID returns a random version 4 UUID in canonical form, as Django's uuid4 default.
func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

// canonicalUUID parses a UUID the way Django's UUIDField does (hyphens optional, any case) and
// returns its canonical lowercase form.
func canonicalUUID(s string) (string, bool) {
	h := strings.ToLower(strings.ReplaceAll(s, "-", ""))
	if len(h) != 32 {
		return "", false
	}
	if _, err := hex.DecodeString(h); err != nil {
		return "", false
	}
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32], true
}

// userUID mimics Authentik's user.uid: a SHA-256 hex digest derived from the user.
func userUID(u *user) string {
	sum := sha256.Sum256([]byte(fmt.Sprintf("sim-%d", u.pk)))
	return hex.EncodeToString(sum[:])
}
