package quality

// uaMatcher finds any of a set of substrings in a user agent, ignoring ASCII
// case, in one pass and without allocating: an Aho-Corasick automaton
// compiled into a full transition table over byte classes (the bytes that
// occur in the patterns, each its own class, and one class for all others).
type uaMatcher struct {
	class  [256]uint8
	nclass int
	next   []uint16 // next[state*nclass+class]
	match  []bool   // a pattern ends in state (or in one of its suffixes)
}

func lower(c byte) byte {
	if c >= 'A' && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// newUAMatcher compiles patterns (non-empty; at most 65535 states in all).
func newUAMatcher(patterns []string) *uaMatcher {
	m := &uaMatcher{nclass: 1}
	for _, p := range patterns {
		for i := 0; i < len(p); i++ {
			c := lower(p[i])
			if m.class[c] == 0 {
				m.class[c] = uint8(m.nclass)
				if c >= 'a' && c <= 'z' {
					m.class[c-'a'+'A'] = uint8(m.nclass)
				}
				m.nclass++
			}
		}
	}
	// The trie, state 0 the root; -1 for no edge.
	k := m.nclass
	trie := make([]int32, k)
	for i := range trie {
		trie[i] = -1
	}
	match := []bool{false}
	states := 1
	for _, p := range patterns {
		s := 0
		for i := 0; i < len(p); i++ {
			c := int(m.class[lower(p[i])])
			if trie[s*k+c] < 0 {
				trie[s*k+c] = int32(states)
				states++
				for j := 0; j < k; j++ {
					trie = append(trie, -1)
				}
				match = append(match, false)
			}
			s = int(trie[s*k+c])
		}
		match[s] = true
	}
	// Breadth first: failure links, inherited matches, full transitions.
	next := make([]uint16, states*k)
	fail := make([]int, states)
	queue := make([]int, 0, states)
	for c := 0; c < k; c++ {
		if t := trie[c]; t >= 0 {
			next[c] = uint16(t)
			queue = append(queue, int(t))
		}
	}
	for len(queue) > 0 {
		s := queue[0]
		queue = queue[1:]
		match[s] = match[s] || match[fail[s]]
		for c := 0; c < k; c++ {
			if t := trie[s*k+c]; t >= 0 {
				fail[t] = int(next[fail[s]*k+c])
				next[s*k+c] = uint16(t)
				queue = append(queue, int(t))
			} else {
				next[s*k+c] = next[fail[s]*k+c]
			}
		}
	}
	m.next, m.match = next, match
	return m
}

// find reports whether s contains any pattern, ignoring ASCII case.
func (m *uaMatcher) find(s string) bool {
	if len(m.match) <= 1 {
		return false
	}
	st, k := 0, m.nclass
	for i := 0; i < len(s); i++ {
		st = int(m.next[st*k+int(m.class[s[i]])])
		if m.match[st] {
			return true
		}
	}
	return false
}
