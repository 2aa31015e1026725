package ocis

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strings"

	"github.com/dezky/platform-api/integrations"
)

const errDesired = "invalid desired state for ocis"

// Drift fields this step reports (docs/ARCHITECTURE.md, "Drift fields").
const (
	FieldSpace       = integrations.FieldSpace
	FieldName        = integrations.FieldName
	FieldDescription = integrations.FieldDescription
	FieldQuota       = integrations.FieldQuota
	FieldEnabled     = integrations.FieldEnabled
	FieldGroup       = integrations.FieldGroup
	FieldGrant       = integrations.FieldGrant
)

// roleManagerName is how a drift entry names the Manager role.
const roleManagerName = "Manager"

// Messages of this step, safe to show a tenant owner.
const (
	msgSuspended  = "space disabled while the tenant is suspended"
	msgExtra      = "%d more ocis spaces carry this tenant's marker; using %s"
	msgForeign    = "the recorded file space %s belongs to another tenant; an operator must look"
	msgNoMemberOf = "the service account is not a member of file space %s; a space manager must add it as Manager"
	msgNoManager  = "the service account is a member of file space %s but not its Manager; a space manager must make it Manager"
)

// observed is what Observe read, handed to Apply through Observation.Object so that Apply acts
// on the same objects without reading them again.
type observed struct {
	// space is the tenant's project space; nil when none was found.
	space *drive
	// byMarker is true when the space was found through its marker, not the recorded id: a
	// first sight, a lost create response or a stale id. Apply then reports an adoption.
	byMarker bool
	// extra counts further spaces carrying this tenant's marker (left alone: they may hold data).
	extra int
	// group is the tenant's oCIS group; nil when it does not exist or was not looked up.
	group      *group
	groupKnown bool
	// grant is the group's permission on the space root; nil when it has none or it was not
	// looked up (grantKnown).
	grant      *permission
	grantKnown bool
	// foreign is the recorded space when it now carries another tenant's marker.
	foreign *drive
}

// Observe finds the tenant's project space (by the recorded drive id, else by this tenant's
// marker among all project spaces; never by name: names are not unique in oCIS and say nothing
// about ownership), its oCIS group and the group's grant on the space, and lists what differs.
// While the tenant is suspended only the space's enabled state is compared: the rest is
// corrected on resume, when the space can be used again. It makes no write.
func (c *Client) Observe(ctx context.Context, d integrations.Desired) (integrations.Observation, error) {
	if err := checkDesired(d); err != nil {
		return integrations.Observation{}, err
	}
	ob, err := c.findSpace(ctx, d)
	if err != nil {
		return integrations.Observation{}, err
	}
	if ob.foreign == nil && !(d.Suspended && ob.space != nil) {
		if err := c.observeAccess(ctx, d, ob); err != nil {
			return integrations.Observation{}, err
		}
	}
	o := compareSpace(d, GroupName(c.groupPrefix, d.Slug), ob)
	o.Object = ob
	return o, nil
}

// compareSpace compares what was found for d (ob) with what d wants. Live Observe and the
// listing's snapshot share it, so both answer alike.
func compareSpace(d integrations.Desired, groupName string, ob *observed) integrations.Observation {
	if foreign := ob.foreign; foreign != nil {
		return integrations.Observation{Exists: true, ExternalID: foreign.ID, Owner: integrations.Foreign,
			Message: fmt.Sprintf(msgForeign, foreign.ID)}
	}
	var o integrations.Observation
	var drift integrations.DriftBuilder
	if sp := ob.space; sp == nil {
		drift.Add(FieldSpace, SpaceName(d.Name, d.Slug), integrations.Missing)
	} else {
		o.Exists, o.ExternalID = true, sp.ID
		o.Owner = integrations.OwnerOfText(sp.Description, d.TenantID)
		if ob.extra > 0 {
			o.Message = fmt.Sprintf(msgExtra, ob.extra, sp.ID)
		}
		drift.Bool(FieldEnabled, !d.Suspended, !sp.disabled())
		if d.Suspended {
			o.Message = joinMessage(o.Message, msgSuspended)
			o.Drift = drift
			return o
		}
		spaceDrift(&drift, *sp, d)
	}
	switch {
	case ob.group == nil:
		drift.Add(FieldGroup, groupName, integrations.Missing)
		drift.Add(FieldGrant, roleManagerName, integrations.Missing)
	case ob.space == nil:
		drift.Add(FieldGrant, roleManagerName, integrations.Missing)
	case !ob.grantKnown:
		// A disabled space's root cannot be read: its grant is checked once it is restored.
	case ob.grant == nil:
		drift.Add(FieldGrant, roleManagerName, integrations.Missing)
	case !slices.Contains(ob.grant.Roles, RoleManager):
		drift.Add(FieldGrant, roleManagerName, strings.Join(ob.grant.Roles, ","))
	}
	o.Drift = drift
	return o
}

