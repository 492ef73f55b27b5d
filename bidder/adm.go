package bidder

import (
	"html"
	"strconv"

	"github.com/kairos-rtb/kairos/campaigns"
	"github.com/kairos-rtb/kairos/segments"
	"github.com/prebid/openrtb/v20/openrtb2"
)

// AdContext is everything markup assembly may use for one bid. It is valid only
// during the request.
type AdContext struct {
	Campaign *campaigns.Compiled
	Creative *campaigns.CompiledCreative
	Format   campaigns.Format
	W, H     int
	Imp      *openrtb2.Imp
	Req      *openrtb2.BidRequest
	// Profile is nil for unknown users and contextual requests.
	Profile *segments.Profile
	Secure  bool
	// BidID is the bid's id, valid until the request is released.
	BidID []byte
}

// Assembler builds a bid's markup (adm) and creative id (crid).
type Assembler interface {
	// Assemble appends the markup to dst; an error means this creative cannot
	// serve this impression.
	Assemble(dst []byte, a *AdContext) ([]byte, error)
	// AppendCrid appends the creative id (naming creative and variant) of the
	// markup the last Assemble call on a built for a.
	AppendCrid(dst []byte, a *AdContext) []byte
}

// SimpleBanner is a minimal Assembler: an escaped HTML banner with the
// creative's default headline linking to its landing page. It serves banner
// impressions only.
type SimpleBanner struct{}

var _ Assembler = SimpleBanner{}

// errNotBanner is returned by SimpleBanner for other formats.
var errNotBanner = &BadRequestError{Reason: "simple banner serves banners only"}

// Assemble appends the banner HTML.
func (SimpleBanner) Assemble(dst []byte, a *AdContext) ([]byte, error) {
	if a.Format != campaigns.FormatBanner {
		return dst, errNotBanner
	}
	headline := ""
	if v := a.Creative.Parts["headline"]["default"]; len(v) > 0 {
		headline = v[0]
	}
	dst = append(dst, `<a href="`...)
	dst = append(dst, html.EscapeString(a.Creative.LandingURL)...)
	dst = append(dst, `" target="_blank" style="display:block;width:`...)
	dst = strconv.AppendInt(dst, int64(a.W), 10)
	dst = append(dst, `px;height:`...)
	dst = strconv.AppendInt(dst, int64(a.H), 10)
	dst = append(dst, `px;overflow:hidden;font:16px sans-serif">`...)
	dst = append(dst, html.EscapeString(headline)...)
	return append(dst, `</a>`...), nil
}

// AppendCrid appends the creative id.
func (SimpleBanner) AppendCrid(dst []byte, a *AdContext) []byte {
	return append(dst, a.Creative.ID...)
}
