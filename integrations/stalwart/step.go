package stalwart

import (
	"context"
	"fmt"
	"strings"

	"github.com/dezky/platform-api/integrations"
)

// run carries one Ensure: the desired state and the strongest action taken so far.
type run struct {
	c      *Client
	d      integrations.Desired
	name   string
	marker string
	action integrations.Action
	notes  []string
}

// actionRank orders actions so the reported one is the most significant: a created object
// matters more than an adoption, an adoption more than a correction.
var actionRank = map[integrations.Action]int{
	integrations.ActionUnchanged: 0, integrations.ActionUpdated: 1,
	integrations.ActionAdopted: 2, integrations.ActionCreated: 3,
}

func (r *run) note(a integrations.Action) {
	if actionRank[a] > actionRank[r.action] {
		r.action = a
	}
}

// Ensure makes the tenant's mail domain and its team group account exist, carry the tenant's
// marker, have the plan's quota and be enabled unless the tenant is suspended. It returns the
// domain id as ExternalID. With no mail domain the step is skipped without a call.
func (c *Client) Ensure(ctx context.Context, d integrations.Desired) (integrations.Observed, error) {
	if strings.TrimSpace(d.MailDomain) == "" {
		return integrations.Observed{Skipped: true, Action: integrations.ActionUnchanged, Message: msgNoMailDomain}, nil
	}
	r := &run{c: c, d: d, name: normalizeDomain(d.MailDomain), marker: integrations.Marker(d.TenantID),
		action: integrations.ActionUnchanged}

	dom, team, teamKnown, err := r.observe(ctx)
	if err != nil {
		return integrations.Observed{}, err
	}
	if dom == nil {
		if dom, err = r.createDomain(ctx); err != nil {
			return integrations.Observed{}, err
		}
		// A domain we just created has no accounts; an adopted one may hold a team account.
		teamKnown, team = r.action == integrations.ActionCreated, nil
	} else if err = r.correctDomain(ctx, dom); err != nil {
		// Not (yet) ours, e.g. another tenant's: its id must not be recorded.
		return integrations.Observed{}, err
	}

	if !teamKnown {
		if team, err = c.findTeam(ctx, dom.ID); err != nil {
			return integrations.Observed{ExternalID: dom.ID}, err
		}
	}
	if team == nil {
		_, err = r.createTeam(ctx, dom)
	} else {
		err = r.correctTeam(ctx, dom, team)
	}
	if err != nil {
		return integrations.Observed{ExternalID: dom.ID}, err
	}

	if d.Suspended {
		r.notes = append(r.notes, msgSuspended)
	}
	return integrations.Observed{ExternalID: dom.ID, Action: r.action, Message: strings.Join(r.notes, "; ")}, nil
}

// observe finds the domain: by the recorded id first, reading the team account in the same
// request (so a stable tenant costs one round trip), else by name. teamKnown reports whether team
// was looked up (nil then means there is none).
func (r *run) observe(ctx context.Context) (dom *domain, team *account, teamKnown bool, err error) {
	if id := r.d.ExternalID; id != "" {
		s, err := r.c.session(ctx)
		if err != nil {
			return nil, nil, false, err
		}
		res, err := r.c.exec(ctx, errGetDomain, []invocation{
			{name: domainGet, id: "d", args: map[string]any{"ids": []string{id}, "properties": domainProps}},
			{name: accountQuery, id: "q", args: map[string]any{
				"filter": teamQuery(id), "limit": s.maxGet, "calculateTotal": true}},
			{name: accountGet, id: "a", args: map[string]any{
				"#ids": ref("q", accountQuery, "/ids"), "properties": accountProps}},
		})
		if err != nil {
			return nil, nil, false, err
		}
		g, err := decode[getResult[domain]](errGetDomain, res, "d")
		if err != nil {
			return nil, nil, false, err
		}
		if len(g.List) == 1 && g.List[0].Name == r.name {
			a, err := decode[getResult[account]](errGetDomain, res, "a")
			if err != nil {
				return nil, nil, false, err
			}
			q, err := decode[queryResult](errGetDomain, res, "q")
			if err != nil {
				return nil, nil, false, err
			}
			for i := range a.List {
				if isTeam(id)(a.List[i]) {
					return &g.List[0], &a.List[i], true, nil
				}
			}
			// Only a complete first page proves there is no team account.
			complete := q.Total != nil && len(q.IDs) >= *q.Total && len(q.IDs) == len(a.List)
			return &g.List[0], nil, complete, nil
		}
		if len(g.List) == 1 {
			// spec.mail.domain changed: the old domain stays (it holds mail); say so.
			r.notes = append(r.notes, fmt.Sprintf(msgOldDomain, g.List[0].Name, id))
		}
	}
	dom, err = r.c.findDomain(ctx, r.name)
	return dom, nil, false, err
}

