package stalwart

import (
	"context"
	"fmt"
	"strconv"

	"github.com/dezky/platform-api/integrations"
)

// Drift fields this step reports (docs/ARCHITECTURE.md, "Drift fields").
const (
	FieldDomain       = integrations.FieldDomain
	FieldDescription  = integrations.FieldDescription
	FieldEnabled      = integrations.FieldEnabled
	FieldGroupAccount = integrations.FieldGroupAccount
	FieldQuota        = integrations.FieldQuota
)

// noDomain is the Want of a domain drift when spec.mail was removed.
const noDomain = "none"

// observed is what Observe read, handed to Apply through Observation.Object.
type observed struct {
	// dom is the domain spec.mail.domain names; nil when it does not exist.
	dom *domain
	// team is team@dom; teamKnown says whether it was looked up (nil then means none).
	team      *account
	teamKnown bool
	// old is the domain this tenant recorded before spec.mail.domain changed or was removed,
	// when it is ours: Apply tears it down.
	old *domain
}

// Observe finds the tenant's domain (by the recorded id first, reading the team account in the
// same request so a stable tenant costs one round trip, else by exact name) and its team group
// account, and lists what differs. A recorded domain that spec.mail.domain no longer names is
// reported as domain drift when it is ours (Apply removes it) and left alone otherwise. With no
// mail domain and nothing recorded the step is skipped without a call. It makes no write.
func (c *Client) Observe(ctx context.Context, d integrations.Desired) (integrations.Observation, error) {
	name := normalizeDomain(d.MailDomain)
	ob := &observed{}
	var note string
	if d.ExternalID != "" {
		rec, team, teamKnown, err := c.readRecorded(ctx, d.ExternalID)
		if err != nil {
			return integrations.Observation{}, err
		}
		switch {
		case rec == nil:
		case rec.Name == name:
			ob.dom, ob.team, ob.teamKnown = rec, team, teamKnown
		case integrations.OwnerOfText(rec.description(), d.TenantID) == integrations.Ours:
			ob.old = rec
		default:
			note = fmt.Sprintf(msgOldDomain, rec.Name)
		}
	}
	if name == "" {
		if ob.old == nil {
			return integrations.Observation{Skipped: true, Message: joinNotes(msgNoMailDomain, note)}, nil
		}
		return integrations.Observation{Object: ob,
			Drift: []integrations.Drift{{Field: FieldDomain, Want: noDomain, Got: ob.old.Name}}}, nil
	}
	if ob.dom == nil {
		dom, err := c.findDomain(ctx, name)
		if err != nil {
			return integrations.Observation{}, err
		}
		ob.dom = dom
	}
	if ob.dom != nil && !ob.teamKnown && integrations.OwnerOfText(ob.dom.description(), d.TenantID) != integrations.Foreign {
		team, err := c.findTeam(ctx, ob.dom.ID)
		if err != nil {
			return integrations.Observation{}, err
		}
		ob.team, ob.teamKnown = team, true
	}
	o := compareDomain(d, name, ob, note)
	o.Object = ob
	return o, nil
}

// compareDomain compares what was found for d (ob: the domain, its team account, the old
// domain) with what d wants. Live Observe and the listing's snapshot share it, so both answer
// alike.
func compareDomain(d integrations.Desired, name string, ob *observed, note string) integrations.Observation {
	o := integrations.Observation{Message: note}
	var drift integrations.DriftBuilder
	switch {
	case ob.old != nil:
		drift.Add(FieldDomain, name, ob.old.Name)
	case ob.dom == nil:
		drift.Add(FieldDomain, name, integrations.Missing)
	}
	if ob.dom == nil {
		o.Drift = drift
		return o
	}
	dom := ob.dom
	o.Exists, o.ExternalID, o.Owner = true, dom.ID, integrations.OwnerOfText(dom.description(), d.TenantID)
	if o.Owner == integrations.Foreign {
		o.Message = fmt.Sprintf(msgForeignDomain, dom.Name)
		return o
	}
	if o.Owner == integrations.Unmarked {
		drift.Add(FieldDescription, integrations.Marker(d.TenantID), dom.description())
	}
	drift.Bool(FieldEnabled, !d.Suspended, dom.enabled())
	teamDrift(&drift, ob.team, dom, d)
	if d.Suspended {
		o.Message = joinNotes(o.Message, msgSuspended)
	}
	o.Drift = drift
	return o
}

// teamDrift compares team@<domain> with what the tenant wants: our Group account with the
// mail quota.
func teamDrift(drift *integrations.DriftBuilder, team *account, dom *domain, d integrations.Desired) {
	addr := teamName + "@" + dom.Name
	want := addr + " (Group)"
	switch {
	case team == nil:
		drift.Add(FieldGroupAccount, want, integrations.Missing)
		return
	case team.Type != "Group":
		drift.Add(FieldGroupAccount, want, addr+" ("+team.Type+")")
		return
	}
	switch integrations.OwnerOfText(team.description(), d.TenantID) {
	case integrations.Foreign:
		drift.Add(FieldGroupAccount, want, addr+" (another tenant's)")
		return
	case integrations.Unmarked:
		drift.Add(FieldGroupAccount, want, addr+" (unmarked)")
	}
	have, ok := team.Quotas[quotaKey]
	switch want := d.MailQuotaBytes; {
	case want > 0 && (!ok || have != want):
		drift.Int(FieldQuota, want, have)
	case want <= 0 && ok:
		drift.Add(FieldQuota, "none", strconv.FormatInt(have, 10))
	}
}

// readRecorded reads the recorded domain and, in the same request, team@ on it. teamKnown
// reports whether the answer proves what team is (only a complete first page proves there is
// none).
func (c *Client) readRecorded(ctx context.Context, id string) (dom *domain, team *account, teamKnown bool, err error) {
	s, err := c.session(ctx)
	if err != nil {
		return nil, nil, false, err
	}
	res, err := c.exec(ctx, errGetDomain, []invocation{
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
	if err != nil || len(g.List) != 1 {
		return nil, nil, false, err
	}
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
	complete := q.Total != nil && len(q.IDs) >= *q.Total && len(q.IDs) == len(a.List)
	return &g.List[0], nil, complete, nil
}

func joinNotes(a, b string) string {
	switch {
	case a == "":
		return b
	case b == "":
		return a
	}
	return a + "; " + b
}
