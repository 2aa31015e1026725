package ocis

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/dezky/platform-api/integrations"
)

const errAdoptSpace = "cannot adopt ocis space"

// Apply brings the tenant's space, group and grant to d, starting from what Observe found: it
// creates a missing space (with the marker, so a retry after a lost response finds it instead
// of making a second one), restores a disabled space, corrects name, marker and quota, keeps the
// space disabled while the tenant is suspended, and makes sure the tenant's group exists and
// holds the Manager role on it. A space carrying another tenant's marker is refused.
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
	if f := ob.foreign; f != nil {
		owner, _ := integrations.MarkerOwner(f.Description)
		return integrations.Observed{}, &integrations.Error{Kind: integrations.Permanent, Op: errAdoptSpace,
			Message: fmt.Sprintf("space %s carries the marker of tenant %s", f.ID, owner), Public: o.Message}
	}

	res := integrations.Observed{Action: integrations.ActionUnchanged, Message: o.Message}
	var sp drive
	switch {
	case ob.space == nil:
		created, err := c.createDrive(ctx, driveCreate{
			Name:        SpaceName(d.Name, d.Slug),
			DriveType:   driveTypeProject,
			Description: integrations.Marker(d.TenantID),
			Quota:       desiredQuota(d),
		})
		if err != nil {
			return integrations.Observed{}, err
		}
		sp, res.Action = created, integrations.ActionCreated
		// A new space has no grants: whatever was read about the old one no longer applies.
		ob.grant, ob.grantKnown = nil, true
	case ob.byMarker:
		// Ours by marker but not recorded (first sight, a lost create response, a stale id).
		// An unmarked space can only be the recorded one: rewriting its marker is an update.
		sp, res.Action = *ob.space, integrations.ActionAdopted
	default:
		sp = *ob.space
	}
	res.ExternalID = sp.ID

	changed, err := c.converge(ctx, d, sp, ob)
	if err != nil {
		return res, err
	}
	if changed && res.Action == integrations.ActionUnchanged {
		res.Action = integrations.ActionUpdated
	}
	return res, nil
}

// converge applies suspension, restores and corrects the space, then ensures the group's grant.
// It reports whether it changed anything upstream.
func (c *Client) converge(ctx context.Context, d integrations.Desired, sp drive, ob *observed) (bool, error) {
	if d.Suspended {
		// Suspension disables the space (no purge: resume restores it with its data).
		if sp.disabled() {
			return false, nil
		}
		return true, c.disableDrive(ctx, sp.ID)
	}
	changed := false
	if sp.disabled() {
		if err := c.restoreDrive(ctx, sp.ID); err != nil {
			return changed, err
		}
		changed = true
	}
	if upd, ok := desiredUpdate(sp, d); ok {
		if err := c.updateDrive(ctx, sp.ID, upd); err != nil {
			return changed, err
		}
		changed = true
	}
	g, created, err := c.ensureGroup(ctx, d.Slug, ob)
	if err != nil {
		return changed, err
	}
	granted, err := c.ensureManager(ctx, sp.ID, g.ID, ob, created)
	if err != nil {
		return changed, err
	}
	return changed || created || granted, nil
}

// desiredUpdate is the PATCH that brings sp to the desired name, marker and quota; ok is false
// when nothing differs.
func desiredUpdate(sp drive, d integrations.Desired) (driveUpdate, bool) {
	var u driveUpdate
	ok := false
	if name := SpaceName(d.Name, d.Slug); sp.Name != name {
		u.Name = &name
		ok = true
	}
	if integrations.OwnerOfText(sp.Description, d.TenantID) != integrations.Ours {
		// Reached only for an unmarked space (a foreign marker stops Apply): keep what a
		// person wrote there and add the marker.
		desc := strings.TrimSpace(sp.Description + " " + integrations.Marker(d.TenantID))
		u.Description = &desc
		ok = true
	}
	if q := desiredQuota(d); q != nil && sp.quotaTotal() != q.Total {
		u.Quota = q
		ok = true
	}
	return u, ok
}

// ensureGroup returns the group named GroupPrefix+slug (exact displayName), creating it when
// Observe found none. The slug is unique across tenants, so a group of that exact name is the
// tenant's own. created reports whether this call made it.
func (c *Client) ensureGroup(ctx context.Context, slug string, ob *observed) (g group, created bool, err error) {
	name := GroupName(c.groupPrefix, slug)
	if ob.groupKnown && ob.group != nil {
		return *ob.group, false, nil
	}
	if !ob.groupKnown {
		found, err := c.findGroup(ctx, name)
		if err != nil {
			return group{}, false, err
		}
		if found != nil {
			return *found, false, nil
		}
	}
	g, err = c.createGroup(ctx, name)
	if err == nil {
		return g, true, nil
	}
	if !isStatus(err, http.StatusConflict) {
		return group{}, false, err
	}
	// nameAlreadyExists: another worker created it between our search and our create.
	found, ferr := c.findGroup(ctx, name)
	if ferr != nil {
		return group{}, false, ferr
	}
	if found == nil {
		// The directory compares names without case: "Tenant-Acme" blocks "tenant-acme".
		return group{}, false, integrations.ConflictError(errCreateGroup,
			fmt.Sprintf("file server group name %q is taken by a group whose name differs only in case", name))
	}
	return *found, false, nil
}

// ensureManager makes sure groupID holds the Manager role on the space root: nothing when it
// does, the role raised when the group holds another one, else one invite. What Observe read
// is used when it is about this group; a group created just now has no grant yet. granted
// reports a change.
func (c *Client) ensureManager(ctx context.Context, driveID, groupID string, ob *observed, newGroup bool) (granted bool, err error) {
	var grant *permission
	switch {
	case newGroup:
	case ob.grantKnown && ob.group != nil && ob.group.ID == groupID && ob.space != nil && ob.space.ID == driveID:
		grant = ob.grant
	default:
		root, err := c.readRoot(ctx, driveID)
		if err != nil {
			return false, err
		}
		grant = root.grantOf(groupID)
	}
	if grant != nil {
		if slices.Contains(grant.Roles, RoleManager) {
			return false, nil
		}
		return true, c.setPermissionRole(ctx, driveID, grant.ID, RoleManager)
	}
	err = c.inviteGroup(ctx, driveID, groupID, RoleManager)
	switch {
	case err == nil:
		return true, nil
	case isStatus(err, http.StatusConflict):
		// The grant appeared since we listed (another worker): what we wanted exists.
		return false, nil
	case isStatus(err, http.StatusBadRequest) && strings.Contains(errMessage(err), codeItemNotFound):
		return false, identityLag(err)
	}
	return false, c.rootError(ctx, driveID, err)
}

// identityLag marks an invite refused for an unknown recipient as retryable. The group was
// just found or created by name, so it exists: oCIS's sharing resolves recipients through an
// identity cache that, in a multi-replica installation, may not know a group another replica
// created moments ago, and answers 400 "itemNotFound: not found" until it does.
func identityLag(err error) error {
	var e *integrations.Error
	if !errors.As(err, &e) {
		return err
	}
	lag := *e
	lag.Kind = integrations.Retryable
	lag.Message = "the group is not yet known to oCIS sharing (" + e.Message + "); retrying"
	return &lag
}
