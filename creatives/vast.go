package creatives

import (
	"strconv"
	"strings"
	"time"

	"github.com/prebid/openrtb/v20/adcom1"
)

// The video ad is one VAST InLine linear ad with a single progressive media
// file. The impression pixel is the Impression element; clicks go through
// Kairos's click URL as the ClickThrough. Kairos writes VAST 4.0 where the
// impression accepts it (protocol 7 or 8, or no protocols listed), else 4.1,
// 4.2, 3.0 or 2.0, in that order of preference, adding or leaving out the
// elements each version requires or does not know (UniversalAdId from 4.0,
// AdServingId from 4.1). The markup starts with <VAST and has no XML
// declaration: exchanges sniff adm for a leading "<VAST", and UTF-8 is the
// default anyway.

// vastVersion picks the VAST version to write: 40 for 4.0 and so on; 0 = none.
func vastVersion(protocols []adcom1.MediaCreativeSubtype) int {
	if len(protocols) == 0 {
		return 40
	}
	var set uint32
	for _, p := range protocols {
		if p > 0 && p < 32 {
			set |= 1 << uint(p)
		}
	}
	has := func(a, b adcom1.MediaCreativeSubtype) bool { return set&(1<<uint(a)|1<<uint(b)) != 0 }
	switch {
	case has(adcom1.CreativeVAST40, adcom1.CreativeVAST40Wrapper):
		return 40
	case has(adcom1.CreativeVAST41, adcom1.CreativeVAST41Wrapper):
		return 41
	case has(adcom1.CreativeVAST42, adcom1.CreativeVAST42Wrapper):
		return 42
	case has(adcom1.CreativeVAST30, adcom1.CreativeVAST30Wrapper):
		return 30
	case has(adcom1.CreativeVAST20, adcom1.CreativeVAST20Wrapper):
		return 20
	}
	return 0
}

// defaultVideoW and defaultVideoH are assumed when neither the creative nor
// the impression gives a size.
const defaultVideoW, defaultVideoH = 640, 360

