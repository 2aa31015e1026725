package ocissim

import (
	"encoding/json"
	"net/http"
)

// Unified role ids (oCIS services/graph/pkg/unifiedrole).
const (
	RoleSpaceViewer                = "a8d5fe5e-96e3-418d-825b-534dbdf22b99"
	RoleSpaceEditor                = "58c63c02-1d89-4572-916a-870abc5a1b7d"
	RoleSpaceEditorWithoutVersions = "3284f2d5-0070-4ad8-ac40-c247f7c1fb27"
	RoleManager                    = "312c0871-5ef7-4b3a-85b6-0e4074c64049"
	RoleViewer                     = "b1e2218d-eef8-4d4c-b82d-0f1a1b48f3b5"
	RoleEditor                     = "fb6c3e19-e378-47e5-b277-9732f9de6e21"
)

type roleDef struct {
	ID          string `json:"id"`
	Description string `json:"description"`
	DisplayName string `json:"displayName"`
	Weight      int    `json:"@libre.graph.weight"`
	spaceRoot   bool
}

// roles are the unified roles the simulator knows; only the space roles apply to a space root.
var roles = []roleDef{
	{ID: RoleSpaceViewer, DisplayName: "Can view", Description: "View and download.", Weight: 1, spaceRoot: true},
	{ID: RoleSpaceEditorWithoutVersions, DisplayName: "Can edit without versions", Description: "View, download, upload, edit, add and delete.", Weight: 2, spaceRoot: true},
	{ID: RoleSpaceEditor, DisplayName: "Can edit", Description: "View, download, upload, edit, add, delete including the history.", Weight: 3, spaceRoot: true},
	{ID: RoleManager, DisplayName: "Can manage", Description: "View, download, upload, edit, add, delete and manage members.", Weight: 4, spaceRoot: true},
	{ID: RoleViewer, DisplayName: "Can view", Description: "View and download.", Weight: 1},
	{ID: RoleEditor, DisplayName: "Can edit", Description: "View, download, upload, edit, add and delete.", Weight: 2},
}

func findRole(id string) (roleDef, bool) {
	for _, r := range roles {
		if r.ID == id {
			return r, true
		}
	}
	return roleDef{}, false
}

type identityOut struct {
	ID          string `json:"id"`
	DisplayName string `json:"displayName"`
}

// identitySetOut is the sharePointIdentitySet: one object holding a user or a group.
type identitySetOut struct {
	User  *identityOut `json:"user,omitempty"`
	Group *identityOut `json:"group,omitempty"`
}

type permissionOut struct {
	ID          string         `json:"id"`
	Roles       []string       `json:"roles"`
	GrantedToV2 identitySetOut `json:"grantedToV2"`
}

type permissionList struct {
	RolesAllowed   []roleDef       `json:"@libre.graph.permissions.roles.allowedValues"`
	ActionsAllowed []string        `json:"@libre.graph.permissions.actions.allowedValues"`
	Value          []permissionOut `json:"value"`
}

type permissionValue struct {
	Value []permissionOut `json:"value"`
}

// inviteIn is the driveItemInvite schema.
type inviteIn struct {
	Recipients []recipientIn `json:"recipients"`
	Roles      []string      `json:"roles"`
	Actions    []string      `json:"@libre.graph.permissions.actions"`
	Expiration *string       `json:"expirationDateTime"`
}

type recipientIn struct {
	ObjectID string `json:"objectId"`
	Type     string `json:"@libre.graph.recipient.type"`
}

// permissionIn is the permission schema, as UpdatePermissionSpaceRoot takes it.
type permissionIn struct {
	ID                  *string         `json:"id"`
	HasPassword         *bool           `json:"hasPassword"`
	ExpirationDateTime  *string         `json:"expirationDateTime"`
	CreatedDateTime     *string         `json:"createdDateTime"`
	GrantedToV2         json.RawMessage `json:"grantedToV2"`
	Link                json.RawMessage `json:"link"`
	Roles               []string        `json:"roles"`
	GrantedToIdentities json.RawMessage `json:"grantedToIdentities"`
	Actions             []string        `json:"@libre.graph.permissions.actions"`
	Invitation          json.RawMessage `json:"invitation"`
}

// spaceActions are the actions a manager holds on a space root.
var spaceActions = []string{
	"libre.graph/driveItem/permissions/create", "libre.graph/driveItem/children/create",
	"libre.graph/driveItem/standard/delete", "libre.graph/driveItem/path/read",
	"libre.graph/driveItem/quota/read", "libre.graph/driveItem/content/read",
	"libre.graph/driveItem/upload/create", "libre.graph/driveItem/permissions/read",
	"libre.graph/driveItem/children/read", "libre.graph/driveItem/versions/read",
	"libre.graph/driveItem/deleted/read", "libre.graph/driveItem/path/update",
	"libre.graph/driveItem/permissions/delete", "libre.graph/driveItem/deleted/delete",
	"libre.graph/driveItem/versions/update", "libre.graph/driveItem/deleted/update",
	"libre.graph/driveItem/basic/read", "libre.graph/driveItem/permissions/update",
	"libre.graph/driveItem/permissions/deny",
}

