// Package creatives owns creative assembly: the parts of a campaign's creative
// (headline, message, product, offer, call to action, cross-sell, greeting)
// with their variants per purchase phase, the placeholders filled in from the
// user's profile and the page ({product.name}, {product.price}, {interest},
// {keywords}), the choice among equally eligible variants (Chooser), and the
// markup per format: self-contained HTML for banners, a Native 1.x response for
// native, VAST XML for video.
//
// Personalisation: the user's phase picks each part's variants (else the part's
// default ones); a purchaser is shown the cross-sell part instead of the product
// they bought, or nothing (ErrPurchased); known users may be greeted; users
// without a profile, or whose data may not be used (PhaseUnknown), get the
// contextual variants, with the page's keywords as their interest.
//
// Safety: every value is escaped for the context it lands in (HTML text and
// attributes, XML text and CDATA, JSON strings); profile and page values are
// never used as URLs; only http(s) URLs are embedded, https only on secure
// impressions; '$' in text is escaped so only the trusted tracking URLs can
// carry exchange macros such as ${AUCTION_PRICE}; markup size is bounded.
//
// Hot path: Assemble does not block and does not allocate once the caller's
// dst buffer has room (working memory comes from a sync.Pool; templates are
// compiled once per creative by PrepareIndex, or on first use). Imp.FromOpenRTB
// allocates only to parse a native request, once per impression.
package creatives
