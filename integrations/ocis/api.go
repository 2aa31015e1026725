package ocis

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
)

// RoleManager is the unified role "Manager" (can manage) on a project space.
const RoleManager = "312c0871-5ef7-4b3a-85b6-0e4074c64049"

// projectRoles maps the role names a drive listing shows to the unified role ids the
// permissions API uses (the three roles a project root offers).
var projectRoles = map[string]string{
	"viewer":  "a8d5fe5e-96e3-418d-825b-534dbdf22b99",
	"editor":  "58c63c02-1d89-4572-916a-870abc5a1b7d",
	"manager": RoleManager,
}

const (
	driveTypeProject = "project"
	stateTrashed     = "trashed"
	// headerTrue is what oCIS parses with strconv.ParseBool for the Restore and Purge headers.
	headerTrue = "T"
)

const (
	errGetSpace        = "cannot get ocis space"
	errListSpaces      = "cannot list ocis spaces"
	errCreateSpace     = "cannot create ocis space"
	errUpdateSpace     = "cannot update ocis space"
	errRestoreSpace    = "cannot restore ocis space"
	errDisableSpace    = "cannot disable ocis space"
	errPurgeSpace      = "cannot purge ocis space"
	errFindGroup       = "cannot find ocis group"
	errCreateGroup     = "cannot create ocis group"
	errDeleteGroup     = "cannot delete ocis group"
	errListPermissions = "cannot list ocis space permissions"
	errInvite          = "cannot grant ocis group access to space"
	errSetRole         = "cannot change ocis group role on space"
)

// drive is the part of the libre-graph drive resource the step reads.
type drive struct {
	ID          string `json:"id"`
	Name        string `json:"name"`
	DriveType   string `json:"driveType"`
	Description string `json:"description"`
	Quota       *struct {
		Total *int64 `json:"total"`
	} `json:"quota"`
	Root struct {
		Deleted *struct {
			State string `json:"state"`
		} `json:"deleted"`
		// Permissions are the space's members (driveItem.permissions, declared read-only in
		// the document); oCIS lists them in the drives listing too, with the project roles by
		// name ("viewer", "editor", "manager") rather than by id.
		Permissions []permission `json:"permissions"`
	} `json:"root"`
}

// disabled reports a space deleted without Purge: oCIS still lists it, marked trashed.
func (d drive) disabled() bool { return d.Root.Deleted != nil && d.Root.Deleted.State == stateTrashed }

func (d drive) quotaTotal() int64 {
	if d.Quota == nil || d.Quota.Total == nil {
		return 0
	}
	return *d.Quota.Total
}

type driveList struct {
	Value []drive `json:"value"`
}

type quotaTotal struct {
	Total int64 `json:"total"`
}

// driveCreate is the CreateDrive body. The document marks driveType and quota read-only, yet
// its own CreateDrive example sends quota.total and oCIS reads both (see the report).
type driveCreate struct {
	Name        string      `json:"name"`
	DriveType   string      `json:"driveType"`
	Description string      `json:"description"`
	Quota       *quotaTotal `json:"quota,omitempty"`
}

// driveUpdate is the UpdateDrive (driveUpdate) body: only what differs is sent.
type driveUpdate struct {
	Name        *string     `json:"name,omitempty"`
	Description *string     `json:"description,omitempty"`
	Quota       *quotaTotal `json:"quota,omitempty"`
}

type group struct {
	ID          string `json:"id"`
	DisplayName string `json:"displayName"`
}

type groupList struct {
	Value []group `json:"value"`
}

type groupCreate struct {
	DisplayName string `json:"displayName"`
}

type identity struct {
	ID          string `json:"id"`
	DisplayName string `json:"displayName"`
}

type identitySet struct {
	User  *identity `json:"user"`
	Group *identity `json:"group"`
}

// grantee is a permission's grantedToV2. The schema (sharePointIdentitySet) and oCIS say it is
// one object; the document's examples show a one-element array. Both are read.
type grantee identitySet

// UnmarshalJSON reads grantedToV2 as an object or as the first element of an array.
func (g *grantee) UnmarshalJSON(b []byte) error {
	if t := strings.TrimSpace(string(b)); strings.HasPrefix(t, "[") {
		var many []identitySet
		if err := json.Unmarshal(b, &many); err != nil {
			return err
		}
		if len(many) > 0 {
			*g = grantee(many[0])
		}
		return nil
	}
	return json.Unmarshal(b, (*identitySet)(g))
}

type permission struct {
	ID          string   `json:"id"`
	Roles       []string `json:"roles"`
	GrantedToV2 grantee  `json:"grantedToV2"`
}

// permissionList is a space root's collectionOfPermissionsWithAllowedValues.
type permissionList struct {
	// RolesAllowed are the roles the caller may hand out on this root. oCIS offers a member only
	// the roles up to its own (a viewer sees "Can view" alone), so it tells whether the service
	// account may grant Manager.
	RolesAllowed []struct {
		ID string `json:"id"`
	} `json:"@libre.graph.permissions.roles.allowedValues"`
	Value []permission `json:"value"`
}

// spaceRoot is what the service account can read of a space root.
type spaceRoot struct {
	perms []permission
	// canGrantManager reports whether the service account may give the Manager role, that is,
	// whether it is itself a Manager of the space.
	canGrantManager bool
}

