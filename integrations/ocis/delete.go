package ocis

import (
	"context"
	"log/slog"

	"github.com/dezky/platform-api/integrations"
)

// Delete tears the tenant down in oCIS: every space it owns (the recorded one and all carrying
// its marker) is disabled, then purged; then its group is removed. Anything already gone is
// success. A recorded id that now names another tenant's space is skipped, never deleted, and
// does not keep the tenant from being deleted.
func (c *Client) Delete(ctx context.Context, d integrations.Desired) error {
	if err := checkDesired(d); err != nil {
		return err
	}
	var targets []drive
	if d.ExternalID != "" {
		sp, err := c.getDrive(ctx, d.ExternalID)
		switch {
		case err == nil && sp.DriveType == driveTypeProject:
			if integrations.OwnerOfText(sp.Description, d.TenantID) == integrations.Foreign {
				c.log.LogAttrs(ctx, slog.LevelWarn, "recorded ocis space belongs to another tenant; not deleting it",
					slog.String("drive", sp.ID), slog.String("description", sp.Description))
			} else {
				targets = append(targets, sp)
			}
		case err == nil, integrations.IsNotFound(err):
		default:
			return err
		}
	}
	marked, err := c.markedDrives(ctx, d.TenantID)
	if err != nil {
		return err
	}
	for _, sp := range marked {
		if len(targets) == 0 || sp.ID != targets[0].ID {
			targets = append(targets, sp)
		}
	}
	for _, sp := range targets {
		if err := c.removeDrive(ctx, sp); err != nil {
			return err
		}
	}
	// The group goes last, once no space grants it anything.
	g, err := c.findGroup(ctx, GroupName(c.groupPrefix, d.Slug))
	if err != nil || g == nil {
		return err
	}
	if err := c.deleteGroup(ctx, g.ID); err != nil && !integrations.IsNotFound(err) {
		return err
	}
	return nil
}

// removeDrive disables sp unless it already is, then purges it: oCIS refuses to purge an
// enabled space.
func (c *Client) removeDrive(ctx context.Context, sp drive) error {
	if !sp.disabled() {
		if err := c.disableDrive(ctx, sp.ID); err != nil {
			if integrations.IsNotFound(err) {
				return nil
			}
			return err
		}
	}
	if err := c.purgeDrive(ctx, sp.ID); err != nil && !integrations.IsNotFound(err) {
		return err
	}
	return nil
}
