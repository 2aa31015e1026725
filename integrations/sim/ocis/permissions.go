package ocissim

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"
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
	// name is the role's name in a drive's root.permissions ("viewer", "editor", "manager").
	name string
	// spaceRoot marks the roles that apply to a project space root.
	spaceRoot bool
	// actions are what a member holding the role may do on the space root, in oCIS's order.
	actions []string
}

// Actions on a space root, as oCIS lists them for a member of each space role.
var (
	viewerActions = []string{
		"libre.graph/driveItem/path/read", "libre.graph/driveItem/quota/read",
		"libre.graph/driveItem/content/read", "libre.graph/driveItem/permissions/read",
		"libre.graph/driveItem/children/read", "libre.graph/driveItem/deleted/read",
		"libre.graph/driveItem/basic/read",
	}
	editorActions = []string{
		"libre.graph/driveItem/children/create", "libre.graph/driveItem/standard/delete",
		"libre.graph/driveItem/path/read", "libre.graph/driveItem/quota/read",
		"libre.graph/driveItem/content/read", "libre.graph/driveItem/upload/create",
		"libre.graph/driveItem/permissions/read", "libre.graph/driveItem/children/read",
		"libre.graph/driveItem/versions/read", "libre.graph/driveItem/deleted/read",
		"libre.graph/driveItem/path/update", "libre.graph/driveItem/versions/update",
		"libre.graph/driveItem/deleted/update", "libre.graph/driveItem/basic/read",
	}
	managerActions = []string{
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
)

// roles are the unified roles oCIS 7.1 enables by default (GRAPH_AVAILABLE_ROLES): three space
// roles and the file roles, which a space root refuses. "Space Editor without versions" exists
// but is not enabled, so it is as unknown as a made-up id.
var roles = []roleDef{
	{ID: RoleSpaceViewer, DisplayName: "Can view", Description: "View and download.", Weight: 1, name: "viewer", spaceRoot: true, actions: viewerActions},
	{ID: RoleSpaceEditor, DisplayName: "Can edit", Description: "View, download, upload, edit, add, delete including the history.", Weight: 2, name: "editor", spaceRoot: true, actions: editorActions},
	{ID: RoleManager, DisplayName: "Can manage", Description: "View, download, upload, edit, add, delete and manage members.", Weight: 3, name: "manager", spaceRoot: true, actions: managerActions},
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

// roleName is a role's name in a drive's root.permissions.
func roleName(id string) string {
	if r, ok := findRole(id); ok && r.name != "" {
		return r.name
	}
	return id
}

type identityOut struct {
	// UserType is "Member" for a directory user; groups carry none.
	UserType    string `json:"@libre.graph.userType,omitempty"`
	DisplayName string `json:"displayName"`
	ID          string `json:"id"`
}

// identitySetOut is the sharePointIdentitySet: one object holding a user or a group.
type identitySetOut struct {
	User  *identityOut `json:"user,omitempty"`
	Group *identityOut `json:"group,omitempty"`
}

type invitationOut struct {
	InvitedBy identitySetOut `json:"invitedBy"`
}

type permissionOut struct {
	ID          string         `json:"id"`
	Roles       []string       `json:"roles"`
	GrantedToV2 identitySetOut `json:"grantedToV2"`
	Invitation  *invitationOut `json:"invitation,omitempty"`
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

// identity resolves a grant's user or group; the caller holds s.mu. A deleted group's grant
// still shows the group's last name, as oCIS's identity cache does.
func (s *Server) identity(g Grant) identitySetOut {
	if g.GroupID != "" {
		name := s.formerGroups[g.GroupID]
		if grp, ok := s.groups[g.GroupID]; ok {
			name = grp.DisplayName
		}
		return identitySetOut{Group: &identityOut{ID: g.GroupID, DisplayName: name}}
	}
	return s.userIdentity(g.UserID)
}

func (s *Server) userIdentity(id string) identitySetOut {
	name := ""
	if u, ok := s.users[id]; ok {
		name = u.displayName
	}
	return identitySetOut{User: &identityOut{ID: id, DisplayName: name, UserType: "Member"}}
}

func (s *Server) renderGrant(g Grant) permissionOut {
	return permissionOut{ID: g.ID, Roles: []string{g.RoleID}, GrantedToV2: s.identity(g)}
}

// memberRole is the space role the service account holds on d through its own grant; ok is
// false when it is not a member. (The simulator's groups have no members, so membership
// through a group is not modelled.)
func (s *Server) memberRole(d *drive) (roleDef, bool) {
	for _, g := range d.grants {
		if g.UserID == s.serviceUser.id {
			return findRole(g.RoleID)
		}
	}
	return roleDef{}, false
}

// resourceID is how oCIS names a space root in errors: "<drive id>!<space id>".
func resourceID(d *drive) string { return d.ID + "!" + spaceID(d.ID) }

// spaceRoot finds a space whose root the service account may stat, as oCIS resolves a space
// root before a permissions call; the caller holds s.mu. A missing space is "getting space";
// a disabled one cannot be stat'ed; and a space the service account is not a member of cannot
// be stat'ed either, administrator or not: oCIS answers 404 even though GET /drives/{id}
// answers 200 (measured on 7.1).
func (s *Server) spaceRoot(id string) (*drive, roleDef, *apiError) {
	d, ok := s.drives[id]
	if !ok || d.Corrupt {
		return nil, roleDef{}, errf(http.StatusNotFound, codeItemNotFound, "getting space")
	}
	if d.Disabled {
		return d, roleDef{}, errf(http.StatusNotFound, codeItemNotFound, "stat: error: not found: %s", spaceID(d.ID))
	}
	role, member := s.memberRole(d)
	if !member {
		return d, roleDef{}, errf(http.StatusNotFound, codeItemNotFound, "stat: error: not found: %s", resourceID(d))
	}
	return d, role, nil
}

// listPermissions lists a space root's grants. The allowed values depend on the caller's own
// role: a viewer is offered only "Can view" and its read actions.
func (s *Server) listPermissions(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	d, mine, e := s.spaceRoot(r.PathValue("id"))
	if e != nil {
		writeError(w, e)
		return
	}
	out := permissionList{ActionsAllowed: mine.actions, Value: []permissionOut{}}
	for _, rd := range roles {
		if rd.spaceRoot && rd.Weight <= mine.Weight {
			out.RolesAllowed = append(out.RolesAllowed, rd)
		}
	}
	for _, g := range d.grants {
		out.Value = append(out.Value, s.renderGrant(g))
	}
	writeJSON(w, http.StatusOK, out)
}

// validationError renders a go-playground validator failure as oCIS does.
func validationError(field, tag string) string {
	return "Key: '" + field + "' Error:Field validation for '" + field[strings.LastIndex(field, ".")+1:] + "' failed on the '" + tag + "' tag"
}

// validateInvite applies oCIS's struct validation of a driveItemInvite: exactly one recipient
// with a user or group type, and either enabled roles or actions.
func validateInvite(in inviteIn) *apiError {
	var msgs []string
	if len(in.Recipients) != 1 {
		msgs = append(msgs, validationError("DriveItemInvite.Recipients", "len"))
	}
	for i, rc := range in.Recipients {
		if rc.Type != "user" && rc.Type != "group" {
			f := "DriveItemInvite.Recipients[" + strconv.Itoa(i) + "].LibreGraphRecipientType"
			msgs = append(msgs, validationError(f, "oneof"))
		}
	}
	switch {
	case len(in.Roles) == 0 && len(in.Actions) == 0:
		msgs = append(msgs, validationError("DriveItemInvite.Roles", "one_or_another"),
			validationError("DriveItemInvite.LibreGraphPermissionsActions", "one_or_another"))
	case len(in.Roles) > 0:
		for _, id := range in.Roles {
			if _, ok := findRole(id); !ok {
				msgs = append(msgs, validationError("DriveItemInvite.Roles", "available_role"))
				break
			}
		}
	}
	if len(msgs) > 0 {
		return errf(http.StatusBadRequest, codeInvalidRequest, "%s", strings.Join(msgs, "\n"))
	}
	return nil
}

// invite follows oCIS SpaceRootInvite (7.1): the body is decoded strictly and validated (one
// recipient, an enabled role), then the space is resolved and its root stat'ed (404 for a
// missing or disabled space and for a space the service account is not a member of), the role
// must apply to a space root, the recipient must exist (400 "itemNotFound: not found"), only a
// Manager may add grants (403), and an existing grant for the recipient is CS3 ALREADY_EXISTS,
// rendered nameAlreadyExists (409), whatever the role asked for.
func (s *Server) invite(w http.ResponseWriter, r *http.Request) {
	var in inviteIn
	if err := decodeStrict(r, &in); err != nil {
		writeError(w, errf(http.StatusBadRequest, codeInvalidRequest, "invalid request body"))
		return
	}
	if e := validateInvite(in); e != nil {
		writeError(w, e)
		return
	}
	if len(in.Roles) == 0 {
		// Custom action sets (no role) are accepted by oCIS but not modelled here.
		writeError(w, errf(http.StatusBadRequest, codeInvalidRequest, "roles: the simulator does not model custom actions"))
		return
	}
	roleID := in.Roles[len(in.Roles)-1]
	rcpt := in.Recipients[0]

	s.mu.Lock()
	defer s.mu.Unlock()
	// oCIS resolves the space and checks its type before it stats the root.
	d, mine, e := s.spaceRoot(r.PathValue("id"))
	if d != nil && d.DriveType != driveTypeProject {
		e = errf(http.StatusBadRequest, codeInvalidRequest, "unsupported space type")
	}
	if e != nil {
		writeError(w, e)
		return
	}
	if rd, _ := findRole(roleID); !rd.spaceRoot {
		writeError(w, errf(http.StatusBadRequest, codeInvalidRequest, "role not applicable to this resource"))
		return
	}
	var g Grant
	switch rcpt.Type {
	case "group":
		grp, ok := s.groups[rcpt.ObjectID]
		if !ok || time.Since(grp.created) < s.groupLag {
			writeError(w, errf(http.StatusBadRequest, codeInvalidRequest, "itemNotFound: not found"))
			return
		}
		g = Grant{ID: "g:" + rcpt.ObjectID, GroupID: rcpt.ObjectID, RoleID: roleID}
	default:
		if _, ok := s.users[rcpt.ObjectID]; !ok {
			writeError(w, errf(http.StatusBadRequest, codeInvalidRequest, "itemNotFound: not found"))
			return
		}
		g = Grant{ID: "u:" + rcpt.ObjectID, UserID: rcpt.ObjectID, RoleID: roleID}
	}
	if mine.ID != RoleManager {
		writeError(w, errf(http.StatusForbidden, codeAccessDenied, "add grant: error: permission denied: %s", resourceID(d)))
		return
	}
	for _, have := range d.grants {
		if have.ID == g.ID {
			writeError(w, errf(http.StatusConflict, codeNameAlreadyExists, "add grant: error: already exists: %s", d.Name))
			return
		}
	}
	d.grants = append(d.grants, g)
	p := s.renderGrant(g)
	p.Invitation = &invitationOut{InvitedBy: s.userIdentity(s.serviceUser.id)}
	writeJSON(w, http.StatusOK, permissionValue{Value: []permissionOut{p}})
}

// updatePermission changes the role of a space-root grant (UpdatePermissionSpaceRoot). At most
// one role; none leaves the grant as it is. Where the root cannot be stat'ed (not a member,
// disabled) oCIS fails with 500, and a member below Manager cannot commit the change (500).
func (s *Server) updatePermission(w http.ResponseWriter, r *http.Request) {
	var in permissionIn
	if err := decodeStrict(r, &in); err != nil {
		writeError(w, errf(http.StatusBadRequest, codeInvalidRequest, "invalid request body"))
		return
	}
	if len(in.Roles) > 1 {
		writeError(w, errf(http.StatusBadRequest, codeInvalidRequest, "%s", validationError("Permission.Roles", "max")))
		return
	}
	var rd roleDef
	if len(in.Roles) == 1 {
		var ok bool
		if rd, ok = findRole(in.Roles[0]); !ok {
			writeError(w, errf(http.StatusBadRequest, codeInvalidRequest, "%s", validationError("Permission.Roles", "available_role")))
			return
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	d, mine, e := s.spaceRoot(r.PathValue("id"))
	switch {
	case e != nil && d == nil:
		writeError(w, e)
		return
	case e != nil:
		writeError(w, errf(http.StatusInternalServerError, codeGeneralException, "unexpected status code while getting resource: CODE_NOT_FOUND"))
		return
	}
	if len(in.Roles) == 1 && !rd.spaceRoot {
		writeError(w, errf(http.StatusBadRequest, codeInvalidRequest, "role not applicable to this resource"))
		return
	}
	for i := range d.grants {
		if d.grants[i].ID != r.PathValue("perm") {
			continue
		}
		if len(in.Roles) == 1 {
			if mine.ID != RoleManager {
				writeError(w, errf(http.StatusInternalServerError, codeGeneralException, "error committing share to storage grant"))
				return
			}
			d.grants[i].RoleID = rd.ID
		}
		writeJSON(w, http.StatusOK, s.renderGrant(d.grants[i]))
		return
	}
	writeError(w, errf(http.StatusNotFound, codeItemNotFound, "error: not found: no shares found by id:opaque_id:%q", r.PathValue("perm")))
}

// deletePermission removes a space-root grant. oCIS answers a grant that is not there (already
// removed, or a root it cannot stat) with 500, not 404; a member below Manager gets 403.
func (s *Server) deletePermission(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	d, mine, e := s.spaceRoot(r.PathValue("id"))
	switch {
	case e != nil && d == nil:
		writeError(w, e)
		return
	case e != nil:
		writeError(w, errGrantToRemove)
		return
	}
	for i, g := range d.grants {
		if g.ID != r.PathValue("perm") {
			continue
		}
		if mine.ID != RoleManager {
			writeError(w, errf(http.StatusForbidden, codeAccessDenied, "remove grant: error: permission denied: %s", resourceID(d)))
			return
		}
		d.grants = append(d.grants[:i], d.grants[i+1:]...)
		w.WriteHeader(http.StatusNoContent)
		return
	}
	writeError(w, errGrantToRemove)
}

var errGrantToRemove = errf(http.StatusInternalServerError, codeGeneralException,
	"rpc error: code = Unknown desc = gateway: error getting grant to remove from storage")
