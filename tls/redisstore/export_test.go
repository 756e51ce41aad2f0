package redisstore

// stopRenewal ends the renewal of the named lease without unlocking it,
// as if the holding process had frozen or died.
func (s *Storage) stopRenewal(name string) {
	if l := s.held(name); l != nil {
		l.halt()
	}
}
