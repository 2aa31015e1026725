package stalwart

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/dezky/platform-api/integrations"
)

// Delete tears the tenant's mail down: for the domain it recorded (whatever its name now) and
// the domain spec.mail.domain names, each when it is ours, the team account, the domain's DKIM
// signatures (Stalwart generated them; they would keep the domain linked), then the domain,
// normally in one request. Objects already gone are success. Nothing that is not ours is ever
// destroyed, and nothing that is not ours keeps the tenant from being deleted: a domain carrying
// another tenant's marker, an unmarked domain this tenant never recorded, and a domain still
// linked to accounts this service did not create (mailboxes, another tenant's team account) are
// left in place, logged, and the step counts as torn down.
func (c *Client) Delete(ctx context.Context, d integrations.Desired) error {
	targets, err := c.teardownTargets(ctx, d)
	if err != nil {
		return err
	}
	for _, dom := range targets {
		if err := c.destroyDomain(ctx, d, dom); err != nil {
			if !errors.Is(err, errLeftInPlace) {
				return err
			}
			c.log.WarnContext(ctx, "stalwart domain left in place at teardown", "domain", dom.Name, "id", dom.ID, "reason", err.Error())
		}
	}
	return nil
}

// teardownTargets finds this tenant's domains: the recorded one and the one spec.mail.domain
// names (the same one, normally), keeping only those that are ours.
func (c *Client) teardownTargets(ctx context.Context, d integrations.Desired) ([]*domain, error) {
	var out []*domain
	if d.ExternalID != "" {
		dom, err := c.getDomain(ctx, errDeleteDomain, d.ExternalID)
		if err != nil {
			return nil, err
		}
		// The recorded domain is ours when it carries our marker, or none: it was recorded
		// because this tenant created or adopted it.
		if dom != nil && integrations.OwnerOfText(dom.description(), d.TenantID) != integrations.Foreign {
			out = append(out, dom)
		}
	}
	if name := normalizeDomain(d.MailDomain); name != "" && (len(out) == 0 || out[0].Name != name) {
		dom, err := c.findDomain(ctx, name)
		if err != nil {
			return nil, err
		}
		if dom != nil && integrations.OwnerOfText(dom.description(), d.TenantID) == integrations.Ours {
			out = append(out, dom)
		}
	}
	return out, nil
}

// errLeftInPlace marks a teardown that stopped at objects that are not ours: the domain stays.
var errLeftInPlace = errors.New("left in place")

// destroyDomain destroys the team account (when it is our Group), the domain's DKIM signatures
// and the domain. It fails with errLeftInPlace (wrapped) when the domain is linked to
// something this service must not destroy.
func (c *Client) destroyDomain(ctx context.Context, d integrations.Desired, dom *domain) error {
	team, err := c.findTeam(ctx, dom.ID)
	if err != nil {
		return err
	}
	if team != nil && (team.Type != "Group" || integrations.OwnerOfText(team.description(), d.TenantID) == integrations.Foreign) {
		// A mailbox holding team@, or another tenant's account: not ours to destroy, and the
		// domain stays linked to it.
		return fmt.Errorf("%s@%s is a %s account that is not ours: %w", teamName, dom.Name, team.Type, errLeftInPlace)
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
// rotation in flight) is retryable; any other link (mail accounts people created) is permanent
// and wraps errLeftInPlace: those accounts are not this service's to destroy.
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
	e := &integrations.Error{Kind: integrations.Permanent, Op: op, Message: fmt.Sprintf(msgLinked, id, strings.Join(names, ", ")), Err: errLeftInPlace}
	if transient {
		e.Kind, e.Err = integrations.Retryable, nil
	}
	return e
}
