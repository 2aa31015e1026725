package authentik

import (
	"context"

	"github.com/dezky/platform-api/integrations"
)

// Delete implements integrations.Step. It deletes the group found by the recorded UUID (unless
// it carries another tenant's marker), else the group with the tenant's name only if it carries
// this tenant's marker: an unmarked or foreign group of that name was never ours and is left
// alone, which counts as torn down. Nothing found is success.
func (c *Client) Delete(ctx context.Context, d integrations.Desired) error {
	if err := checkDesired(d); err != nil {
		return err
	}
	g, byID, err := c.findGroup(ctx, d.ExternalID, c.GroupName(d.Slug), false)
	if err != nil || g == nil {
		return err
	}
	switch ownerOf(g.Attributes, d.TenantID) {
	case integrations.Foreign:
		c.log.InfoContext(ctx, "not deleting authentik group with another tenant's marker", "group", g.Name, "pk", g.PK)
		return nil
	case integrations.Unmarked:
		if !byID {
			c.log.InfoContext(ctx, "not deleting unmarked authentik group", "group", g.Name, "pk", g.PK)
			return nil
		}
	}
	return c.deleteGroup(ctx, g.PK)
}
