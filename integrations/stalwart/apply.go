package stalwart

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/dezky/platform-api/integrations"
)

// actionRank orders actions so the reported one is the most significant: a created object
// matters more than an adoption, an adoption more than a correction.
var actionRank = map[integrations.Action]int{
	integrations.ActionUnchanged: 0, integrations.ActionUpdated: 1, integrations.ActionDeleted: 1,
	integrations.ActionAdopted: 2, integrations.ActionCreated: 3,
}

// run carries one Apply: the desired state, the strongest action taken so far and the notes
// for the step's message.
type run struct {
	c      *Client
	d      integrations.Desired
	name   string
	marker string
	action integrations.Action
	notes  []string
}

func (r *run) note(a integrations.Action) {
	if actionRank[a] > actionRank[r.action] {
		r.action = a
	}
}

// Apply makes the tenant's mail domain and its team group account exist, carry the tenant's
// marker, have the plan's quota and be enabled unless the tenant is suspended, starting from
// what Observe found. A domain this tenant recorded before spec.mail.domain changed or was
// removed is torn down once the new one is in place (when it carries this tenant's marker), and
// the message says so. It returns the domain id as ExternalID ("" once mail was removed).
func (c *Client) Apply(ctx context.Context, d integrations.Desired, o integrations.Observation) (integrations.Observed, error) {
	ob, ok := o.Object.(*observed)
	if !ok {
		fresh, err := c.Observe(ctx, d)
		if err != nil || fresh.Skipped {
			return integrations.Observed{Action: integrations.ActionUnchanged, Message: fresh.Message}, err
		}
		o, ob = fresh, fresh.Object.(*observed)
	}
	r := &run{c: c, d: d, name: normalizeDomain(d.MailDomain), marker: integrations.Marker(d.TenantID),
		action: integrations.ActionUnchanged}
	if o.Message != "" && o.Owner != integrations.Foreign {
		r.notes = append(r.notes, o.Message)
	}
	res := integrations.Observed{}
	if r.name != "" {
		dom, err := r.applyDomain(ctx, ob)
		if err != nil {
			if dom != nil {
				res.ExternalID = dom.ID
			}
			return res, err
		}
		res.ExternalID = dom.ID
		if d.Suspended {
			r.notes = append(r.notes, msgSuspended)
		}
	}
	if ob.old != nil {
		if err := r.removeOld(ctx, ob.old); err != nil {
			return res, err
		}
	}
	res.Action, res.Message = r.action, strings.Join(r.notes, "; ")
	return res, nil
}

// applyDomain creates, adopts or corrects the domain, then its team account. The domain is
// returned (with an error) once it is known to be ours, so its id is recorded even when the
// team account fails.
func (r *run) applyDomain(ctx context.Context, ob *observed) (*domain, error) {
	dom := ob.dom
	if dom == nil {
		created, err := r.createDomain(ctx)
		if err != nil {
			return nil, err
		}
		dom = created
		// A domain we just created has no accounts; an adopted one may hold a team account.
		ob.team, ob.teamKnown = nil, r.action == integrations.ActionCreated
	} else if err := r.correctDomain(ctx, dom); err != nil {
		// Not (yet) ours, e.g. another tenant's: its id must not be recorded.
		return nil, err
	}
	team, known := ob.team, ob.teamKnown
	if !known {
		var err error
		if team, err = r.c.findTeam(ctx, dom.ID); err != nil {
			return dom, err
		}
	}
	var err error
	if team == nil {
		err = r.createTeam(ctx, dom)
	} else {
		err = r.correctTeam(ctx, dom, team)
	}
	return dom, err
}

// removeOld tears down the domain this tenant used before spec.mail.domain changed or was
// removed. Mailboxes people created on it are never destroyed: the domain then stays, and the
// message says so.
func (r *run) removeOld(ctx context.Context, old *domain) error {
	err := r.c.destroyDomain(ctx, r.d, old)
	switch {
	case err == nil:
		r.note(integrations.ActionDeleted)
		r.notes = append(r.notes, fmt.Sprintf(msgOldRemoved, old.Name))
		return nil
	case errors.Is(err, errLeftInPlace):
		r.notes = append(r.notes, fmt.Sprintf(msgOldLeft, old.Name))
		return nil
	default:
		return err
	}
}

// createOrAdopt creates one registry object of typ (x:Domain, x:Account) with props. When
// Stalwart answers primaryKeyViolation (the object exists: our own create whose response was
// lost, a concurrent worker's, or someone else's), it returns the existing object instead,
// read by the objectId the error carries (else found with find), for the caller to adopt under
// the marker rule. Exactly one of createdID and existing is set on success.
func createOrAdopt[T any](ctx context.Context, c *Client, op, typ string, props map[string]any,
	get func(ctx context.Context, id string) (*T, error), find func(ctx context.Context) (*T, error)) (createdID string, existing *T, err error) {
	res, err := c.exec(ctx, op, []invocation{{name: typ + "/set", id: "c", args: map[string]any{
		"create": map[string]any{"n": props},
	}}})
	if err != nil {
		return "", nil, err
	}
	set, err := decode[setResult](op, res, "c")
	if err != nil {
		return "", nil, err
	}
	if created, ok := set.Created["n"]; ok {
		return created.ID, nil, nil
	}
	se, ok := set.NotCreated["n"]
	if !ok {
		return "", nil, integrations.PermanentError(op, msgBadResponse)
	}
	if se.Type != "primaryKeyViolation" {
		return "", nil, se.toError(op)
	}
	if id := se.objectID(); id != "" {
		existing, err = get(ctx, id)
	} else {
		existing, err = find(ctx)
	}
	if err != nil {
		return "", nil, err
	}
	if existing == nil {
		// Deleted between our create and our read: let the next attempt create it.
		return "", nil, &integrations.Error{Kind: integrations.Retryable, Op: op, Message: se.message()}
	}
	return "", existing, nil
}

