package authentik

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/dezky/platform-api/integrations"
)

// listPageSize is the page of the resync's group listing: large pages keep the listing to a
// few requests (10,000 tenants: 20), small enough that one page with its members stays a few
// MB.
const listPageSize = 500

var _ integrations.Lister = (*Client)(nil)

// ObserveAll lists every group whose name starts with the group prefix (search is a
// substring match on the name; the prefix is checked here), with its members' emails
// (include_users), following Authentik's page numbers. It only reads.
func (c *Client) ObserveAll(ctx context.Context) (integrations.Snapshot, error) {
	snap := &groupSnapshot{prefix: c.prefix, byPK: map[string]*snapGroup{}, byName: map[string]*snapGroup{}}
	q := url.Values{"search": {c.prefix}, "include_users": {"true"}, "page_size": {strconv.Itoa(listPageSize)}}
	for page, n := 1, 0; n < maxPages; n++ {
		q.Set("page", strconv.Itoa(page))
		p, err := integrations.RetryListing(ctx, func() (groupPage, error) {
			var p groupPage
			err := c.do(ctx, request{op: errListGroups, method: http.MethodGet, path: "/core/groups/", query: q}, &p)
			return p, err
		})
		if integrations.IsNotFound(err) && page > 1 {
			// "Invalid page.": the list shrank under the listing (groups deleted meanwhile).
			// What was read stands; a tenant whose group slid past the listing is declined by
			// the snapshot and observed live.
			break
		}
		if err != nil {
			return nil, err
		}
		for i := range p.Results {
			if g := &p.Results[i]; strings.HasPrefix(g.Name, c.prefix) {
				snap.add(g)
			}
		}
		next := int(p.Pagination.Next)
		if next == 0 || next <= page {
			break
		}
		page = next
	}
	return snap, nil
}

// snapGroup is what the snapshot keeps of a group: our attributes only, and the members'
// emails (lower-cased), enough to answer Observe without the rest of the group.
type snapGroup struct {
	pk, name string
	attrs    map[string]any
	emails   []string
}

// groupSnapshot is one listing of the prefix's groups.
type groupSnapshot struct {
	prefix string
	byPK   map[string]*snapGroup
	byName map[string]*snapGroup
}

func (s *groupSnapshot) add(g *group) {
	sg := &snapGroup{pk: g.PK, name: g.Name, attrs: map[string]any{}}
	for _, k := range []string{AttrTenantID, AttrTenantSlug, AttrSuspended} {
		if v, ok := g.Attributes[k]; ok {
			sg.attrs[k] = v
		}
	}
	for _, m := range g.UsersObj {
		sg.emails = append(sg.emails, strings.ToLower(m.Email))
	}
	s.byPK[g.PK] = sg
	s.byName[g.Name] = sg
}

// Observe implements integrations.Snapshot. It answers only what the listing proves: a group
// not in it (gone, renamed away from the prefix, created since) and an owner who is not among
// the listed members (is there an account at all?) are left to a live Observe.
func (s *groupSnapshot) Observe(d integrations.Desired) (integrations.Observation, bool) {
	if checkDesired(d) != nil {
		return integrations.Observation{}, false
	}
	name := s.prefix + d.Slug
	var sg *snapGroup
	if id := strings.TrimSpace(d.ExternalID); id != "" && isUUID(id) {
		sg = s.byPK[id]
	} else {
		sg = s.byName[name]
	}
	if sg == nil {
		return integrations.Observation{}, false
	}
	o, drift := compareGroup(d, name, &group{PK: sg.pk, Name: sg.name, Attributes: sg.attrs})
	if o.Owner == integrations.Foreign {
		return o, true
	}
	if email := strings.TrimSpace(d.OwnerEmail); email != "" {
		member := false
		for _, e := range sg.emails {
			member = member || e == strings.ToLower(email)
		}
		if !member {
			return integrations.Observation{}, false
		}
	}
	o.Drift = drift
	return o, true
}
