package creatives

import (
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/prebid/openrtb/v20/native1"
)

// The native response answers the request's assets by id, in request order:
//
//	title                  headline (greeting first when it fits), cut at a word
//	img (any type)         the creative's image, if its type is accepted
//	data sponsored (1)     advertiser
//	data desc (2)          message, else offer, cut at a word
//	data desc2 (10)        offer, cut at a word
//	data ctatext (12)      call to action
//	data price (6)         the profile's product price, for product creatives
//	data displayurl (11)   the first advertiser domain
//
// Everything else (video, ratings, …) is left out; a required asset left out
// fails the whole response with ErrNoAssets. A Native 1.0 style request
// ({"native":{...}}) gets a wrapped response, later versions the bare object.
// Impressions are tracked with eventtrackers when a 1.2 request offers image
// impression tracking, else with imptrackers.

// minCut is the shortest limit a text is cut to; below it the text is left out.
const minCut = 10

func (st *state) native(dst []byte) ([]byte, error) {
	nr := &st.imp.native
	if !nr.parsed {
		return dst, ErrFormat
	}
	start := len(dst)
	if nr.wrapped {
		dst = append(dst, `{"native":`...)
	}
	dst = append(dst, `{"ver":"`...)
	switch nr.ver {
	case 10:
		dst = append(dst, "1.0"...)
	case 11:
		dst = append(dst, "1.1"...)
	default:
		dst = append(dst, "1.2"...)
	}
	dst = append(dst, `","assets":[`...)
	n := 0
	for k := range nr.assets {
		a := &nr.assets[k]
		mark := len(dst)
		if n > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, `{"id":`...)
		dst = strconv.AppendInt(dst, a.id, 10)
		var ok bool
		dst, ok = st.nativeAsset(dst, a)
		if !ok {
			if a.required {
				return dst[:start], ErrNoAssets
			}
			dst = dst[:mark]
			continue
		}
		dst = append(dst, '}')
		n++
	}
	if n == 0 {
		return dst[:start], ErrNoAssets
	}
	// Every part shown is known now: the tracking URLs can name the variant.
	if err := st.track(); err != nil {
		return dst[:start], err
	}
	dst = append(dst, `],"link":{"url":"`...)
	dst = escJSONURL(dst, st.clickURL())
	dst = append(dst, `"}`...)
	if u := st.pixel; u != "" {
		if nr.ver >= 12 && nr.impEvent {
			dst = append(dst, `,"eventtrackers":[{"event":1,"method":1,"url":"`...)
			dst = escJSONURL(dst, u)
			dst = append(dst, `"}]`...)
		} else {
			dst = append(dst, `,"imptrackers":["`...)
			dst = escJSONURL(dst, u)
			dst = append(dst, `"]`...)
		}
	}
	dst = append(dst, '}')
	if nr.wrapped {
		dst = append(dst, '}')
	}
	return dst, nil
}

// nativeAsset appends the body of one asset after its id, or reports that it
// cannot be answered (the caller then discards what was appended).
func (st *state) nativeAsset(dst []byte, a *nativeAsset) ([]byte, bool) {
	switch a.kind {
	case assetTitle:
		head := st.headline()
		if g, ok := st.greeting(); ok {
			if a.len <= 0 || utf8.RuneCountInString(g)+1+utf8.RuneCountInString(head) <= a.len {
				dst = append(dst, `,"title":{"text":"`...)
				dst = escJSON(dst, g)
				dst = append(dst, ' ')
				dst = escJSON(dst, head)
				return append(dst, `"}`...), true
			}
			st.drop(PartGreeting)
		}
		cut, ell, ok := fit(head, a.len, true)
		if !ok {
			st.dropHeadline()
			return dst, false
		}
		dst = append(dst, `,"title":{"text":"`...)
		dst = appendCut(dst, cut, ell)
		return append(dst, `"}`...), true

	case assetImg:
		img := st.cr.Image
		if img == "" || !webURL(img, st.imp.Secure) ||
			(a.mimes != 0 && st.pr.imageMime != 0 && a.mimes&st.pr.imageMime == 0) {
			return dst, false
		}
		dst = append(dst, `,"img":{"url":"`...)
		dst = escJSONURL(dst, img)
		return append(dst, `"}`...), true

	case assetData:
		var (
			text     string
			part     Part = NumParts
			truncate bool
		)
		switch native1.DataAssetType(a.typ) {
		case native1.DataAssetTypeSponsored:
			text = st.c.Advertiser
		case native1.DataAssetTypeDesc:
			truncate = true
			if s, ok := st.text(PartMessage); ok {
				text, part = s, PartMessage
			} else if s, ok := st.text(PartOffer); ok {
				text, part = s, PartOffer
			}
		case native1.DataAssetTypeDesc2:
			truncate = true
			if s, ok := st.text(PartOffer); ok {
				text, part = s, PartOffer
			}
		case native1.DataAssetTypeCTAText:
			if s, ok := st.text(PartCTA); ok {
				text, part = s, PartCTA
			}
		case native1.DataAssetTypePrice:
			if st.productShown() {
				text = st.vals[phProductPrice]
			}
		case native1.DataAssetTypeDispayURL:
			if len(st.c.ADomain) > 0 {
				text = st.c.ADomain[0]
			}
		}
		if text == "" {
			return dst, false
		}
		cut, ell, ok := fit(text, a.len, truncate)
		if !ok {
			if part < NumParts {
				st.drop(part)
			}
			return dst, false
		}
		dst = append(dst, `,"data":{"value":"`...)
		dst = appendCut(dst, cut, ell)
		return append(dst, `"}`...), true
	}
	return dst, false
}

// fit returns s if it has at most limit characters (limit 0 = no limit), else,
// when truncate is set and limit allows, s cut at a word boundary to leave room
// for an ellipsis.
func fit(s string, limit int, truncate bool) (cut string, ellipsis, ok bool) {
	if limit <= 0 || utf8.RuneCountInString(s) <= limit {
		return s, false, true
	}
	if !truncate || limit < minCut {
		return "", false, false
	}
	i := 0
	for n := 0; n < limit-1 && i < len(s); n++ {
		_, size := utf8.DecodeRuneInString(s[i:])
		i += size
	}
	cut = s[:i]
	if sp := strings.LastIndexByte(cut, ' '); sp >= len(cut)/2 {
		cut = cut[:sp]
	}
	return strings.TrimRight(cut, " ,.;:-"), true, true
}

func appendCut(dst []byte, s string, ellipsis bool) []byte {
	dst = escJSON(dst, s)
	if ellipsis {
		dst = append(dst, "…"...)
	}
	return dst
}
