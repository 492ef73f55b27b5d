package segments

import (
	"github.com/prebid/openrtb/v20/openrtb2"
)

// ResolveUser returns the id to look the user's profile up by, in fixed
// priority: user.buyeruid, user.id, device.ifa (unless device.lmt=1), the first
// user.eids[].uids[].id, then the same from user.ext.eids (OpenRTB 2.5). Ids made
// only of zeros and dashes (a zeroed IFA) are skipped. It returns "" when there
// is none. Call Personal first. It allocates only when the id comes from
// user.ext.
func ResolveUser(req *openrtb2.BidRequest) string {
	u := req.User
	if u != nil {
		if usable(u.BuyerUID) {
			return u.BuyerUID
		}
		if usable(u.ID) {
			return u.ID
		}
	}
	if d := req.Device; d != nil && usable(d.IFA) && (d.Lmt == nil || *d.Lmt != 1) {
		return d.IFA
	}
	if u == nil {
		return ""
	}
	for i := range u.EIDs {
		for j := range u.EIDs[i].UIDs {
			if id := u.EIDs[i].UIDs[j].ID; usable(id) {
				return id
			}
		}
	}
	if len(u.Ext) > 0 {
		if v, ok := field(u.Ext, "eids"); ok {
			return extEID(v)
		}
	}
	return ""
}

// usable reports whether id is a real id: not empty, not only zeros and dashes,
// and valid as a key (see checkUser).
func usable(id string) bool {
	if id == "" || len(id) > maxUserLen {
		return false
	}
	zero := true
	for i := 0; i < len(id); i++ {
		c := id[i]
		if c <= ' ' || c == 0x7f {
			return false
		}
		if c != '0' && c != '-' {
			zero = false
		}
	}
	return !zero
}

// extEID returns the first usable uids[].id of an OpenRTB 2.5 ext.eids array.
func extEID(eids []byte) string {
	var s scanner
	s.reset(eids)
	if s.open('[') != nil {
		return ""
	}
	for i := 0; ; i++ {
		if ok, err := s.next(i, ']'); err != nil || !ok {
			return ""
		}
		if s.open('{') != nil {
			return ""
		}
		for n := 0; ; n++ {
			ok, err := s.next(n, '}')
			if err != nil {
				return ""
			}
			if !ok {
				break
			}
			k, err := s.key()
			if err != nil {
				return ""
			}
			if string(k) != "uids" || s.peek() != '[' {
				if s.skip() != nil {
					return ""
				}
				continue
			}
			if id := firstUID(&s); id != "" {
				return id
			}
		}
	}
}

// firstUID reads a uids array and returns its first usable id.
func firstUID(s *scanner) string {
	s.i++ // '['
	found := ""
	for i := 0; ; i++ {
		ok, err := s.next(i, ']')
		if err != nil || !ok {
			return found
		}
		if s.open('{') != nil {
			return ""
		}
		for n := 0; ; n++ {
			ok, err := s.next(n, '}')
			if err != nil {
				return ""
			}
			if !ok {
				break
			}
			k, err := s.key()
			if err != nil {
				return ""
			}
			if string(k) == "id" && s.peek() == '"' && found == "" {
				v, err := s.str()
				if err != nil {
					return ""
				}
				if usable(str(v)) {
					found = string(v)
				}
				continue
			}
			if s.skip() != nil {
				return ""
			}
		}
	}
}