// spaceDrift compares the space's own fields with d.
func spaceDrift(drift *integrations.DriftBuilder, sp drive, d integrations.Desired) {
	drift.String(FieldName, SpaceName(d.Name, d.Slug), sp.Name)
	if integrations.OwnerOfText(sp.Description, d.TenantID) != integrations.Ours {
		drift.Add(FieldDescription, integrations.Marker(d.TenantID), sp.Description)
	}
	if q := desiredQuota(d); q != nil && sp.quotaTotal() != q.Total {
		drift.Int(FieldQuota, q.Total, sp.quotaTotal())
	}
}

// observeAccess reads the space root, when the space exists and is enabled, then looks up the
// tenant's group and its grant there. The root is read first, whether or not the group exists,
// so that a space the service account cannot manage stops the step before Apply writes
// anything. A disabled space's root cannot be read (oCIS answers 404), so its grant is left for
// Apply to check once the space is restored.
func (c *Client) observeAccess(ctx context.Context, d integrations.Desired, ob *observed) error {
	var root spaceRoot
	readable := ob.space != nil && !ob.space.disabled()
	if readable {
		var err error
		if root, err = c.readRoot(ctx, ob.space.ID); err != nil {
			return err
		}
	}
	g, err := c.findGroup(ctx, GroupName(c.groupPrefix, d.Slug))
	if err != nil {
		return err
	}
	ob.group, ob.groupKnown = g, true
	if g != nil && readable {
		ob.grant, ob.grantKnown = root.grantOf(g.ID), true
	}
	return nil
}

// readRoot lists a space root's permissions and makes sure the service account may manage them.
func (c *Client) readRoot(ctx context.Context, driveID string) (spaceRoot, error) {
	root, err := c.listPermissions(ctx, driveID)
	if err != nil {
		return spaceRoot{}, c.rootError(ctx, driveID, err)
	}
	if !root.canGrantManager {
		return spaceRoot{}, accessError(errListPermissions, driveID, msgNoManager, nil)
	}
	return root, nil
}

// rootError explains a failed call on a space root (list, invite). oCIS answers 404 there for
// a space the service account is not a member of, administrator or not, while GET /drives/{id}
// still answers 200 (measured on oCIS 7.1), and 403 to a member below Manager. Neither heals by
// retrying: only a space manager can add the service account, so both become permanent errors
// that say so and name the space. A 404 for a space that is really gone (or was disabled
// meanwhile) stays what it was: the next reconcile sees the space as it is now.
func (c *Client) rootError(ctx context.Context, driveID string, err error) error {
	var e *integrations.Error
	switch {
	case !errors.As(err, &e):
		return err
	case e.Status == http.StatusForbidden:
		return accessError(e.Op, driveID, msgNoManager, e)
	case e.Kind != integrations.NotFound:
		return err
	}
	sp, gerr := c.getDrive(ctx, driveID)
	switch {
	case integrations.IsNotFound(gerr):
		return err
	case gerr != nil:
		return gerr
	case sp.disabled():
		return err
	}
	return accessError(e.Op, driveID, msgNoMemberOf, e)
}

// accessError is the permanent error of a space the service account cannot manage: msg (with
// the space id) is what the operator must do, shown to owners as it is and, followed by the
// upstream's answer, to operators.
func accessError(op, driveID, msg string, cause *integrations.Error) error {
	public := fmt.Sprintf(msg, driveID)
	e := &integrations.Error{Kind: integrations.Permanent, Op: op, Message: public, Public: public}
	if cause != nil {
		e.Status = cause.Status
		e.Message = public + " (" + cause.Message + ")"
	}
	return e
}

// findSpace looks for the tenant's space: by the recorded drive id first (a 404 falls through,
// as an id may be stale after an out-of-band purge), else by this tenant's marker among all
// project spaces. A recorded id that now names another tenant's space is returned as foreign:
// nothing may be changed and an operator must look.
func (c *Client) findSpace(ctx context.Context, d integrations.Desired) (*observed, error) {
	ob := &observed{}
	if d.ExternalID != "" {
		sp, err := c.getDrive(ctx, d.ExternalID)
		switch {
		case err == nil && sp.DriveType == driveTypeProject:
			if integrations.OwnerOfText(sp.Description, d.TenantID) == integrations.Foreign {
				ob.foreign = &sp
			} else {
				ob.space = &sp
			}
			return ob, nil
		case err == nil, integrations.IsNotFound(err):
		default:
			return nil, err
		}
	}
	ours, err := c.markedDrives(ctx, d.TenantID)
	if err != nil {
		return nil, err
	}
	if len(ours) > 0 {
		ob.space, ob.byMarker, ob.extra = &ours[0], true, len(ours)-1
	}
	return ob, nil
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
		if integrations.OwnerOfText(sp.Description, tenantID) == integrations.Ours {
			ours = append(ours, sp)
		}
	}
	sort.Slice(ours, func(i, j int) bool { return preferred(&ours[i], &ours[j]) })
	return ours, nil
}

// preferred orders a tenant's marked spaces: enabled before disabled, then by id, so the choice
// is stable between reconciles.
func preferred(a, b *drive) bool {
	if a.disabled() != b.disabled() {
		return !a.disabled()
	}
	return a.ID < b.ID
}

// sortPreferred sorts spaces with preferred.
func sortPreferred(list []*drive) {
	sort.Slice(list, func(i, j int) bool { return preferred(list[i], list[j]) })
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
