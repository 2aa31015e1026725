package authentik

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"strings"

	"github.com/dezky/platform-api/integrations"
)

// Group attributes the step owns. Everything else in attributes belongs to someone else and is
// preserved.
const (
	// AttrTenantSlug holds the tenant's slug, to trace a group back to its tenant by eye.
	AttrTenantSlug = "dezkyTenantSlug"
	// AttrTenantID holds the ownership marker integrations.Marker(tenant id).
	AttrTenantID = "dezkyTenantId"
	// AttrSuspended mirrors spec.suspended, for Authentik policies to deny a suspended
	// tenant's members.
	AttrSuspended = "dezkySuspended"
)

// ownership says whose group a group is, from its dezkyTenantId attribute.
type ownership int

const (
	unmarked ownership = iota // no dezky id at all: may be adopted
	ours                      // this tenant's marker (or its bare id)
	foreign                   // another tenant's, or a value we cannot read: never touched
)

// ownerOf reads the dezkyTenantId attribute. The step writes the full marker
// ("dezky:tenant:<id>"); a bare id is accepted too, since the attribute's name already says
// what it holds. A non-string value is treated as foreign: claiming a group on a guess could
// hand one tenant's members another tenant's group.
func ownerOf(attrs map[string]any, tenantID string) ownership {
	v, ok := attrs[AttrTenantID]
	if !ok || v == nil {
		return unmarked
	}
	s, isString := v.(string)
	if !isString {
		return foreign
	}
	s = strings.TrimSpace(s)
	if s == "" {
		return unmarked
	}
	id, found := integrations.MarkerOwner(s)
	if !found {
		id = s
	}
	if id != "" && strings.EqualFold(id, tenantID) {
		return ours
	}
	return foreign
}

// desiredAttrs are the attributes the step maintains on the tenant's group.
func desiredAttrs(d integrations.Desired) map[string]any {
	return map[string]any{
		AttrTenantSlug: d.Slug,
		AttrTenantID:   integrations.Marker(d.TenantID),
		AttrSuspended:  d.Suspended,
	}
}

// checkDesired refuses a Desired value no group can be derived from; only a spec change fixes it.
func checkDesired(d integrations.Desired) error {
	switch {
	case strings.TrimSpace(d.Slug) == "":
		return integrations.PermanentError(errDesired, "slug is empty")
	case strings.TrimSpace(d.TenantID) == "":
		return integrations.PermanentError(errDesired, "tenant id is empty")
	}
	return nil
}

// Ensure implements integrations.Step. It observes the group (recorded UUID, else exact name),
// creates it when missing, refuses a group carrying another tenant's marker (permanent error,
// nothing changed), adopts an unmarked one by writing the marker, patches name and attributes
// that drifted, then makes sure the owner is a member. An owner without an Authentik account is
// not an error: the step succeeds with a message and the next resync tries again.
func (c *Client) Ensure(ctx context.Context, d integrations.Desired) (integrations.Observed, error) {
	if err := checkDesired(d); err != nil {
		return integrations.Observed{}, err
	}
	name := c.GroupName(d.Slug)
	g, _, err := c.findGroup(ctx, d.ExternalID, name, true)
	if err != nil {
		return integrations.Observed{}, err
	}
	action := integrations.ActionUnchanged
	if g == nil {
		if g, action, err = c.create(ctx, d, name); err != nil {
			return integrations.Observed{}, err
		}
	}

	switch ownerOf(g.Attributes, d.TenantID) {
	case foreign:
		return integrations.Observed{}, integrations.PermanentError(errAdoptGroup,
			fmt.Sprintf("group %q carries another tenant's marker", g.Name))
	case unmarked:
		c.log.DebugContext(ctx, "adopting unmarked authentik group", "group", g.Name, "pk", g.PK)
		action = integrations.ActionAdopted
	}

	if patch := drift(g, d, name); len(patch) > 0 {
		updated, err := c.patchGroup(ctx, g.PK, patch)
		if err != nil {
			return integrations.Observed{}, err
		}
		g = updated
		if action == integrations.ActionUnchanged {
			action = integrations.ActionUpdated
		}
	}

	msg, added, err := c.ensureOwner(ctx, d, g)
	if err != nil {
		return integrations.Observed{}, err
	}
	if added && action == integrations.ActionUnchanged {
		action = integrations.ActionUpdated
	}
	return integrations.Observed{ExternalID: g.PK, Action: action, Message: msg}, nil
}

// Delete implements integrations.Step. It deletes the group found by the recorded UUID (unless
// it carries another tenant's marker), else the group with the tenant's name only if it carries
// this tenant's marker: an unmarked or foreign group of that name was never ours. Nothing found
// is success.
func (c *Client) Delete(ctx context.Context, d integrations.Desired) error {
	if err := checkDesired(d); err != nil {
		return err
	}
	g, byID, err := c.findGroup(ctx, d.ExternalID, c.GroupName(d.Slug), false)
	if err != nil || g == nil {
		return err
	}
	switch ownerOf(g.Attributes, d.TenantID) {
	case foreign:
		c.log.DebugContext(ctx, "not deleting authentik group with another tenant's marker", "group", g.Name, "pk", g.PK)
		return nil
	case unmarked:
		if !byID {
			c.log.DebugContext(ctx, "not deleting unmarked authentik group", "group", g.Name, "pk", g.PK)
			return nil
		}
	}
	return c.deleteGroup(ctx, g.PK)
}

// findGroup looks for the tenant's group: first by the recorded pk (a 404 or an id that is not
// a UUID falls through), then by exact name. byID reports which lookup found it. Nil when none.
func (c *Client) findGroup(ctx context.Context, externalID, name string, includeUsers bool) (g *group, byID bool, err error) {
	if id := strings.TrimSpace(externalID); id != "" {
		if isUUID(id) {
			g, err := c.getGroup(ctx, id, includeUsers)
			switch {
			case err == nil:
				return g, true, nil
			case !integrations.IsNotFound(err):
				return nil, false, err
			}
		} else {
			c.log.DebugContext(ctx, "recorded authentik group id is not a UUID; looking up by name", "externalId", id)
		}
	}
	g, err = c.groupByName(ctx, name)
	return g, false, err
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

// drift returns the PATCH body that brings g to the desired name and attributes: only the
// fields that differ. attributes is replaced as a whole by Authentik, so the patch carries the
// group's current attributes with ours corrected, keeping keys others added.
func drift(g *group, d integrations.Desired, name string) map[string]any {
	patch := map[string]any{}
	if g.Name != name {
		patch["name"] = name
	}
	merged := make(map[string]any, len(g.Attributes)+3)
	for k, v := range g.Attributes {
		merged[k] = v
	}
	changed := false
	for k, want := range desiredAttrs(d) {
		if got, ok := merged[k]; !ok || !reflect.DeepEqual(got, want) {
			merged[k] = want
			changed = true
		}
	}
	if changed {
		patch["attributes"] = merged
	}
	return patch
}

// isUUID reports whether s is a canonical 8-4-4-4-12 hex UUID, the only form the API document
// declares for group_uuid.
func isUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i, r := range s {
		switch i {
		case 8, 13, 18, 23:
			if r != '-' {
				return false
			}
		default:
			if !(r >= '0' && r <= '9' || r >= 'a' && r <= 'f' || r >= 'A' && r <= 'F') {
				return false
			}
		}
	}
	return true
}
