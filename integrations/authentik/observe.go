package authentik

import (
	"context"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"github.com/dezky/platform-api/integrations"
)

// Group attributes the step owns. Everything else in attributes belongs to someone else and is
// preserved.
const (
	// AttrTenantSlug holds the tenant's slug, to trace a group back to its tenant by eye.
	AttrTenantSlug = "dezkyTenantSlug"
	// AttrTenantID holds the tenant's metadata.uid, bare, as the Node service wrote it (the
	// "Mongo id"); the attribute's name already says what it holds. A value in the marker form
	// ("dezky:tenant:<id>", written by earlier builds) reads as the same tenant.
	AttrTenantID = "dezkyTenantId"
	// AttrSuspended mirrors spec.suspended, for Authentik policies to deny a suspended
	// tenant's members.
	AttrSuspended = "dezkySuspended"
)

// Drift fields this step reports (docs/ARCHITECTURE.md, "Drift fields").
const (
	FieldGroup      = integrations.FieldGroup
	FieldAttributes = integrations.FieldAttributes
	FieldOwner      = integrations.FieldOwner
	FieldSuspended  = integrations.FieldSuspended
)

// notMember is the Got of an owner drift.
const notMember = "not a member"

// observed is what Observe read, handed to Apply through Observation.Object.
type observed struct {
	// group is the tenant's group; nil when none was found.
	group *group
	// owner is the owner's Authentik account when one was found by email; nil otherwise (no
	// email, no account, or several accounts: see ownerNote).
	owner *user
	// ownerIsMember is true when owner is known to be in the group.
	ownerIsMember bool
}

// ownerOf reads the dezkyTenantId attribute: the bare id, or the marker form earlier builds
// wrote. A non-string value is treated as foreign: claiming a group on a guess could hand one
// tenant's members another tenant's group.
func ownerOf(attrs map[string]any, tenantID string) integrations.Owner {
	v, ok := attrs[AttrTenantID]
	if !ok || v == nil {
		return integrations.Unmarked
	}
	s, isString := v.(string)
	if !isString {
		return integrations.Foreign
	}
	s = strings.TrimSpace(s)
	if s == "" {
		return integrations.Unmarked
	}
	id, found := integrations.MarkerOwner(s)
	if !found {
		id = s
	}
	if id != "" && strings.EqualFold(id, tenantID) {
		return integrations.Ours
	}
	return integrations.Foreign
}

