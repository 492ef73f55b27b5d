package creatives

import "strconv"

// The banner is self-contained HTML: inline styles only, no scripts, no
// external CSS or fonts. Attributes are single-quoted (every inserted value
// escapes both quote characters), so the markup needs no escaping of its own
// quotes when it travels in the JSON bid response's adm string. The whole ad is one link to the click URL; the
// impression pixel sits outside the link.

const (
	bannerOpen = `<div style='position:relative;overflow:hidden;box-sizing:border-box;margin:0;padding:0;` +
		`background:#fff;border:1px solid #d0d0d0;font-family:Helvetica,Arial,sans-serif;line-height:1.25;text-align:left;width:`
	bannerLinkV = `<a target='_blank' rel='noopener' style='display:flex;flex-direction:column;width:100%;height:100%;` +
		`color:#1a1a1a;text-decoration:none' href='`
	bannerLinkH = `<a target='_blank' rel='noopener' style='display:flex;flex-direction:row;align-items:center;` +
		`width:100%;height:100%;color:#1a1a1a;text-decoration:none' href='`
	bannerPixel = `<img width='1' height='1' alt='' style='position:absolute;left:0;top:0;width:1px;height:1px;border:0' src='`
	ellipsis    = `white-space:nowrap;overflow:hidden;text-overflow:ellipsis`
)

func clampInt(v, lo, hi int) int { return max(lo, min(v, hi)) }

func (st *state) banner(dst []byte) ([]byte, error) {
	w, h := st.imp.W, st.imp.H
	if w <= 0 || h <= 0 {
		return dst, ErrSize
	}
	if len(st.cr.Sizes) > 0 {
		found := false
		for _, s := range st.cr.Sizes {
			if s.W == w && s.H == h {
				found = true
				break
			}
		}
		if !found {
			return dst, ErrSize
		}
	}
	img := st.cr.Image
	if img != "" && !webURL(img, st.imp.Secure) {
		return dst, ErrInsecure
	}
	headline := st.headline()

	dst = append(dst, bannerOpen...)
	dst = strconv.AppendInt(dst, int64(w), 10)
	dst = append(dst, "px;height:"...)
	dst = strconv.AppendInt(dst, int64(h), 10)
	dst = append(dst, "px'>"...)
	// The link's content is laid out first, into st.inner, so that every part
	// is chosen before the click URL, which names the variant, is asked for.
	link := bannerLinkV
	if w >= 3*h {
		link = bannerLinkH
		st.inner = st.bannerRow(st.inner[:0], w, h, img, headline)
	} else {
		st.inner = st.bannerColumn(st.inner[:0], w, h, img, headline)
	}
	if err := st.track(); err != nil {
		return dst, err
	}
	dst = append(dst, link...)
	dst = escHTMLURL(dst, st.clickURL())
	dst = append(dst, `'>`...)
	dst = append(dst, st.inner...)
	dst = append(dst, "</a>"...)
	if st.pixel != "" {
		dst = append(dst, bannerPixel...)
		dst = escHTMLURL(dst, st.pixel)
		dst = append(dst, `'>`...)
	}
	return append(dst, "</div>"...), nil
}

// bannerColumn lays out the link's content for upright and square sizes
// (300x250, 300x600, 160x600): image on top, text below, the call to action at
// the bottom.
func (st *state) bannerColumn(dst []byte, w, h int, img, headline string) []byte {
	hs := clampInt(w/15, 13, 26)
	bs := clampInt(w/23, 11, 16)
	small := clampInt(bs-2, 10, 14)
	pad := clampInt(w/30, 6, 14)
	tall := h >= 400

	if img != "" {
		pct := 46
		if tall {
			pct = 42
		}
		dst = append(dst, `<img alt='' style='display:block;flex:none;width:100%;object-fit:cover;border:0;background:#eee;height:`...)
		dst = strconv.AppendInt(dst, int64(pct), 10)
		dst = append(dst, `%' src='`...)
		dst = escHTMLURL(dst, img)
		dst = append(dst, `'>`...)
	}
	dst = append(dst, `<span style='display:flex;flex-direction:column;flex:1;min-height:0;gap:4px;overflow:hidden;padding:`...)
	dst = strconv.AppendInt(dst, int64(pad), 10)
	dst = append(dst, `px'>`...)
	if g, ok := st.greeting(); ok {
		dst = textSpan(dst, "color:#555;font-size:", small, g)
	}
	if tall && !st.crossSell && !st.productInHeadline() {
		if pn, ok := st.text(PartProduct); ok && pn != headline {
			dst = textSpan(dst, "color:#555;text-transform:uppercase;letter-spacing:.05em;font-size:", small, pn)
		}
	}
	dst = append(dst, `<strong style='line-height:1.2;font-size:`...)
	dst = strconv.AppendInt(dst, int64(hs), 10)
	dst = append(dst, `px'>`...)
	dst = escHTML(dst, headline)
	dst = append(dst, "</strong>"...)
	msg, okMsg := st.text(PartMessage)
	if okMsg {
		dst = textSpan(dst, "color:#333;font-size:", bs, msg)
	}
	if tall || !okMsg {
		if o, ok := st.text(PartOffer); ok {
			dst = textSpan(dst, "color:#0a6e31;font-weight:bold;font-size:", bs, o)
		}
	}
	if cta, ok := st.text(PartCTA); ok {
		dst = append(dst, `<span style='margin-top:auto;align-self:flex-start;padding:6px 12px;border-radius:4px;`+
			`background:#111;color:#fff;font-weight:bold;font-size:`...)
		dst = strconv.AppendInt(dst, int64(bs), 10)
		dst = append(dst, `px'>`...)
		dst = escHTML(dst, cta)
		dst = append(dst, "</span>"...)
	}
	return append(dst, "</span>"...)
}

