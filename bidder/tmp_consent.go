package bidder

import "github.com/prebid/openrtb/v20/openrtb2"

// TEMPORARY until segments.Personal/ResolveUser land.
func tmpPersonal(r *openrtb2.BidRequest) (bool, string) {
	if r.Regs != nil && r.Regs.COPPA == 1 {
		return false, "coppa"
	}
	return true, ""
}

func tmpResolveUser(r *openrtb2.BidRequest) string {
	if r.User != nil {
		if r.User.BuyerUID != "" {
			return r.User.BuyerUID
		}
		return r.User.ID
	}
	return ""
}
