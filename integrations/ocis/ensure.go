package ocis

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/dezky/platform-api/integrations"
)

const (
	errDesired      = "invalid desired state for ocis"
	errForeignSpace = "ocis space belongs to another tenant"
)

// msgSuspended is the step's message while the tenant is suspended.
const msgSuspended = "space disabled while the tenant is suspended"

// observation is where the tenant's space was found, if anywhere.
type observation struct {
	space *drive
	// byMarker is true when the space was found through its marker, not the recorded id.
	byMarker bool
	// extra counts further spaces carrying this tenant's marker (left alone, they may hold data).
	extra int
}

// Ensure finds or creates the tenant's project space, keeps its name, marker and quota as
// desired, keeps it disabled while the tenant is suspended and enabled otherwise, and makes sure
// the tenant's group exists and holds the Manager role on it.
//
// A create whose response was lost leaves a marked space behind; the next Ensure finds it by
// marker before it would create, so a retry never makes a second space. A space is never taken
// over by name: names are not unique in oCIS and say nothing about ownership.
func (c *Client) Ensure(ctx context.Context, d integrations.Desired) (integrations.Observed, error) {
	if err := checkDesired(d); err != nil {
		return integrations.Observed{}, err
	}
	ob, err := c.observe(ctx, d)
	if err != nil {
		return integrations.Observed{}, err
	}

	obs := integrations.Observed{Action: integrations.ActionUnchanged}
	var sp drive
	switch {
	case ob.space == nil:
		sp, err = c.createDrive(ctx, driveCreate{
			Name:        SpaceName(d.Name, d.Slug),
			DriveType:   driveTypeProject,
			Description: integrations.Marker(d.TenantID),
			Quota:       desiredQuota(d),
		})
		if err != nil {
			return integrations.Observed{}, err
		}
		obs.Action = integrations.ActionCreated
	case ob.byMarker:
		// Ours by marker but not recorded (first sight, a lost create response, a stale id).
		sp = *ob.space
		obs.Action = integrations.ActionAdopted
	default:
		sp = *ob.space
	}
	obs.ExternalID = sp.ID
	if ob.extra > 0 {
		obs.Message = fmt.Sprintf("%d more ocis spaces carry this tenant's marker; using %s", ob.extra, sp.ID)
	}

	changed, err := c.converge(ctx, d, sp, &obs)
	if err != nil {
		return obs, err
	}
	if changed && obs.Action == integrations.ActionUnchanged {
		obs.Action = integrations.ActionUpdated
	}
	return obs, nil
}

// converge applies suspension, restores and corrects the space, then ensures the group's grant.
// It reports whether it changed anything upstream.
func (c *Client) converge(ctx context.Context, d integrations.Desired, sp drive, obs *integrations.Observed) (bool, error) {
	if d.Suspended {
		// Suspension disables the space (no purge: resume restores it with its data). Drift is
		// corrected on resume, when the space can be used again.
		obs.Message = joinMessage(obs.Message, msgSuspended)
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
	g, created, err := c.ensureGroup(ctx, d.Slug)
	if err != nil {
		return changed, err
	}
	granted, err := c.ensureManager(ctx, sp.ID, g.ID)
	if err != nil {
		return changed, err
	}
	return changed || created || granted, nil
}

// observe looks for the tenant's space: by the recorded drive id first (404 falls through, as an
// id may be stale after an out-of-band purge), else by this tenant's marker among all project
// spaces. A recorded id that now names another tenant's space is a permanent error: nothing is
// changed and an operator must look.
func (c *Client) observe(ctx context.Context, d integrations.Desired) (observation, error) {
	if d.ExternalID != "" {
		sp, err := c.getDrive(ctx, d.ExternalID)
		switch {
		case err == nil && sp.DriveType == driveTypeProject:
			if owner, ok := integrations.MarkerOwner(sp.Description); ok && !strings.EqualFold(owner, d.TenantID) {
				return observation{}, integrations.PermanentError(errForeignSpace,
					fmt.Sprintf("space %s carries the marker of tenant %s", sp.ID, owner))
			}
			return observation{space: &sp}, nil
		case err == nil, integrations.IsNotFound(err):
		default:
			return observation{}, err
		}
	}
	ours, err := c.markedDrives(ctx, d.TenantID)
	if err != nil || len(ours) == 0 {
		return observation{}, err
	}
	return observation{space: &ours[0], byMarker: true, extra: len(ours) - 1}, nil
}

// markedDrives lists the project spaces carrying tenantID's marker, the preferred one first:
// enabled before disabled, then by id so that the choice is stable between reconciles.
func (c *Client) markedDrives(ctx context.Context, tenantID string) ([]drive, error) {
	all, err := c.listProjectDrives(ctx)
	if err != nil {
		return nil, err
	}
	var ours []drive
	for _, sp := range all {
		if owner, ok := integrations.MarkerOwner(sp.Description); ok && strings.EqualFold(owner, tenantID) {
			ours = append(ours, sp)
		}
	}
	sort.Slice(ours, func(i, j int) bool {
		if ours[i].disabled() != ours[j].disabled() {
			return !ours[i].disabled()
		}
		return ours[i].ID < ours[j].ID
	})
	return ours, nil
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
	if owner, found := integrations.MarkerOwner(sp.Description); !found || !strings.EqualFold(owner, d.TenantID) {
		// Reached only for an unmarked space (a foreign marker stopped observe): keep what a
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

// desiredQuota is the quota to set; a zero StorageQuotaBytes leaves oCIS's default alone.
func desiredQuota(d integrations.Desired) *quotaTotal {
	if d.StorageQuotaBytes <= 0 {
		return nil
	}
	return &quotaTotal{Total: d.StorageQuotaBytes}
}

// checkDesired refuses values that would make the marker match other tenants' spaces.
func checkDesired(d integrations.Desired) error {
	if d.Slug == "" {
		return integrations.PermanentError(errDesired, "slug is empty")
	}
	if d.TenantID == "" || strings.IndexFunc(d.TenantID, func(r rune) bool {
		return !(r >= '0' && r <= '9' || r >= 'a' && r <= 'f' || r >= 'A' && r <= 'F')
	}) >= 0 {
		return integrations.PermanentError(errDesired, fmt.Sprintf("tenant id %q is not a hex object id", d.TenantID))
	}
	return nil
}

func joinMessage(a, b string) string {
	if a == "" {
		return b
	}
	return a + "; " + b
}
