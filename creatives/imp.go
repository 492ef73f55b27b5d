package creatives

import (
	"reflect"

	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/bytedance/sonic"
	"strconv"

	"github.com/kairos-rtb/kairos/campaigns"
	"github.com/prebid/openrtb/v20/adcom1"
	"github.com/prebid/openrtb/v20/openrtb2"
)

// Imp is what assembly needs to know about one impression: the format and size
// chosen for it, its constraints, the page context and the tracking URLs. The
// bidder builds one per impression (FromOpenRTB, then the URL fields) and may
// reuse it after Reset. Slices taken from the openrtb2.Imp are referenced, not
// copied: an Imp is valid as long as the request it came from.
type Imp struct {
	// Format is the format to assemble: one bit.
	Format campaigns.Format
	// W and H are the banner size chosen, in CSS pixels.
	W, H int
	// Secure is set for imp.secure=1: every URL in the markup must be https.
	Secure bool
	// BAttr is the set of blocked creative attributes (bit n = attribute n) of
	// the chosen format's object.
	BAttr uint32
	// Video holds the video object's constraints.
	Video VideoSpec
	// Keywords are the site's or app's comma-separated keywords, used to fill
	// {keywords} (and {interest} for users without a profile).
	Keywords string
	// ClickURL is Kairos's signed, absolute click URL; it records the click and
	// redirects to the creative's landing URL. Empty means link to the landing
	// URL directly.
	ClickURL string
	// ImpURL is Kairos's signed impression pixel URL; empty means none. Both
	// URLs are trusted: exchange macros such as ${AUCTION_PRICE} in them are kept.
	ImpURL string
	// Tracker, when set, supplies the click and impression URLs instead of
	// ClickURL and ImpURL, once the variant is chosen.
	Tracker Tracker
	// BidID names this ad serving: the VAST Ad id and AdServingId.
	BidID string

	native nativeRequest
}

// Tracker supplies an ad's click and impression URLs once its variant is
// chosen, so that clicks and impressions are credited to the variant shown.
// TrackingURLs is called at most once per Assemble, before any URL is written;
// the strings it returns must stay valid until Assemble returns. Either may be
// empty (no click tracking: the ad links to the landing URL; no pixel).
type Tracker interface {
	TrackingURLs(v Variant) (click, impression string)
}

// VideoSpec is the part of an OpenRTB video object that assembly checks.
type VideoSpec struct {
	// Mimes are the accepted media MIME types; empty accepts any.
	Mimes []string
	// MinDuration and MaxDuration bound the ad's duration in seconds; 0 = no bound.
	MinDuration, MaxDuration int64
	// Protocols are the accepted response protocols; empty is taken to accept VAST 4.0.
	Protocols []adcom1.MediaCreativeSubtype
	// W and H are the player size, used when the media file does not declare one.
	W, H int
}

// ErrNativeRequest reports a native request that is not valid Native 1.x JSON.
var ErrNativeRequest = errors.New("creatives: invalid native request")

// Reset clears i for reuse, keeping its buffers.
func (i *Imp) Reset() {
	assets := i.native.assets[:0]
	*i = Imp{}
	i.native.assets = assets
}

// FromOpenRTB fills i from an OpenRTB impression for format f with banner size
// w×h (0×0 takes banner.w/h or the first banner.format). It resets i first and
// leaves Keywords, ClickURL, ImpURL, Tracker and BidID for the caller. For native it
// parses imp.native.request, which allocates; an error means the impression
// cannot be answered in format f.
func (i *Imp) FromOpenRTB(imp *openrtb2.Imp, f campaigns.Format, w, h int) error {
	i.Reset()
	i.Format = f
	i.Secure = imp.Secure != nil && *imp.Secure == 1
	switch f {
	case campaigns.FormatBanner:
		b := imp.Banner
		if b == nil {
			return fmt.Errorf("creatives: imp %q has no banner", imp.ID)
		}
		if w == 0 && h == 0 {
			switch {
			case b.W != nil && b.H != nil:
				w, h = int(*b.W), int(*b.H)
			case len(b.Format) > 0:
				w, h = int(b.Format[0].W), int(b.Format[0].H)
			}
		}
		i.W, i.H = w, h
		i.BAttr = attrBits(b.BAttr)
	case campaigns.FormatNative:
		n := imp.Native
		if n == nil {
			return fmt.Errorf("creatives: imp %q has no native object", imp.ID)
		}
		i.BAttr = attrBits(n.BAttr)
		return i.SetNativeRequest([]byte(n.Request))
	case campaigns.FormatVideo:
		v := imp.Video
		if v == nil {
			return fmt.Errorf("creatives: imp %q has no video object", imp.ID)
		}
		i.BAttr = attrBits(v.BAttr)
		i.Video = VideoSpec{Mimes: v.MIMEs, MinDuration: v.MinDuration, MaxDuration: v.MaxDuration,
			Protocols: v.Protocols}
		if v.W != nil {
			i.Video.W = int(*v.W)
		}
		if v.H != nil {
			i.Video.H = int(*v.H)
		}
	default:
		return fmt.Errorf("creatives: format %d cannot be assembled", f)
	}
	return nil
}

func attrBits(attrs []adcom1.CreativeAttribute) uint32 {
	var b uint32
	for _, a := range attrs {
		if a > 0 && a < 32 {
			b |= 1 << uint(a)
		}
	}
	return b
}

// KeywordsOf returns the request's site, app or content keywords, for Imp.Keywords.
func KeywordsOf(req *openrtb2.BidRequest) string {
	switch {
	case req.Site != nil && req.Site.Keywords != "":
		return req.Site.Keywords
	case req.Site != nil && req.Site.Content != nil && req.Site.Content.Keywords != "":
		return req.Site.Content.Keywords
	case req.App != nil && req.App.Keywords != "":
		return req.App.Keywords
	case req.App != nil && req.App.Content != nil && req.App.Content.Keywords != "":
		return req.App.Content.Keywords
	}
	return ""
}