// bannerRow lays out the link's content for wide sizes (728x90, 320x50): image
// left, text middle, call to action right.
func (st *state) bannerRow(dst []byte, w, h int, img, headline string) []byte {
	compact := h < 70
	hs := clampInt(h/4, 12, 24)
	bs := clampInt(h/7, 10, 15)
	pad := clampInt(h/9, 4, 12)

	if img != "" {
		dst = append(dst, `<img alt='' style='display:block;flex:none;height:100%;object-fit:cover;border:0;background:#eee;width:`...)
		dst = strconv.AppendInt(dst, int64(max(h-2, 1)), 10)
		dst = append(dst, `px' src='`...)
		dst = escHTMLURL(dst, img)
		dst = append(dst, `'>`...)
	}
	dst = append(dst, `<span style='display:flex;flex-direction:column;justify-content:center;flex:1;min-width:0;`+
		`gap:2px;overflow:hidden;padding:0 `...)
	dst = strconv.AppendInt(dst, int64(pad), 10)
	dst = append(dst, `px'><strong style='line-height:1.2;`+ellipsis+`;font-size:`...)
	dst = strconv.AppendInt(dst, int64(hs), 10)
	dst = append(dst, `px'>`...)
	dst = escHTML(dst, headline)
	dst = append(dst, "</strong>"...)
	if !compact {
		if msg, ok := st.text(PartMessage); ok {
			dst = textSpan(dst, "color:#333;"+ellipsis+";font-size:", bs, msg)
		} else if o, ok := st.text(PartOffer); ok {
			dst = textSpan(dst, "color:#0a6e31;font-weight:bold;"+ellipsis+";font-size:", bs, o)
		}
	}
	dst = append(dst, "</span>"...)
	if cta, ok := st.text(PartCTA); ok {
		dst = append(dst, `<span style='flex:none;border-radius:4px;background:#111;color:#fff;font-weight:bold;`+
			`white-space:nowrap;padding:4px 10px;margin-right:`...)
		dst = strconv.AppendInt(dst, int64(pad), 10)
		dst = append(dst, `px;font-size:`...)
		dst = strconv.AppendInt(dst, int64(clampInt(bs, 10, 14)), 10)
		dst = append(dst, `px'>`...)
		dst = escHTML(dst, cta)
		dst = append(dst, "</span>"...)
	}
	return dst
}

// textSpan appends <span style='STYLEnpx'>text</span>.
func textSpan(dst []byte, style string, px int, text string) []byte {
	dst = append(dst, `<span style='`...)
	dst = append(dst, style...)
	dst = strconv.AppendInt(dst, int64(px), 10)
	dst = append(dst, `px'>`...)
	dst = escHTML(dst, text)
	return append(dst, "</span>"...)
}

// productInHeadline reports whether the chosen headline variant names the
// product itself, so the product line above it would repeat it.
func (st *state) productInHeadline() bool {
	i, def, ok := st.v.Pick(PartHeadline)
	if !ok {
		return false
	}
	ps := &st.pr.parts[PartHeadline]
	list := ps.byPhase[st.phase]
	if def {
		list = ps.def
	}
	return i < len(list) && list[i].uses(phProductName)
}
