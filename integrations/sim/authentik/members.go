package authentiksim

// AddMemberOutOfBand adds a user to the named group as an administrator would in the web UI
// (benchmarks seed large fleets with it). It reports whether the group exists.
func (s *Server) AddMemberOutOfBand(name string, userPK int) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	g := s.groupNamed(name)
	if g == nil {
		return false
	}
	g.users[userPK] = true
	return true
}