func (st *state) vast(dst []byte) ([]byte, error) {
	vd := st.cr.Video
	if vd == nil || vd.URL == "" {
		return dst, ErrFormat
	}
	if !webURL(vd.URL, st.imp.Secure) {
		return dst, ErrInsecure
	}
	spec := &st.imp.Video
	secs := st.pr.videoSecs
	if (spec.MinDuration > 0 && secs < spec.MinDuration) || (spec.MaxDuration > 0 && secs > spec.MaxDuration) {
		return dst, ErrDuration
	}
	if len(spec.Mimes) > 0 && !containsFold(spec.Mimes, vd.Mime) {
		return dst, ErrMime
	}
	ver := vastVersion(spec.Protocols)
	if ver == 0 {
		return dst, ErrProtocol
	}
	title := st.headline()
	desc, hasDesc := st.text(PartMessage)
	crid := st.crid()
	if err := st.track(); err != nil {
		return dst, err
	}

	dst = append(dst, `<VAST version="`...)
	dst = append(dst, byte('0'+ver/10), '.', byte('0'+ver%10))
	dst = append(dst, `"><Ad id="`...)
	dst = st.appendAdID(dst, crid)
	dst = append(dst, `"><InLine><AdSystem>Kairos</AdSystem>`...)
	if ver < 40 {
		dst = appendXMLElem(dst, "AdTitle", title)
		if hasDesc {
			dst = appendXMLElem(dst, "Description", desc)
		}
		dst = st.appendImpression(dst)
	} else {
		dst = st.appendImpression(dst)
		if ver >= 41 {
			dst = append(dst, "<AdServingId>"...)
			dst = st.appendAdID(dst, crid)
			dst = append(dst, "</AdServingId>"...)
		}
		dst = appendXMLElem(dst, "AdTitle", title)
		if st.c.Advertiser != "" {
			dst = appendXMLElem(dst, "Advertiser", st.c.Advertiser)
		}
	}
	dst = append(dst, `<Creatives><Creative id="`...)
	dst = escXML(dst, crid)
	if ver >= 40 {
		dst = append(dst, `" adId="`...)
		dst = escXML(dst, crid)
		dst = append(dst, `"><UniversalAdId idRegistry="unknown"`...)
		if ver == 40 {
			dst = append(dst, ` idValue="unknown"`...)
		}
		dst = append(dst, `>unknown</UniversalAdId>`...)
	} else {
		dst = append(dst, `">`...)
	}
	dst = append(dst, "<Linear><Duration>"...)
	dst = appendVASTTime(dst, time.Duration(vd.Duration))
	dst = append(dst, `</Duration><MediaFiles><MediaFile delivery="progressive" type="`...)
	dst = escXML(dst, vd.Mime)
	w, h := vd.Width, vd.Height
	if w <= 0 || h <= 0 {
		w, h = spec.W, spec.H
	}
	if w <= 0 || h <= 0 {
		w, h = defaultVideoW, defaultVideoH
	}
	dst = append(dst, `" width="`...)
	dst = strconv.AppendInt(dst, int64(w), 10)
	dst = append(dst, `" height="`...)
	dst = strconv.AppendInt(dst, int64(h), 10)
	if vd.Bitrate > 0 {
		dst = append(dst, `" bitrate="`...)
		dst = strconv.AppendInt(dst, int64(vd.Bitrate), 10)
	}
	dst = append(dst, `"><![CDATA[`...)
	dst = escCDATA(dst, vd.URL)
	dst = append(dst, `]]></MediaFile></MediaFiles><VideoClicks><ClickThrough id="kairos"><![CDATA[`...)
	dst = escCDATA(dst, st.clickURL())
	dst = append(dst, `]]></ClickThrough></VideoClicks></Linear></Creative></Creatives>`...)
	if ver >= 40 && hasDesc {
		dst = appendXMLElem(dst, "Description", desc)
	}
	return append(dst, "</InLine></Ad></VAST>"...), nil
}

// appendAdID appends the id of this ad serving: the bid id, else the crid.
func (st *state) appendAdID(dst []byte, crid string) []byte {
	if st.imp.BidID != "" {
		return escXML(dst, st.imp.BidID)
	}
	return escXML(dst, crid)
}

func (st *state) appendImpression(dst []byte) []byte {
	dst = append(dst, `<Impression id="kairos"><![CDATA[`...)
	dst = escCDATA(dst, st.pixel)
	return append(dst, "]]></Impression>"...)
}

func appendXMLElem(dst []byte, name, text string) []byte {
	dst = append(dst, '<')
	dst = append(dst, name...)
	dst = append(dst, '>')
	dst = escXML(dst, text)
	dst = append(dst, '<', '/')
	dst = append(dst, name...)
	return append(dst, '>')
}

// appendVASTTime appends d as HH:MM:SS, with .mmm when d has milliseconds.
func appendVASTTime(dst []byte, d time.Duration) []byte {
	ms := int64(d / time.Millisecond)
	s := ms / 1000
	dst = append2(dst, s/3600)
	dst = append(dst, ':')
	dst = append2(dst, s/60%60)
	dst = append(dst, ':')
	dst = append2(dst, s%60)
	if ms%1000 != 0 {
		dst = append(dst, '.')
		f := ms % 1000
		dst = append(dst, byte('0'+f/100), byte('0'+f/10%10), byte('0'+f%10))
	}
	return dst
}

func append2(dst []byte, n int64) []byte {
	if n < 10 {
		dst = append(dst, '0')
	}
	return strconv.AppendInt(dst, n, 10)
}

func containsFold(list []string, v string) bool {
	v = strings.TrimSpace(v)
	for _, s := range list {
		if strings.EqualFold(strings.TrimSpace(s), v) {
			return true
		}
	}
	return false
}
