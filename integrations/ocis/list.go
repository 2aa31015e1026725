package ocis

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/dezky/platform-api/integrations"
)

var _ integrations.Lister = (*Client)(nil)

const errWhoAmI = "cannot read the ocis service account"

// me is the part of GET /v1.0/me the listing needs: the service account's own user id, to
// tell from a space's members whether it may manage the space.
type me struct {
	ID string `json:"id"`
}

// ObserveAll lists, in three requests whatever the fleet's size: the service account (GET
// /v1.0/me), every project space with its members (the drives listing is not paged), and the
// groups whose name contains the prefix ($search). Spaces without a dezky marker and groups
// without the exact prefix are dropped. It only reads.
func (c *Client) ObserveAll(ctx context.Context) (integrations.Snapshot, error) {
	who, err := integrations.RetryListing(ctx, func() (me, error) {
		var m me
		return m, c.do(ctx, request{op: errWhoAmI, method: http.MethodGet, path: "/v1.0/me", out: &m})
	})
	if err != nil {
		return nil, err
	}
	drives, err := integrations.RetryListing(ctx, func() ([]drive, error) { return c.listProjectDrives(ctx) })
	if err != nil {
		return nil, err
	}
	groups, err := integrations.RetryListing(ctx, func() ([]group, error) {
		var l groupList
		err := c.do(ctx, request{op: errFindGroup, method: http.MethodGet, path: "/v1.0/groups",
			query: url.Values{"$search": {`"` + c.groupPrefix + `"`}}, out: &l})
		return l.Value, err
	})
	if err != nil {
		return nil, err
	}
	snap := &spaceSnapshot{prefix: c.groupPrefix, me: who.ID, byID: map[string]*drive{},
		byMarker: map[string][]*drive{}, groups: map[string]*group{}}
	for i := range drives {
		sp := &drives[i]
		owner, found := integrations.MarkerOwner(sp.Description)
		if !found {
			continue
		}
		snap.byID[sp.ID] = sp
		snap.byMarker[strings.ToLower(owner)] = append(snap.byMarker[strings.ToLower(owner)], sp)
	}
	for _, list := range snap.byMarker {
		sortPreferred(list)
	}
	for i := range groups {
		if strings.HasPrefix(groups[i].DisplayName, c.groupPrefix) {
			snap.groups[groups[i].DisplayName] = &groups[i]
		}
	}
	return snap, nil
}

// spaceSnapshot is one listing of the marked project spaces and the prefix's groups.
type spaceSnapshot struct {
	prefix   string
	me       string
	byID     map[string]*drive
	byMarker map[string][]*drive // by tenant id (lower case), preferred first
	groups   map[string]*group   // by exact display name
}

// Observe implements integrations.Snapshot, answering as Observe would. Left to a live
// Observe: a space not in the listing (missing, unmarked, created since), and a space whose
// members do not show the service account as a Manager (a live Observe says what is wrong).
func (s *spaceSnapshot) Observe(d integrations.Desired) (integrations.Observation, bool) {
	if checkDesired(d) != nil {
		return integrations.Observation{}, false
	}
	ob := &observed{groupKnown: true}
	if d.ExternalID != "" {
		sp := s.byID[d.ExternalID]
		switch {
		case sp == nil:
			return integrations.Observation{}, false
		case integrations.OwnerOfText(sp.Description, d.TenantID) == integrations.Foreign:
			ob.foreign = sp
			return compareSpace(d, GroupName(s.prefix, d.Slug), ob), true
		}
		ob.space = sp
	} else {
		ours := s.byMarker[strings.ToLower(d.TenantID)]
		if len(ours) == 0 {
			return integrations.Observation{}, false
		}
		ob.space, ob.byMarker, ob.extra = ours[0], true, len(ours)-1
	}
	if d.Suspended {
		return compareSpace(d, GroupName(s.prefix, d.Slug), ob), true
	}
	readable := !ob.space.disabled()
	if readable && !s.managedByMe(ob.space) {
		return integrations.Observation{}, false
	}
	ob.group = s.groups[GroupName(s.prefix, d.Slug)]
	if ob.group != nil && readable {
		ob.grant, ob.grantKnown = s.grantOf(ob.space, ob.group.ID)
		if !ob.grantKnown {
			return integrations.Observation{}, false
		}
	}
	return compareSpace(d, GroupName(s.prefix, d.Slug), ob), true
}

// managedByMe reports whether the space's members show the service account as a Manager.
func (s *spaceSnapshot) managedByMe(sp *drive) bool {
	for _, p := range sp.Root.Permissions {
		if u := p.GrantedToV2.User; u != nil && u.ID == s.me && slices.ContainsFunc(p.Roles, isManager) {
			return true
		}
	}
	return false
}

// grantOf is the group's grant among the space's members, with its roles as unified role ids
// (as the permissions API shows them); known is false when a role name is not one of the three
// project roles.
func (s *spaceSnapshot) grantOf(sp *drive, groupID string) (grant *permission, known bool) {
	for _, p := range sp.Root.Permissions {
		if g := p.GrantedToV2.Group; g == nil || g.ID != groupID {
			continue
		}
		out := p
		out.Roles = make([]string, len(p.Roles))
		for i, r := range p.Roles {
			id, ok := roleID(r)
			if !ok {
				return nil, false
			}
			out.Roles[i] = id
		}
		return &out, true
	}
	return nil, true
}

// roleID turns a role as a listing shows it (a name, or already an id) into its unified id.
func roleID(r string) (string, bool) {
	if id, ok := projectRoles[strings.ToLower(r)]; ok {
		return id, true
	}
	for _, id := range projectRoles {
		if id == r {
			return id, true
		}
	}
	return "", false
}

func isManager(r string) bool {
	id, _ := roleID(r)
	return id == RoleManager
}