// desiredAttrs are the attributes the step maintains on the tenant's group.
func desiredAttrs(d integrations.Desired) map[string]any {
	return map[string]any{
		AttrTenantSlug: d.Slug,
		AttrTenantID:   d.TenantID,
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

// Observe finds the tenant's group (recorded UUID, else exact name), reads its attributes and
// checks that the owner's account is a member. A stable tenant found by its recorded UUID costs
// one request: the group comes with its members' emails (users_obj). An owner without an
// Authentik account is not drift (nothing here can create one): the observation carries a
// message and the next resync looks again. It makes no write.
func (c *Client) Observe(ctx context.Context, d integrations.Desired) (integrations.Observation, error) {
	if err := checkDesired(d); err != nil {
		return integrations.Observation{}, err
	}
	name := c.GroupName(d.Slug)
	g, _, err := c.findGroup(ctx, d.ExternalID, name, true)
	if err != nil {
		return integrations.Observation{}, err
	}
	ob := &observed{group: g}
	o, drift := compareGroup(d, name, g)
	o.Object = ob
	if g == nil || o.Owner == integrations.Foreign {
		return o, nil
	}
	msg, err := c.observeOwner(ctx, d, ob)
	if err != nil {
		return integrations.Observation{}, err
	}
	if ob.owner != nil && !ob.ownerIsMember {
		drift.Add(FieldOwner, strings.TrimSpace(d.OwnerEmail), notMember)
	}
	o.Message, o.Drift = msg, drift
	return o, nil
}

// compareGroup compares the group found for d (nil: none) with what d wants, all but the
// owner's membership, which needs the owner's account. Live Observe and the listing's snapshot
// share it, so both answer alike.
func compareGroup(d integrations.Desired, name string, g *group) (integrations.Observation, integrations.DriftBuilder) {
	var o integrations.Observation
	var drift integrations.DriftBuilder
	if g == nil {
		drift.Add(FieldGroup, name, integrations.Missing)
		o.Drift = drift
		return o, drift
	}
	o.Exists, o.ExternalID, o.Owner = true, g.PK, ownerOf(g.Attributes, d.TenantID)
	if o.Owner == integrations.Foreign {
		o.Message = fmt.Sprintf(msgForeignGroup, g.Name)
		return o, nil
	}
	drift.String(FieldGroup, name, g.Name)
	if !sameAttr(g.Attributes, AttrTenantID, d.TenantID) || !sameAttr(g.Attributes, AttrTenantSlug, d.Slug) {
		drift.Add(FieldAttributes, attrText(d.TenantID, d.Slug),
			attrText(attrString(g.Attributes[AttrTenantID]), attrString(g.Attributes[AttrTenantSlug])))
	}
	if !sameAttr(g.Attributes, AttrSuspended, d.Suspended) {
		drift.Add(FieldSuspended, strconv.FormatBool(d.Suspended), attrString(g.Attributes[AttrSuspended]))
	}
	o.Drift = drift
	return o, drift
}

// observeOwner decides whether the owner is a member of ob.group. When the group came with
// users_obj (found by recorded pk) and lists the owner's email, nothing else is called.
// Otherwise the owner is looked up by exact email. An owner without an Authentik account, or an
// email shared by several active accounts, is reported in the message and not as drift:
// guessing which account is the owner could let a stranger in.
func (c *Client) observeOwner(ctx context.Context, d integrations.Desired, ob *observed) (msg string, err error) {
	email := strings.TrimSpace(d.OwnerEmail)
	if email == "" {
		return "", nil
	}
	for _, m := range ob.group.UsersObj {
		if strings.EqualFold(m.Email, email) {
			ob.owner, ob.ownerIsMember = &user{PK: m.PK, Email: m.Email}, true
			return "", nil
		}
	}
	users, err := c.usersByEmail(ctx, email)
	if err != nil {
		return "", err
	}
	u, msg := pickOwner(users, email)
	if u == nil {
		return msg, nil
	}
	ob.owner = u
	// Without users_obj (found by name), the member pks decide; when the server left them out
	// too, membership is unknown and add_user, a set-add, is simply repeated.
	ob.ownerIsMember = slices.Contains(ob.group.Users, u.PK)
	return "", nil
}

// pickOwner chooses the owner's account among the users with the owner's email: the only one,
// else the only active one.
func pickOwner(users []user, email string) (*user, string) {
	switch len(users) {
	case 0:
		return nil, notFoundMessage(email)
	case 1:
		return &users[0], ""
	}
	var active []*user
	for i := range users {
		if users[i].IsActive {
			active = append(active, &users[i])
		}
	}
	if len(active) == 1 {
		return active[0], ""
	}
	return nil, fmt.Sprintf("%d identity provider accounts have the email %s; owner not added to the group", len(users), email)
}

func notFoundMessage(email string) string {
	return fmt.Sprintf("owner %s has no identity provider account yet; membership is retried on the next resync", email)
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

// sameAttr compares one attribute with its desired value. dezkyTenantId compares by the tenant
// it names, so the marker form of earlier builds is not drift (no mass rewrite of every group
// after an upgrade); Apply writes the bare id whenever it patches the group for another reason.
func sameAttr(attrs map[string]any, key string, want any) bool {
	got, ok := attrs[key]
	if !ok {
		return false
	}
	if key == AttrTenantID {
		s, isString := got.(string)
		return isString && ownerOf(map[string]any{key: s}, want.(string)) == integrations.Ours
	}
	return reflect.DeepEqual(got, want)
}

func attrText(id, slug string) string {
	return AttrTenantID + "=" + id + ", " + AttrTenantSlug + "=" + slug
}

// attrString renders an attribute value for a drift entry; "missing" when absent.
func attrString(v any) string {
	if v == nil {
		return integrations.Missing
	}
	if s, ok := v.(string); ok {
		return s
	}
	return fmt.Sprint(v)
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
