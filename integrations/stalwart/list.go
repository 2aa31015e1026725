package stalwart

import (
	"context"
	"fmt"
	"strings"

	"github.com/dezky/platform-api/integrations"
)

var _ integrations.Lister = (*Client)(nil)

// ObserveAll lists every domain carrying a dezky marker and every team account on them:
// x:Domain/query+get and x:Account/query+get (name "team", compared exactly), each a page of
// the session's maxObjectsInGet per request. It only reads.
func (c *Client) ObserveAll(ctx context.Context) (integrations.Snapshot, error) {
	snap := &mailSnapshot{byID: map[string]*domain{}, byName: map[string]*domain{}, teams: map[string]*account{}}
	err := listAll(ctx, c, errFindDomain, typeDomain, nil, domainProps, func(d domain) {
		if strings.Contains(d.description(), integrations.MarkerPrefix) {
			dom := d
			snap.byID[dom.ID], snap.byName[dom.Name] = &dom, &dom
		}
	})
	if err != nil {
		return nil, err
	}
	err = listAll(ctx, c, errFindAccount, typeAccount, map[string]any{"name": teamName}, accountProps, func(a account) {
		if a.Name == teamName && snap.byID[a.DomainID] != nil {
			team := a
			snap.teams[a.DomainID] = &team
		}
	})
	if err != nil {
		return nil, err
	}
	return snap, nil
}

// listAll pages through typ/query (filter may be nil) with a /get of each page in the same
// request, calling keep for every object.
func listAll[T any](ctx context.Context, c *Client, op, typ string, filter map[string]any, props []string, keep func(T)) error {
	s, err := c.session(ctx)
	if err != nil {
		return err
	}
	query := map[string]any{"limit": s.maxGet, "calculateTotal": true}
	if filter != nil {
		query["filter"] = filter
	}
	for pos := 0; ; {
		query["position"] = pos
		type page struct {
			q queryResult
			g getResult[T]
		}
		p, err := integrations.RetryListing(ctx, func() (page, error) {
			res, err := c.exec(ctx, op, []invocation{
				{name: typ + "/query", id: "q", args: query},
				{name: typ + "/get", id: "g", args: map[string]any{"#ids": ref("q", typ+"/query", "/ids"), "properties": props}},
			})
			if err != nil {
				return page{}, err
			}
			q, err := decode[queryResult](op, res, "q")
			if err != nil {
				return page{}, err
			}
			g, err := decode[getResult[T]](op, res, "g")
			return page{q: q, g: g}, err
		})
		if err != nil {
			return err
		}
		for _, o := range p.g.List {
			keep(o)
		}
		pos = p.q.Position + len(p.q.IDs)
		if len(p.q.IDs) == 0 || (p.q.Total != nil && pos >= *p.q.Total) {
			return nil
		}
	}
}

// mailSnapshot is one listing of the marked domains and their team accounts.
type mailSnapshot struct {
	byID, byName map[string]*domain
	teams        map[string]*account // by domain id
}

// Observe implements integrations.Snapshot, answering as Observe would. What the listing
// cannot prove is left to a live Observe: a domain not in it (missing, unmarked, created
// since), a recorded id not in it.
func (s *mailSnapshot) Observe(d integrations.Desired) (integrations.Observation, bool) {
	name := normalizeDomain(d.MailDomain)
	ob := &observed{}
	var note string
	if d.ExternalID != "" {
		rec := s.byID[d.ExternalID]
		switch {
		case rec == nil:
			return integrations.Observation{}, false
		case rec.Name == name:
			ob.dom, ob.team, ob.teamKnown = rec, s.teams[rec.ID], true
		case integrations.OwnerOfText(rec.description(), d.TenantID) == integrations.Ours:
			ob.old = rec
		default:
			note = fmt.Sprintf(msgOldDomain, rec.Name)
		}
	}
	if name == "" {
		if ob.old == nil {
			return integrations.Observation{Skipped: true, Message: joinNotes(msgNoMailDomain, note)}, true
		}
		return integrations.Observation{Drift: []integrations.Drift{{Field: FieldDomain, Want: noDomain, Got: ob.old.Name}}}, true
	}
	if ob.dom == nil {
		dom := s.byName[name]
		if dom == nil {
			return integrations.Observation{}, false
		}
		ob.dom, ob.team, ob.teamKnown = dom, s.teams[dom.ID], true
	}
	return compareDomain(d, name, ob, note), true
}
