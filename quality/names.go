package quality

import "strings"

// nameSet is a set of lower-case names (domains, bundles, sellers).
type nameSet map[string]struct{}

func newNameSet(names []string, fold bool) nameSet {
	if len(names) == 0 {
		return nil
	}
	s := make(nameSet, len(names))
	for _, n := range names {
		if fold {
			n = strings.TrimSuffix(strings.ToLower(n), ".")
		}
		s[n] = struct{}{}
	}
	return s
}

// has reports whether s holds name exactly.
func (s nameSet) has(name string) bool {
	_, ok := s[name]
	return ok
}

// hasFold reports whether s holds name, lower-cased, without allocating.
// Names longer than maxNameLen are never held.
func (s nameSet) hasFold(name string) bool {
	if len(s) == 0 || name == "" || len(name) > maxNameLen {
		return false
	}
	var buf [maxNameLen]byte
	b := buf[:len(name)]
	for i := 0; i < len(name); i++ {
		b[i] = lower(name[i])
	}
	_, ok := s[string(b)]
	return ok
}

// blocksDomain reports whether domain or one of its parent domains is in s,
// ignoring case and a trailing dot, without allocating.
func (s nameSet) blocksDomain(domain string) bool {
	if len(s) == 0 {
		return false
	}
	domain = strings.TrimSuffix(domain, ".")
	if domain == "" || len(domain) > maxNameLen {
		return false
	}
	var buf [maxNameLen]byte
	b := buf[:len(domain)]
	for i := 0; i < len(domain); i++ {
		b[i] = lower(domain[i])
	}
	for i := 0; i < len(b); i++ {
		if i == 0 || b[i-1] == '.' {
			if _, ok := s[string(b[i:])]; ok {
				return true
			}
		}
	}
	return false
}

// pageHost returns the host of a URL such as site.page ("https://user@
// host:port/path?q" → "host"), "" when there is none.
func pageHost(u string) string {
	i := strings.Index(u, "://")
	if i < 0 {
		return ""
	}
	u = u[i+3:]
	if j := strings.IndexAny(u, "/?#"); j >= 0 {
		u = u[:j]
	}
	if j := strings.LastIndexByte(u, '@'); j >= 0 {
		u = u[j+1:]
	}
	if strings.HasPrefix(u, "[") { // IPv6 literal
		return ""
	}
	if j := strings.IndexByte(u, ':'); j >= 0 {
		u = u[:j]
	}
	return u
}
