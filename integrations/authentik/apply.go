package authentik

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/dezky/platform-api/integrations"
)

// Apply brings the tenant's group to d, starting from what Observe found: it creates the group
// when missing, refuses one carrying another tenant's marker (permanent, nothing changed), adopts
// an unmarked one by writing the attributes, patches the name and attributes that drifted, and
// adds the owner as a member.
func (c *Client) Apply(ctx context.Context, d integrations.Desired, o integrations.Observation) (integrations.Observed, error) {
	if err := checkDesired(d); err != nil {
		return integrations.Observed{}, err
	}
	ob, ok := o.Object.(*observed)
	if !ok {
		fresh, err := c.Observe(ctx, d)
		if err != nil {
			return integrations.Observed{}, err
		}
		o, ob = fresh, fresh.Object.(*observed)
	}
	name := c.GroupName(d.Slug)
	g, action := ob.group, integrations.ActionUnchanged
	if g == nil {
		var err error
		if g, action, err = c.create(ctx, d, name); err != nil {
			return integrations.Observed{}, err
		}
	}

	switch ownerOf(g.Attributes, d.TenantID) {
	case integrations.Foreign:
		return integrations.Observed{}, integrations.ConflictError(errAdoptGroup, fmt.Sprintf(msgForeignGroup, g.Name))
	case integrations.Unmarked:
		c.log.DebugContext(ctx, "adopting unmarked authentik group", "group", g.Name, "pk", g.PK)
		action = integrations.ActionAdopted
	}

	if patch := groupPatch(g, d, name); len(patch) > 0 {
		updated, err := c.patchGroup(ctx, g.PK, patch)
		if err != nil {
			return integrations.Observed{}, err
		}
		g = updated
		if action == integrations.ActionUnchanged {
			action = integrations.ActionUpdated
		}
	}

	msg, added, err := c.ensureOwner(ctx, d, g, ob)
	if err != nil {
		return integrations.Observed{}, err
	}
	if added && action == integrations.ActionUnchanged {
		action = integrations.ActionUpdated
	}
	if msg == "" {
		msg = o.Message
	}
	return integrations.Observed{ExternalID: g.PK, Action: action, Message: msg}, nil
}

// create creates the tenant's group. Group names are unique in Authentik, so a 400 here most
// often means the group appeared after our lookup: a concurrent worker, an earlier create whose
// answer was lost, or somebody else. The create is then retried as a lookup; only when no
// group holds the name is the 400 about our request itself, and it is returned (permanent,
// with Authentik's message).
func (c *Client) create(ctx context.Context, d integrations.Desired, name string) (*group, integrations.Action, error) {
	g, err := c.createGroup(ctx, name, desiredAttrs(d))
	if err == nil {
		return g, integrations.ActionCreated, nil
	}
	var e *integrations.Error
	if !errors.As(err, &e) || e.Status != http.StatusBadRequest {
		return nil, "", err
	}
	existing, lerr := c.groupByName(ctx, name)
	if lerr != nil {
		return nil, "", lerr
	}
	if existing == nil {
		return nil, "", err
	}
	return existing, integrations.ActionUnchanged, nil
}

// groupPatch returns the PATCH body that brings g to the desired name and attributes: only the
// fields that differ. attributes is replaced as a whole by Authentik, so the patch carries the
// group's current attributes with ours corrected, keeping keys others added.
func groupPatch(g *group, d integrations.Desired, name string) map[string]any {
	patch := map[string]any{}
	if g.Name != name {
		patch["name"] = name
	}
	want := desiredAttrs(d)
	changed := false
	for k, v := range want {
		if !sameAttr(g.Attributes, k, v) {
			changed = true
		}
	}
	if !changed {
		return patch
	}
	merged := make(map[string]any, len(g.Attributes)+len(want))
	for k, v := range g.Attributes {
		merged[k] = v
	}
	for k, v := range want {
		merged[k] = v
	}
	patch["attributes"] = merged
	return patch
}

// ensureOwner makes the tenant's owner a member of g, using what Observe found about the
// owner's account when it was about this group; otherwise (a group just created or adopted
// through a duplicate-name answer) it looks the owner up again.
func (c *Client) ensureOwner(ctx context.Context, d integrations.Desired, g *group, ob *observed) (msg string, added bool, err error) {
	email := strings.TrimSpace(d.OwnerEmail)
	if email == "" {
		return "", false, nil
	}
	if ob.group == nil || ob.group.PK != g.PK {
		fresh := &observed{group: g}
		if msg, err = c.observeOwner(ctx, d, fresh); err != nil {
			return "", false, err
		}
		ob = fresh
	}
	if ob.owner == nil || ob.ownerIsMember {
		return msg, false, nil
	}
	if err := c.addMember(ctx, g.PK, ob.owner.PK); err != nil {
		if integrations.IsNotFound(err) {
			// The user (or the group) vanished since the lookup; the next resync sees it.
			return notFoundMessage(email), false, nil
		}
		return "", false, err
	}
	return "", true, nil
}
