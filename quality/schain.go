package quality

import (
	"github.com/kairos-rtb/kairos/extjson"
	"unsafe"

	"github.com/prebid/openrtb/v20/openrtb2"
)

// SChainStatus describes a request's supply chain (source.schain, or
// source.ext.schain in OpenRTB 2.5) for campaigns that require it.
type SChainStatus struct {
	// Present: the request carries a supply chain object.
	Present bool
	// Complete: the chain says complete=1, has at least one node, and every
	// node names its system (asi) and seller (sid).
	Complete bool
	// AllowedSellers: every node's seller is on Config.SellerAllowList, or
	// the list is empty. A request without a chain has no allowed sellers
	// when the list is not empty.
	AllowedSellers bool
	// Nodes is the number of nodes in the chain.
	Nodes int
}

// maxSellerKey bounds "asi:sid" when looking it up.
const maxSellerKey = 512

// SupplyChain reports on req's supply chain and counts the result. It does
// not allocate.
func (s *Screener) SupplyChain(req *openrtb2.BidRequest) SChainStatus {
	st := s.supplyChain(req)
	switch {
	case !st.Present:
		s.metrics.schain[schainMissing].Inc()
	case st.Complete:
		s.metrics.schain[schainComplete].Inc()
	default:
		s.metrics.schain[schainIncomplete].Inc()
	}
	if !st.AllowedSellers {
		s.metrics.sellersNotAllowed.Inc()
	}
	return st
}

func (s *Screener) supplyChain(req *openrtb2.BidRequest) SChainStatus {
	sellers := s.sellers
	st := SChainStatus{AllowedSellers: len(sellers) == 0}
	src := req.Source
	if src == nil {
		return st
	}
	if sc := src.SChain; sc != nil {
		st.Present, st.Nodes = true, len(sc.Nodes)
		complete, allowed := sc.Complete == 1 && len(sc.Nodes) > 0, len(sc.Nodes) > 0
		for i := range sc.Nodes {
			n := &sc.Nodes[i]
			complete = complete && n.ASI != "" && n.SID != ""
			allowed = allowed && (len(sellers) == 0 || sellers.allows(n.ASI, n.SID))
		}
		st.Complete, st.AllowedSellers = complete, allowed || len(sellers) == 0
		return st
	}
	if len(src.Ext) == 0 {
		return st
	}
	v, ok := extjson.Field(src.Ext, "schain")
	if !ok {
		return st
	}
	return schainFromJSON(v, sellers)
}

// schainFromJSON reads an OpenRTB 2.5 source.ext.schain object. Anything
// malformed makes the chain incomplete with no allowed sellers.
func schainFromJSON(obj []byte, sellers nameSet) SChainStatus {
	st := SChainStatus{Present: true, AllowedSellers: len(sellers) == 0}
	complete, allowed := false, true
	m := extjson.Members{B: obj}
	for {
		k, v, ok := m.Next()
		if !ok {
			break
		}
		switch string(k) {
		case "complete":
			c, ok := extjson.Int(v)
			complete = ok && c == 1
		case "nodes":
			e := extjson.Elements{B: v}
			for {
				node, ok := e.Next()
				if !ok {
					break
				}
				st.Nodes++
				var asi, sid []byte
				nm := extjson.Members{B: node}
				for {
					nk, nv, ok := nm.Next()
					if !ok {
						break
					}
					switch string(nk) {
					case "asi":
						asi, _ = extjson.RawString(nv)
					case "sid":
						sid, _ = extjson.RawString(nv)
					}
				}
				if len(asi) == 0 || len(sid) == 0 {
					complete = false
				}
				if len(sellers) > 0 && !sellers.allows(bytesString(asi), bytesString(sid)) {
					allowed = false
				}
			}
		}
	}
	st.Complete = complete && st.Nodes > 0
	st.AllowedSellers = len(sellers) == 0 || (allowed && st.Nodes > 0)
	return st
}

// allows reports whether the seller sid of the advertising system asi is in
// the allow list, as "asi" or "asi:sid".
func (s nameSet) allows(asi, sid string) bool {
	if asi == "" || len(asi)+1+len(sid) > maxSellerKey {
		return false
	}
	var buf [maxSellerKey]byte
	b := buf[:0]
	for i := 0; i < len(asi); i++ {
		b = append(b, lower(asi[i]))
	}
	if _, ok := s[string(b)]; ok {
		return true
	}
	if sid == "" {
		return false
	}
	b = append(b, ':')
	b = append(b, sid...)
	_, ok := s[string(b)]
	return ok
}

// bytesString views b as a string without copying; the string must not
// outlive b.
func bytesString(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}