// renderGrant resolves a grant's identity; the caller holds s.mu.
func (s *Server) renderGrant(g Grant) permissionOut {
	p := permissionOut{ID: g.ID, Roles: []string{g.RoleID}}
	if g.GroupID != "" {
		name := ""
		if grp, ok := s.groups[g.GroupID]; ok {
			name = grp.DisplayName
		}
		p.GrantedToV2.Group = &identityOut{ID: g.GroupID, DisplayName: name}
		return p
	}
	name := ""
	if u, ok := s.users[g.UserID]; ok {
		name = u.displayName
	}
	p.GrantedToV2.User = &identityOut{ID: g.UserID, DisplayName: name}
	return p
}

// enabledDrive finds a space whose root can be accessed; a disabled space cannot be stat'ed, so
// it is as absent as a missing one. The caller holds s.mu.
func (s *Server) enabledDrive(id string) (*drive, *apiError) {
	d, ok := s.drives[id]
	if !ok || d.Disabled {
		return nil, errf(http.StatusNotFound, codeItemNotFound, "drive not found")
	}
	if d.DriveType != driveTypeProject {
		return nil, errf(http.StatusBadRequest, codeInvalidRequest, "unsupported space type")
	}
	return d, nil
}

func (s *Server) listPermissions(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	d, e := s.enabledDrive(r.PathValue("id"))
	if e != nil {
		writeError(w, e)
		return
	}
	out := permissionList{ActionsAllowed: spaceActions, Value: []permissionOut{}}
	for _, rd := range roles {
		if rd.spaceRoot {
			out.RolesAllowed = append(out.RolesAllowed, rd)
		}
	}
	for _, g := range d.grants {
		out.Value = append(out.Value, s.renderGrant(g))
	}
	writeJSON(w, http.StatusOK, out)
}

// invite follows oCIS SpaceRootInvite: only recipients[0] is processed, the role must be a
// space role, an unknown recipient is invalidRequest and an existing grant for the recipient is
// CS3 ALREADY_EXISTS, rendered nameAlreadyExists (409).
func (s *Server) invite(w http.ResponseWriter, r *http.Request) {
	var in inviteIn
	if err := decodeStrict(r, &in); err != nil {
		writeError(w, errf(http.StatusBadRequest, codeInvalidRequest, "invalid body schema definition: %v", err))
		return
	}
	if len(in.Recipients) == 0 {
		writeError(w, errf(http.StatusBadRequest, codeInvalidRequest, "recipients: at least one recipient is required"))
		return
	}
	if len(in.Roles) == 0 {
		writeError(w, errf(http.StatusBadRequest, codeInvalidRequest, "roles: a role is required (custom actions are not enabled)"))
		return
	}
	var roleID string
	for _, id := range in.Roles {
		rd, ok := findRole(id)
		if !ok {
			writeError(w, errf(http.StatusBadRequest, codeInvalidRequest, "unknown role: %s", id))
			return
		}
		if !rd.spaceRoot {
			writeError(w, errf(http.StatusBadRequest, codeInvalidRequest, "role not applicable to this resource"))
			return
		}
		roleID = rd.ID
	}
	rcpt := in.Recipients[0]

	s.mu.Lock()
	defer s.mu.Unlock()
	d, e := s.enabledDrive(r.PathValue("id"))
	if e != nil {
		writeError(w, e)
		return
	}
	var g Grant
	switch rcpt.Type {
	case "group":
		if _, ok := s.groups[rcpt.ObjectID]; !ok {
			writeError(w, errf(http.StatusBadRequest, codeInvalidRequest, "group not found: %s", rcpt.ObjectID))
			return
		}
		g = Grant{ID: "g:" + rcpt.ObjectID, GroupID: rcpt.ObjectID, RoleID: roleID}
	case "", "user":
		if _, ok := s.users[rcpt.ObjectID]; !ok {
			writeError(w, errf(http.StatusBadRequest, codeInvalidRequest, "user not found: %s", rcpt.ObjectID))
			return
		}
		g = Grant{ID: "u:" + rcpt.ObjectID, UserID: rcpt.ObjectID, RoleID: roleID}
	default:
		writeError(w, errf(http.StatusBadRequest, codeInvalidRequest, "unknown recipient type: %s", rcpt.Type))
		return
	}
	for _, have := range d.grants {
		if have.ID == g.ID {
			writeError(w, errf(http.StatusConflict, codeNameAlreadyExists, "grant already exists"))
			return
		}
	}
	d.grants = append(d.grants, g)
	writeJSON(w, http.StatusOK, permissionValue{Value: []permissionOut{s.renderGrant(g)}})
}

// updatePermission changes the role of a space-root grant (UpdatePermissionSpaceRoot).
func (s *Server) updatePermission(w http.ResponseWriter, r *http.Request) {
	var in permissionIn
	if err := decodeStrict(r, &in); err != nil {
		writeError(w, errf(http.StatusBadRequest, codeInvalidRequest, "invalid request body: %v", err))
		return
	}
	if len(in.Roles) != 1 {
		writeError(w, errf(http.StatusBadRequest, codeInvalidRequest, "exactly one role is required"))
		return
	}
	rd, ok := findRole(in.Roles[0])
	if !ok || !rd.spaceRoot {
		writeError(w, errf(http.StatusBadRequest, codeInvalidRequest, "role not applicable to this resource"))
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	d, e := s.enabledDrive(r.PathValue("id"))
	if e != nil {
		writeError(w, e)
		return
	}
	for i := range d.grants {
		if d.grants[i].ID == r.PathValue("perm") {
			d.grants[i].RoleID = rd.ID
			writeJSON(w, http.StatusOK, s.renderGrant(d.grants[i]))
			return
		}
	}
	writeError(w, errf(http.StatusNotFound, codeItemNotFound, "permission not found"))
}
