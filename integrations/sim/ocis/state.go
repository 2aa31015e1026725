package ocissim

import (
	"crypto/rand"
	"fmt"
	"sort"
	"time"
)

// Drive is a copy of one simulated space, for test assertions.
type Drive struct {
	ID          string
	Name        string
	Description string
	DriveType   string
	DriveAlias  string
	QuotaTotal  int64
	// Disabled is true for a space that was deleted without Purge (root.deleted.state "trashed").
	Disabled bool
	// Corrupt is true after a PATCH with a negative quota other than -1: oCIS then answers 500
	// and hides the space (GET 404, absent from listings) until a valid quota is set.
	Corrupt  bool
	Created  time.Time
	Modified time.Time
}

// Group is a copy of one simulated oCIS group.
type Group struct {
	ID          string
	DisplayName string
}

// Grant is one permission on a space root: a user or group holding a unified role. The
// grants of a space are its members.
type Grant struct {
	// ID is the permission id oCIS gives space-root grants: "u:<user id>" or "g:<group id>".
	ID      string
	GroupID string
	UserID  string
	RoleID  string
}

type drive struct {
	Drive
	grants []Grant
}

type user struct {
	id          string
	displayName string
}

type group struct {
	Group
	created time.Time
}

// newUUID returns a random RFC 4122 version 4 UUID, the shape of every oCIS id.
func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

// Drives returns every project space not purged (disabled ones included), oldest first.
func (s *Server) Drives() []Drive {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Drive
	for _, d := range s.orderedDrives() {
		if d.DriveType == driveTypeProject {
			out = append(out, d.Drive)
		}
	}
	return out
}

// Drive returns one space by id.
func (s *Server) Drive(id string) (Drive, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	d, ok := s.drives[id]
	if !ok {
		return Drive{}, false
	}
	return d.Drive, true
}

// DriveCount counts the project spaces not purged, disabled ones included.
func (s *Server) DriveCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, d := range s.drives {
		if d.DriveType == driveTypeProject {
			n++
		}
	}
	return n
}

// Grants returns the permissions on a space's root, in the order they were granted.
func (s *Server) Grants(driveID string) []Grant {
	s.mu.Lock()
	defer s.mu.Unlock()
	d, ok := s.drives[driveID]
	if !ok {
		return nil
	}
	return append([]Grant(nil), d.grants...)
}

// Groups returns every group, sorted by display name.
func (s *Server) Groups() []Group {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Group, 0, len(s.groups))
	for _, g := range s.groups {
		out = append(out, g.Group)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].DisplayName < out[j].DisplayName })
	return out
}

// AddGroup seeds a group as an administrator would create it; the name must be free.
func (s *Server) AddGroup(displayName string) (Group, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.groupByName(displayName) != nil {
		return Group{}, fmt.Errorf("group %q already exists", displayName)
	}
	return s.newGroup(displayName).Group, nil
}

// AddUser seeds a directory user (a possible invite recipient) and returns its id.
func (s *Server) AddUser(displayName string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	u := &user{id: newUUID(), displayName: displayName}
	s.users[u.id] = u
	return u.id
}

// OtherAdminID is the directory id of a second administrator ("admin"), the identity that
// creates spaces out of band. The service account is not a member of its spaces.
func (s *Server) OtherAdminID() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.otherAdmin.id
}

// CreateDriveOutOfBand creates a project space as another administrator would (a person in
// the web UI, another tool), e.g. a same-named space or one carrying another tenant's marker.
// That administrator is its only member (Manager): like real oCIS, the simulator then answers
// 404 on the space's root permissions and invite for the service account, while the drive
// itself can still be read, changed, disabled and purged. GrantUser(id, ServiceUserID(),
// RoleManager) makes the service account a member.
func (s *Server) CreateDriveOutOfBand(name, description string) Drive {
	return s.CreateDriveAs(s.OtherAdminID(), name, description)
}

// CreateDriveAs creates a project space as the directory user creatorID would, with the
// default quota; the creator becomes its Manager. With ServiceUserID() it is a space the
// service account made itself (an earlier deployment, a create whose response was lost).
func (s *Server) CreateDriveAs(creatorID, name, description string) Drive {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.newDrive(name, description, s.opts.DefaultQuota, "", creatorID).Drive
}

// GrantUser gives a directory user roleID on a space root out of band, as a space manager
// would in the web UI (replacing the user's role if it already has one). It reports whether
// the space and the user exist.
func (s *Server) GrantUser(driveID, userID, roleID string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	d, ok := s.drives[driveID]
	if _, known := s.users[userID]; !ok || !known {
		return false
	}
	for i := range d.grants {
		if d.grants[i].UserID == userID {
			d.grants[i].RoleID = roleID
			return true
		}
	}
	d.grants = append(d.grants, Grant{ID: "u:" + userID, UserID: userID, RoleID: roleID})
	return true
}

// SetGroupLookupLag makes invites naming a group created less than lag ago fail as unknown
// recipients (400 invalidRequest "itemNotFound: not found"), as a multi-replica oCIS does while
// its identity cache catches up with a group another replica just created. Zero turns it off.
func (s *Server) SetGroupLookupLag(lag time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.groupLag = lag
}

