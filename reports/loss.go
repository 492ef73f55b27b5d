package reports

import "strconv"

// lossNames names the OpenRTB 2.5 loss reason codes (section 5.25).
var lossNames = map[int]string{
	0:   "bid_won",
	1:   "internal_error",
	2:   "impression_expired",
	3:   "invalid_bid_response",
	4:   "invalid_deal_id",
	5:   "invalid_auction_id",
	6:   "invalid_adomain",
	7:   "missing_markup",
	8:   "missing_creative_id",
	9:   "missing_bid_price",
	10:  "missing_creative_approval_data",
	100: "below_auction_floor",
	101: "below_deal_floor",
	102: "lost_to_higher_bid",
	103: "lost_to_pmp_deal",
	104: "buyer_seat_blocked",
	200: "creative_filtered",
	201: "creative_pending",
	202: "creative_disapproved",
	203: "creative_size",
	204: "creative_format",
	205: "advertiser_exclusions",
	206: "app_bundle_exclusions",
	207: "creative_not_secure",
	208: "language_exclusions",
	209: "category_exclusions",
	210: "creative_attribute_exclusions",
	211: "ad_type_exclusions",
	212: "animation_too_long",
	213: "not_allowed_in_pmp_deal",
}

// LossReasonName returns a readable name of an OpenRTB loss reason code;
// codes of 1000 and above are exchange-specific.
func LossReasonName(code int) string {
	if n, ok := lossNames[code]; ok {
		return n
	}
	if code >= 1000 {
		return "exchange_" + strconv.Itoa(code)
	}
	return "code_" + strconv.Itoa(code)
}