// createDomain creates the tenant's domain with the marker, or adopts the one that holds the
// name (see createOrAdopt).
func (r *run) createDomain(ctx context.Context) (*domain, error) {
	enabled := !r.d.Suspended
	id, existing, err := createOrAdopt(ctx, r.c, errCreateDomain, typeDomain, map[string]any{
		"name":                  r.name,
		"description":           r.marker,
		"isEnabled":             enabled,
		"aliases":               map[string]any{},
		"certificateManagement": map[string]any{"@type": "Manual"},
		"dkimManagement":        map[string]any{"@type": "Automatic"},
		"dnsManagement":         map[string]any{"@type": "Manual"},
		"subAddressing":         map[string]any{"@type": "Enabled"},
	}, func(ctx context.Context, id string) (*domain, error) {
		return r.c.getDomain(ctx, errCreateDomain, id)
	}, func(ctx context.Context) (*domain, error) {
		return r.c.findDomain(ctx, r.name)
	})
	if err != nil {
		return nil, err
	}
	if existing == nil {
		r.note(integrations.ActionCreated)
		return &domain{ID: id, Name: r.name, Description: &r.marker, IsEnabled: &enabled}, nil
	}
	if existing.Name != r.name {
		return nil, &integrations.Error{Kind: integrations.Permanent, Op: errCreateDomain,
			Message: fmt.Sprintf("domain name %s is taken by domain %s (as an alias)", r.name, existing.Name),
			Public:  fmt.Sprintf(msgAliasTaken, r.name)}
	}
	return existing, r.correctDomain(ctx, existing)
}

// correctDomain applies the marker rule to an existing domain and corrects what differs:
// another tenant's marker stops everything; no marker means adoption (the marker is appended to
// the description); isEnabled follows the tenant's suspension.
func (r *run) correctDomain(ctx context.Context, dom *domain) error {
	patch := map[string]any{}
	owner := integrations.OwnerOfText(dom.description(), r.d.TenantID)
	switch owner {
	case integrations.Foreign:
		return integrations.ConflictError(errUpdateDomain, fmt.Sprintf(msgForeignDomain, dom.Name))
	case integrations.Unmarked:
		patch["description"] = withMarker(dom.description(), r.marker)
	}
	if want := !r.d.Suspended; dom.enabled() != want {
		patch["isEnabled"] = want
	}
	if len(patch) == 0 {
		return nil
	}
	if err := r.c.update(ctx, errUpdateDomain, domainSet, dom.ID, patch); err != nil {
		return err
	}
	if owner == integrations.Unmarked {
		r.note(integrations.ActionAdopted)
	} else {
		r.note(integrations.ActionUpdated)
	}
	return nil
}

// quotas is the desired quota map: the mail quota as maxDiskQuota, none when it is zero.
func (r *run) quotas() map[string]any {
	if r.d.MailQuotaBytes <= 0 {
		return map[string]any{}
	}
	return map[string]any{quotaKey: r.d.MailQuotaBytes}
}

// createTeam creates the Group account team@<domain> with the marker and the mail quota, or
// adopts the account holding the address (see createOrAdopt).
func (r *run) createTeam(ctx context.Context, dom *domain) error {
	_, existing, err := createOrAdopt(ctx, r.c, errCreateAccount, typeAccount, map[string]any{
		"@type":       "Group",
		"name":        teamName,
		"domainId":    dom.ID,
		"description": r.marker,
		"roles":       map[string]any{"@type": "Default"},
		"permissions": map[string]any{"@type": "Inherit"},
		"quotas":      r.quotas(),
		"aliases":     map[string]any{},
	}, func(ctx context.Context, id string) (*account, error) {
		return r.c.getAccount(ctx, errCreateAccount, id)
	}, func(ctx context.Context) (*account, error) {
		return r.c.findTeam(ctx, dom.ID)
	})
	if err != nil {
		return err
	}
	if existing == nil {
		r.note(integrations.ActionCreated)
		return nil
	}
	return r.correctTeam(ctx, dom, existing)
}

// correctTeam applies the marker rule to team@<domain> and corrects its disk quota. A User
// account holding the address, or another tenant's marker, is a conflict only a person resolves.
func (r *run) correctTeam(ctx context.Context, dom *domain, a *account) error {
	addr := teamName + "@" + dom.Name
	if a.Type != "Group" {
		return integrations.ConflictError(errUpdateAccount, fmt.Sprintf(msgAccountNotGroup, addr, a.Type))
	}
	patch := map[string]any{}
	owner := integrations.OwnerOfText(a.description(), r.d.TenantID)
	switch owner {
	case integrations.Foreign:
		return integrations.ConflictError(errUpdateAccount, fmt.Sprintf(msgForeignAccount, addr))
	case integrations.Unmarked:
		patch["description"] = withMarker(a.description(), r.marker)
	}
	have, ok := a.Quotas[quotaKey]
	switch want := r.d.MailQuotaBytes; {
	case want > 0 && (!ok || have != want):
		patch["quotas/"+quotaKey] = want
	case want <= 0 && ok:
		patch["quotas/"+quotaKey] = nil
	}
	if len(patch) == 0 {
		return nil
	}
	if err := r.c.update(ctx, errUpdateAccount, accountSet, a.ID, patch); err != nil {
		return err
	}
	if owner == integrations.Unmarked {
		r.note(integrations.ActionAdopted)
	} else {
		r.note(integrations.ActionUpdated)
	}
	return nil
}
