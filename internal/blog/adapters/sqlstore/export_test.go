package sqlstore

// SetSearchBounds lowers MaxSearchMatches and SearchWindowRows for a test,
// so that a few articles exercise them.
func (s *Store) SetSearchBounds(maxMatches, window int) {
	s.maxMatches, s.searchWindow = maxMatches, window
}
