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
	Created  time.Time
	Modified time.Time
}

// Group is a copy of one simulated oCIS group.
type Group struct {
	ID          string
	DisplayName string
}

// Grant is one permission on a space root: a user or group holding a unified role.
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
	out := make([]Drive, 0, len(s.drives))
	for _, d := range s.orderedDrives() {
		out = append(out, d.Drive)
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

// DriveCount counts the spaces not purged, disabled ones included.
func (s *Server) DriveCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.drives)
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
		out = append(out, *g)
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
	g := &Group{ID: newUUID(), DisplayName: displayName}
	s.groups[g.ID] = g
	return *g, nil
}

// AddUser seeds a directory user (a possible invite recipient) and returns its id.
func (s *Server) AddUser(displayName string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	u := &user{id: newUUID(), displayName: displayName}
	s.users[u.id] = u
	return u.id
}

// CreateDriveOutOfBand creates a project space as someone else would (a person in the web UI,
// another tool), e.g. a same-named space or one carrying another tenant's marker.
func (s *Server) CreateDriveOutOfBand(name, description string) Drive {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.newDrive(name, description, 0, "").Drive
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

// DeleteGroup removes a group out of band, with its grants.
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

// newDrive stores a project space; the caller holds s.mu. creatorID, when set, receives the
// Manager grant oCIS gives the creator of a project space.
func (s *Server) newDrive(name, description string, quota int64, creatorID string) *drive {
	spaceID := newUUID()
	now := time.Now().UTC()
	d := &drive{Drive: Drive{
		// oCIS drive ids are "<storage id>$<space id>".
		ID:          s.storageID + "$" + spaceID,
		Name:        name,
		Description: description,
		DriveType:   driveTypeProject,
		QuotaTotal:  quota,
		Created:     now,
		Modified:    now,
	}}
	if creatorID != "" {
		d.grants = append(d.grants, Grant{ID: "u:" + creatorID, UserID: creatorID, RoleID: RoleManager})
	}
	s.seq++
	s.created[d.ID] = s.seq
	s.drives[d.ID] = d
	return d
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

func (s *Server) deleteGroup(id string) bool {
	if _, ok := s.groups[id]; !ok {
		return false
	}
	delete(s.groups, id)
	for _, d := range s.drives {
		kept := d.grants[:0]
		for _, g := range d.grants {
			if g.GroupID != id {
				kept = append(kept, g)
			}
		}
		d.grants = kept
	}
	return true
}