// Delete tears the tenant's mail down in DESIGN §10's order: the team account, the domain's
// DKIM signatures (Stalwart generated them; they would keep the domain linked), then the domain,
// normally in one request. Objects already gone are success; an object carrying another tenant's
// marker is never destroyed; a domain without any marker is destroyed only when it is the one
// this tenant recorded.
func (c *Client) Delete(ctx context.Context, d integrations.Desired) error {
	name := normalizeDomain(d.MailDomain)
	if name == "" && d.ExternalID == "" {
		return nil
	}
	var dom *domain
	var err error
	if d.ExternalID != "" {
		if dom, err = c.getDomain(ctx, errDeleteDomain, d.ExternalID); err != nil {
			return err
		}
		if dom != nil && name != "" && dom.Name != name {
			dom = nil
		}
	}
	if dom == nil && name != "" {
		if dom, err = c.findDomain(ctx, name); err != nil {
			return err
		}
	}
	if dom == nil {
		return nil
	}
	owner, found := integrations.MarkerOwner(dom.description())
	if found && !strings.EqualFold(owner, d.TenantID) {
		return integrations.PermanentError(errDeleteDomain, fmt.Sprintf(msgForeignDomain, dom.Name))
	}
	if !found && dom.ID != d.ExternalID {
		return nil // never ours: no marker and not recorded
	}

	team, err := c.findTeam(ctx, dom.ID)
	if err != nil {
		return err
	}
	if team != nil && team.Type != "Group" {
		team = nil // a User holding team@ is not ours to destroy; the domain stays linked to it
	}
	if team != nil {
		if o, ok := integrations.MarkerOwner(team.description()); ok && !strings.EqualFold(o, d.TenantID) {
			return integrations.PermanentError(errDeleteAccount,
				fmt.Sprintf(msgForeignAccount, teamName+"@"+dom.Name))
		}
	}
	// One request normally does it all; a server whose maxObjectsInSet is smaller than the
	// number of DKIM signatures needs a few rounds, each destroying one batch of them.
	for round := 0; ; round++ {
		progress, err := c.teardown(ctx, dom, team)
		if err == nil || !progress || !integrations.IsRetryable(err) || round >= maxTeardownRounds {
			return err
		}
		team = nil
	}
}

// maxTeardownRounds bounds the DKIM batches of one Delete.
const maxTeardownRounds = 8

// teardown sends one teardown request: destroy the team account (when given), one batch of the
// domain's DKIM signatures, then the domain. progress reports whether signatures were destroyed,
// i.e. whether another round may get further.
func (c *Client) teardown(ctx context.Context, dom *domain, team *account) (progress bool, err error) {
	s, err := c.session(ctx)
	if err != nil {
		return false, err
	}
	var calls []invocation
	if team != nil {
		calls = append(calls, invocation{name: accountSet, id: "a",
			args: map[string]any{"destroy": []string{team.ID}}})
	}
	calls = append(calls,
		invocation{name: dkimQuery, id: "k", args: map[string]any{
			"filter": map[string]any{"domainId": dom.ID}, "limit": s.maxSet}},
		invocation{name: dkimSet, id: "s", args: map[string]any{
			"#destroy": ref("k", dkimQuery, "/ids")}},
		invocation{name: domainSet, id: "d", args: map[string]any{"destroy": []string{dom.ID}}},
	)
	res, err := c.exec(ctx, errDeleteDomain, calls)
	if err != nil {
		return false, err
	}
	if team != nil {
		if err := destroyed(errDeleteAccount, res, "a", team.ID); err != nil {
			return false, err
		}
	}
	ks, err := decode[setResult](errDeleteDkim, res, "s")
	if err != nil {
		return false, err
	}
	for _, se := range ks.NotDestroyed {
		if se.Type != "notFound" {
			return false, se.toError(errDeleteDkim)
		}
	}
	return len(ks.Destroyed) > 0, destroyed(errDeleteDomain, res, "d", dom.ID)
}

// destroyed checks the /set response of call for the destruction of id. notFound is success.
// objectIsLinked naming only DKIM signatures or tasks (generated by the server, e.g. a DKIM
// rotation in flight) is retryable; any other link (mail accounts the tenant created) needs a
// human and is permanent.
func destroyed(op string, res responses, call, id string) error {
	set, err := decode[setResult](op, res, call)
	if err != nil {
		return err
	}
	se, failed := set.NotDestroyed[id]
	if !failed || se.Type == "notFound" {
		return nil
	}
	if se.Type != "objectIsLinked" {
		return se.toError(op)
	}
	transient := true
	names := make([]string, 0, len(se.LinkedObjects))
	for _, l := range se.linked() {
		names = append(names, l.Object+" "+l.ID)
		if l.Object != "DkimSignature" && l.Object != "Task" {
			transient = false
		}
	}
	kind := integrations.Permanent
	if transient {
		kind = integrations.Retryable
	}
	return &integrations.Error{Kind: kind, Op: op, Message: fmt.Sprintf(msgLinked, id, strings.Join(names, ", "))}
}
