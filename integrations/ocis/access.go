package ocis

import (
	"context"
	"fmt"
	"net/http"
	"slices"

	"github.com/dezky/platform-api/integrations"
)

// ensureGroup finds the group named GroupPrefix+slug (exact displayName) or creates it. The
// slug is unique across tenants, so a group of that exact name is the tenant's own. created
// reports whether this call made it.
func (c *Client) ensureGroup(ctx context.Context, slug string) (g group, created bool, err error) {
	name := GroupName(c.groupPrefix, slug)
	found, err := c.findGroup(ctx, name)
	if err != nil {
		return group{}, false, err
	}
	if found != nil {
		return *found, false, nil
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
		return group{}, false, integrations.PermanentError(errCreateGroup,
			fmt.Sprintf("group name %q is taken by a group whose name differs only in case", name))
	}
	return *found, false, nil
}

// ensureManager makes sure groupID holds the Manager role on the space root: nothing when it
// does, the role raised when the group holds another one, else one invite. granted reports a
// change.
func (c *Client) ensureManager(ctx context.Context, driveID, groupID string) (granted bool, err error) {
	perms, err := c.listPermissions(ctx, driveID)
	if err != nil {
		return false, err
	}
	for _, p := range perms {
		if p.GrantedToV2.Group == nil || p.GrantedToV2.Group.ID != groupID {
			continue
		}
		if slices.Contains(p.Roles, RoleManager) {
			return false, nil
		}
		return true, c.setPermissionRole(ctx, driveID, p.ID, RoleManager)
	}
	err = c.inviteGroup(ctx, driveID, groupID, RoleManager)
	if isStatus(err, http.StatusConflict) {
		// The grant appeared since we listed (another worker): what we wanted exists.
		return false, nil
	}
	return err == nil, err
}