// grantOf returns groupID's permission on the root, nil when it has none.
func (r spaceRoot) grantOf(groupID string) *permission {
	for _, p := range r.perms {
		if p.GrantedToV2.Group != nil && p.GrantedToV2.Group.ID == groupID {
			return &p
		}
	}
	return nil
}

type recipient struct {
	Type     string `json:"@libre.graph.recipient.type"`
	ObjectID string `json:"objectId"`
}

type invite struct {
	Recipients []recipient `json:"recipients"`
	Roles      []string    `json:"roles"`
}

type permissionRoles struct {
	Roles []string `json:"roles"`
}

func drivePath(id string) string { return "/v1.0/drives/" + url.PathEscape(id) }

func rootPath(id string) string { return "/v1beta1/drives/" + url.PathEscape(id) + "/root" }

func (c *Client) getDrive(ctx context.Context, id string) (drive, error) {
	var d drive
	err := c.do(ctx, request{op: errGetSpace, method: http.MethodGet, path: drivePath(id), out: &d})
	return d, err
}

// listProjectDrives lists every project space, disabled ones included. The list is not paged
// and $filter takes only one eq on driveType or id, so markers are matched here.
func (c *Client) listProjectDrives(ctx context.Context) ([]drive, error) {
	var l driveList
	err := c.do(ctx, request{
		op: errListSpaces, method: http.MethodGet, path: "/v1.0/drives",
		query: url.Values{"$filter": {"driveType eq '" + driveTypeProject + "'"}},
		out:   &l,
	})
	out := l.Value[:0]
	for _, d := range l.Value {
		// Belt and braces: a server ignoring the filter must not make us touch other drives.
		if d.DriveType == driveTypeProject {
			out = append(out, d)
		}
	}
	return out, err
}

func (c *Client) createDrive(ctx context.Context, body driveCreate) (drive, error) {
	var d drive
	err := c.do(ctx, request{op: errCreateSpace, method: http.MethodPost, path: "/v1.0/drives", body: body, out: &d})
	return d, err
}

func (c *Client) updateDrive(ctx context.Context, id string, body driveUpdate) error {
	return c.do(ctx, request{op: errUpdateSpace, method: http.MethodPatch, path: drivePath(id), body: body})
}

// restoreDrive re-enables a disabled space: PATCH with "Restore: T" and an empty update.
func (c *Client) restoreDrive(ctx context.Context, id string) error {
	return c.do(ctx, request{
		op: errRestoreSpace, method: http.MethodPatch, path: drivePath(id),
		header: http.Header{"Restore": {headerTrue}}, body: driveUpdate{},
	})
}

func (c *Client) disableDrive(ctx context.Context, id string) error {
	return c.do(ctx, request{op: errDisableSpace, method: http.MethodDelete, path: drivePath(id)})
}

func (c *Client) purgeDrive(ctx context.Context, id string) error {
	return c.do(ctx, request{
		op: errPurgeSpace, method: http.MethodDelete, path: drivePath(id),
		header: http.Header{"Purge": {headerTrue}},
	})
}

// findGroup returns the group whose displayName is exactly name, nil when there is none.
// $search is a substring search, so "tenant-acme" also returns "tenant-acme-2".
func (c *Client) findGroup(ctx context.Context, name string) (*group, error) {
	var l groupList
	err := c.do(ctx, request{
		op: errFindGroup, method: http.MethodGet, path: "/v1.0/groups",
		query: url.Values{"$search": {`"` + name + `"`}},
		out:   &l,
	})
	if err != nil {
		return nil, err
	}
	for _, g := range l.Value {
		if g.DisplayName == name {
			return &g, nil
		}
	}
	return nil, nil
}

func (c *Client) createGroup(ctx context.Context, name string) (group, error) {
	var g group
	err := c.do(ctx, request{op: errCreateGroup, method: http.MethodPost, path: "/v1.0/groups",
		body: groupCreate{DisplayName: name}, out: &g})
	return g, err
}

func (c *Client) deleteGroup(ctx context.Context, id string) error {
	return c.do(ctx, request{op: errDeleteGroup, method: http.MethodDelete, path: "/v1.0/groups/" + url.PathEscape(id)})
}

func (c *Client) listPermissions(ctx context.Context, driveID string) (spaceRoot, error) {
	var l permissionList
	err := c.do(ctx, request{op: errListPermissions, method: http.MethodGet, path: rootPath(driveID) + "/permissions", out: &l})
	root := spaceRoot{perms: l.Value}
	for _, r := range l.RolesAllowed {
		if r.ID == RoleManager {
			root.canGrantManager = true
		}
	}
	return root, err
}

// inviteGroup grants role on the space root to one group (oCIS 7.1 takes exactly one recipient,
// with its type).
func (c *Client) inviteGroup(ctx context.Context, driveID, groupID, role string) error {
	return c.do(ctx, request{op: errInvite, method: http.MethodPost, path: rootPath(driveID) + "/invite",
		body: invite{
			Recipients: []recipient{{Type: "group", ObjectID: groupID}},
			Roles:      []string{role},
		}})
}

func (c *Client) setPermissionRole(ctx context.Context, driveID, permID, role string) error {
	return c.do(ctx, request{op: errSetRole, method: http.MethodPatch,
		path: rootPath(driveID) + "/permissions/" + url.PathEscape(permID),
		body: permissionRoles{Roles: []string{role}}})
}