// nativeRequest is a parsed Native 1.x request, reduced to what assembly uses.
type nativeRequest struct {
	parsed  bool
	wrapped bool  // sent as {"native":{...}} (Native 1.0 style)
	ver     uint8 // 10, 11 or 12
	// impEvent reports that eventtrackers offers impression tracking by image.
	impEvent bool
	assets   []nativeAsset
}

type assetKind uint8

const (
	assetOther assetKind = iota
	assetTitle
	assetImg
	assetData
	assetVideo
)

type nativeAsset struct {
	id       int64
	required bool
	kind     assetKind
	typ      int64 // image or data asset type
	len      int   // title/data max length in characters; 0 = unbounded
	w, h     int   // exact image size
	wmin     int
	hmin     int
	mimes    mimeBit // accepted image types; 0 = any
}

// nativeCodec decodes native requests: sonic in its encoding/json-compatible
// configuration, several times faster on the bid path than encoding/json.
var nativeCodec = sonic.ConfigStd

// PretouchNative compiles the native request decoder ahead of the first
// request, which would otherwise pay for it within its deadline.
func PretouchNative() error {
	return sonic.Pretouch(reflect.TypeOf(nativeDoc{}))
}

// SetNativeRequest parses the native request of the impression: Native 1.x
// JSON, either the request object itself or wrapped as {"native":{...}}
// (Native 1.0), or a JSON string holding either. It allocates while decoding.
func (i *Imp) SetNativeRequest(req []byte) error {
	i.native.parsed = false
	i.native.assets = i.native.assets[:0]
	req = bytes.TrimSpace(req)
	if len(req) > 0 && req[0] == '"' {
		var s string
		if err := nativeCodec.Unmarshal(req, &s); err != nil {
			return fmt.Errorf("%w: %v", ErrNativeRequest, err)
		}
		req = bytes.TrimSpace([]byte(s))
	}
	var doc nativeDoc
	if err := nativeCodec.Unmarshal(req, &doc); err != nil {
		return fmt.Errorf("%w: %v", ErrNativeRequest, err)
	}
	n := &doc.nativeJSON
	if doc.Native != nil {
		n = doc.Native
		i.native.wrapped = true
	}
	switch {
	case n.Ver == "" && i.native.wrapped:
		i.native.ver = 10
	case n.Ver == "":
		i.native.ver = 12
	default:
		v, err := strconv.ParseFloat(n.Ver, 64)
		switch {
		case err != nil || v >= 1.2:
			i.native.ver = 12
		case v >= 1.1:
			i.native.ver = 11
		default:
			i.native.ver = 10
		}
	}
	if len(n.Assets) == 0 {
		return fmt.Errorf("%w: no assets", ErrNativeRequest)
	}
	for _, et := range n.EventTrackers {
		if et.Event == 1 {
			for _, m := range et.Methods {
				if m == 1 {
					i.native.impEvent = true
				}
			}
		}
	}
	for _, a := range n.Assets {
		na := nativeAsset{id: int64(a.ID), required: a.Required != 0}
		switch {
		case a.Title != nil:
			na.kind, na.len = assetTitle, int(a.Title.Len)
		case a.Img != nil:
			na.kind, na.typ = assetImg, int64(a.Img.Type)
			na.w, na.h, na.wmin, na.hmin = int(a.Img.W), int(a.Img.H), int(a.Img.WMin), int(a.Img.HMin)
			for _, m := range a.Img.Mimes {
				na.mimes |= mimeOfType(m)
			}
		case a.Data != nil:
			na.kind, na.typ, na.len = assetData, int64(a.Data.Type), int(a.Data.Len)
		case a.Video != nil:
			na.kind = assetVideo
		}
		if na.len < 0 {
			na.len = 0
		}
		i.native.assets = append(i.native.assets, na)
	}
	i.native.parsed = true
	return nil
}

// nativeDoc decodes both the plain and the {"native":{...}} request form.
type nativeDoc struct {
	Native *nativeJSON `json:"native"`
	nativeJSON
}

type nativeJSON struct {
	Ver           string            `json:"ver"`
	Assets        []nativeAssetJSON `json:"assets"`
	EventTrackers []struct {
		Event   flexInt   `json:"event"`
		Methods []flexInt `json:"methods"`
	} `json:"eventtrackers"`
}

type nativeAssetJSON struct {
	ID       flexInt `json:"id"`
	Required flexInt `json:"required"`
	Title    *struct {
		Len flexInt `json:"len"`
	} `json:"title"`
	Img *struct {
		Type  flexInt  `json:"type"`
		W     flexInt  `json:"w"`
		H     flexInt  `json:"h"`
		WMin  flexInt  `json:"wmin"`
		HMin  flexInt  `json:"hmin"`
		Mimes []string `json:"mimes"`
	} `json:"img"`
	Data *struct {
		Type flexInt `json:"type"`
		Len  flexInt `json:"len"`
	} `json:"data"`
	Video *json.RawMessage `json:"video"`
}

// flexInt is an integer that exchanges sometimes send as a string, a float or
// a boolean.
type flexInt int64

// UnmarshalJSON accepts 1, 1.0, "1", true and null.
func (f *flexInt) UnmarshalJSON(b []byte) error {
	s := string(bytes.Trim(b, `"`))
	switch s {
	case "null", "", "false":
		*f = 0
		return nil
	case "true":
		*f = 1
		return nil
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		*f = flexInt(n)
		return nil
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return fmt.Errorf("not a number: %s", b)
	}
	*f = flexInt(v)
	return nil
}