// DeleteDrive purges a space out of band, whatever its state. It reports whether it existed.
func (s *Server) DeleteDrive(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.drives[id]; !ok {
		return false
	}
	delete(s.drives, id)
	delete(s.created, id)
	return true
}

// DisableDrive disables a space out of band, as a space manager's "disable" would.
func (s *Server) DisableDrive(id string) bool {
	return s.mutateDrive(id, func(d *drive) { d.Disabled = true })
}

// SetQuota changes a space's quota out of band.
func (s *Server) SetQuota(id string, bytes int64) bool {
	return s.mutateDrive(id, func(d *drive) { d.QuotaTotal = bytes })
}

// SetName renames a space out of band.
func (s *Server) SetName(id, name string) bool {
	return s.mutateDrive(id, func(d *drive) { d.Name = name })
}

// SetDescription changes a space's description out of band (e.g. someone removes the marker).
func (s *Server) SetDescription(id, description string) bool {
	return s.mutateDrive(id, func(d *drive) { d.Description = description })
}

// RevokeGroup removes a group's grant from a space root out of band.
func (s *Server) RevokeGroup(driveID, groupID string) bool {
	found := false
	s.mutateDrive(driveID, func(d *drive) {
		kept := d.grants[:0]
		for _, g := range d.grants {
			if g.GroupID == groupID {
				found = true
				continue
			}
			kept = append(kept, g)
		}
		d.grants = kept
	})
	return found
}

// SetGroupRole changes the role of a group's existing grant out of band.
func (s *Server) SetGroupRole(driveID, groupID, roleID string) bool {
	found := false
	s.mutateDrive(driveID, func(d *drive) {
		for i := range d.grants {
			if d.grants[i].GroupID == groupID {
				d.grants[i].RoleID = roleID
				found = true
			}
		}
	})
	return found
}

// DeleteGroup removes a group out of band. Its grants stay on the spaces, as in oCIS.
func (s *Server) DeleteGroup(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.deleteGroup(id)
}

func (s *Server) mutateDrive(id string, f func(*drive)) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	d, ok := s.drives[id]
	if !ok {
		return false
	}
	f(d)
	d.Modified = time.Now().UTC()
	return true
}

// newDrive stores a space; the caller holds s.mu. The creator receives the Manager grant oCIS
// gives the creator of a project space. An empty alias gets oCIS's default template,
// "<type>/<name with spaces as dashes, lower case>" (the alias does not follow later renames).
func (s *Server) newDrive(name, description string, quota int64, alias, creatorID string) *drive {
	spaceID := newUUID()
	now := time.Now().UTC()
	if alias == "" {
		alias = defaultAlias(driveTypeProject, name)
	}
	d := &drive{Drive: Drive{
		// oCIS drive ids are "<storage id>$<space id>".
		ID:          s.storageID + "$" + spaceID,
		Name:        name,
		Description: description,
		DriveType:   driveTypeProject,
		DriveAlias:  alias,
		QuotaTotal:  quota,
		Created:     now,
		Modified:    now,
	}}
	d.grants = append(d.grants, Grant{ID: "u:" + creatorID, UserID: creatorID, RoleID: RoleManager})
	s.addDrive(d)
	return d
}

// addDrive stores d in creation order; the caller holds s.mu.
func (s *Server) addDrive(d *drive) {
	s.seq++
	s.created[d.ID] = s.seq
	s.drives[d.ID] = d
}

// newPersonalDrive is the personal space oCIS makes for a user on first login; its space id is
// the user id. The caller holds s.mu.
func (s *Server) newPersonalDrive(u *user) {
	now := time.Now().UTC()
	d := &drive{Drive: Drive{
		ID:         s.storageID + "$" + u.id,
		Name:       u.displayName,
		DriveType:  driveTypePersonal,
		DriveAlias: defaultAlias(driveTypePersonal, u.displayName),
		Created:    now,
		Modified:   now,
	}}
	d.grants = []Grant{{ID: "u:" + u.id, UserID: u.id, RoleID: RoleManager}}
	s.addDrive(d)
}

// orderedDrives lists drives in creation order; the caller holds s.mu.
func (s *Server) orderedDrives() []*drive {
	out := make([]*drive, 0, len(s.drives))
	for _, d := range s.drives {
		out = append(out, d)
	}
	sort.Slice(out, func(i, j int) bool { return s.created[out[i].ID] < s.created[out[j].ID] })
	return out
}

func (s *Server) newGroup(name string) *group {
	g := &group{Group: Group{ID: newUUID(), DisplayName: name}, created: time.Now()}
	s.groups[g.ID] = g
	return g
}

// deleteGroup removes a group from the directory; the caller holds s.mu. oCIS keeps the
// group's grants on every space (they still show the group's last name), so a new group of the
// same name gets a second grant beside the old one.
func (s *Server) deleteGroup(id string) bool {
	g, ok := s.groups[id]
	if !ok {
		return false
	}
	delete(s.groups, id)
	s.formerGroups[id] = g.DisplayName
	return true
}
