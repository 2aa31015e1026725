package ocissim

// GrantGroup gives a group roleID on a space root out of band, as a space manager would in the
// web UI (replacing the group's role if it already has one); benchmarks seed large fleets with
// it. It reports whether the space and the group exist.
func (s *Server) GrantGroup(driveID, groupID, roleID string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	d, ok := s.drives[driveID]
	if _, known := s.groups[groupID]; !ok || !known {
		return false
	}
	for i := range d.grants {
		if d.grants[i].GroupID == groupID {
			d.grants[i].RoleID = roleID
			return true
		}
	}
	d.grants = append(d.grants, Grant{ID: "g:" + groupID, GroupID: groupID, RoleID: roleID})
	return true
}
