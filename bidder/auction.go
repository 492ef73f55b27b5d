package bidder

import (
	"math/bits"
	"strconv"
	"time"

	"github.com/kairos-rtb/kairos/campaigns"
	"github.com/kairos-rtb/kairos/consent"
	"github.com/kairos-rtb/kairos/creatives"
	"github.com/kairos-rtb/kairos/holdout"
	"github.com/kairos-rtb/kairos/money"
	"github.com/kairos-rtb/kairos/pacing"
	"github.com/kairos-rtb/kairos/quality"
	"github.com/kairos-rtb/kairos/reports"
	"github.com/kairos-rtb/kairos/segments"
	"github.com/kairos-rtb/kairos/shading"
	"github.com/prebid/openrtb/v20/openrtb2"
)

// reqState is the per-request working memory, pooled and reset between requests.
type reqState struct {
	req      openrtb2.BidRequest
	body     []byte
	out      []byte
	adm      []byte
	exchange string
	res      segments.Result
	phase    segments.Phase
	known    bool
	cur      string
	scratch  campaigns.Scratch
	cands    []*campaigns.Compiled
	sizes    []campaigns.Size
	bids     []bidOut
	priced   []candidate
	cimp     creatives.Imp
	keywords string
	urls     []byte
	user     string // resolved user id when personal data may be used, else ""
	rng      uint64
	now      time.Time    // business clock (Deps.Clock): flights, pacing, reports
	start    time.Time    // real clock (Deps.Now): the deadline
	dims     reports.Dims // the request's report dimensions (no campaign)
	bidDims  reports.Dims // dims of one bid, for counting
	consent  consent.Decision
	schain   quality.SChainStatus
	detail   string // the screen's reason for invalid traffic, for reports
	// notice is the bid being assembled, for TrackingURLs; srv is the
	// server that signs its URLs.
	notice pacing.Notice
	srv    *Server
	// signed is where TrackingURLs also put the bid's notice URLs (win,
	// billing, loss), signed for notice as it stood then: ends of the three
	// URLs in urls, the first starting at from.
	signed struct {
		ok   bool
		from int
		ends [3]int
	}
}

// rand returns the next number of the request's xorshift sequence, for pacing
// participation draws.
func (st *reqState) rand() uint64 {
	x := st.rng
	x ^= x << 13
	x ^= x >> 7
	x ^= x << 17
	st.rng = x
	return x
}

// bidOut is one bid, its markup a window into reqState.adm.
type bidOut struct {
	imp      *openrtb2.Imp
	c        *campaigns.Compiled
	cr       *campaigns.CompiledCreative
	price    money.Micros // CPM in the response currency
	cpm      money.Micros // CPM in the campaign currency
	w, h     int64
	mtype    openrtb2.MarkupType
	dealID   string
	admStart int
	admEnd   int
	cridEnd  int // crid is adm[admEnd:cridEnd]
	id       [128]byte
	idLen    int
	res      pacing.Reservation
	reserved bool
	// nurl, burl and lurl are windows [start,end) into reqState.urls.
	nurl, burl, lurl [2]int
}

func (st *reqState) reset() {
	st.req = openrtb2.BidRequest{}
	st.body = st.body[:0]
	st.out = st.out[:0]
	st.adm = st.adm[:0]
	st.exchange = ""
	st.res.Reset()
	st.phase = segments.PhaseUnknown
	st.known = false
	st.cur = ""
	clear(st.cands)
	st.cands = st.cands[:0]
	st.sizes = st.sizes[:0]
	clear(st.bids)
	st.bids = st.bids[:0]
	clear(st.priced)
	st.priced = st.priced[:0]
	st.cimp.Reset()
	st.keywords = ""
	st.urls = st.urls[:0]
	st.user = ""
	st.dims = reports.Dims{}
	st.bidDims = reports.Dims{}
	st.consent = consent.Decision{}
	st.schain = quality.SChainStatus{}
	st.detail = ""
	st.notice = pacing.Notice{}
	st.signed.ok = false
	st.srv = nil
}

// auction decides the request: it fills st.bids and returns ReasonNone, or
// returns why nothing was bid.
func (s *Server) auction(st *reqState, now, deadline time.Time) Reason {
	req := &st.req
	seat := s.cfg.Seat
	if len(req.WSeat) > 0 && !contains(req.WSeat, seat) || contains(req.BSeat, seat) {
		return ReasonSeat
	}
	if sc := s.deps.Screener; sc != nil {
		if v := sc.Screen(req); !v.OK {
			st.detail = v.Reason.String()
			return ReasonInvalidTraffic
		}
		st.schain = sc.SupplyChain(req)
	}
	st.consent = s.deps.Consent.Decide(req)
	if !st.consent.Contextual {
		st.detail = st.consent.Reason.String()
		return ReasonConsent
	}
	if !s.pickCurrency(st) {
		return ReasonCurrency
	}
	ix := s.deps.Campaigns.Index()
	if ix.Len() == 0 {
		return ReasonNoCampaign
	}
	s.lookupProfile(st, deadline)

	q := campaigns.Query{Country: st.dims.Country, Device: campaigns.Device(st.dims.Device), Phase: st.phase}
	st.keywords = creatives.KeywordsOf(req)
	domain, bundle, pageCats := inventory(req)
	best := ReasonNoImps
	for i := range req.Imp {
		imp := &req.Imp[i]
		r := s.bidImp(st, ix, &q, imp, now, domain, bundle, pageCats)
		if r == ReasonNone {
			best = ReasonNone
		} else if best != ReasonNone && r > best {
			best = r
		}
	}
	return best
}

// lookupProfile reads the user's profile within the deadline when regulation
// and consent allow personal data; otherwise, or when the lookup is late or
// fails, the request is decided as contextual (phase unknown).
func (s *Server) lookupProfile(st *reqState, deadline time.Time) {
	if s.deps.Profiles == nil {
		return
	}
	if !st.consent.Personal {
		return // no profile read, no user-keyed counter, no user id in notices
	}
	user := segments.ResolveUser(&st.req)
	if user == "" {
		return
	}
	if limit := st.start.Add(s.cfg.LookupTimeout); limit.Before(deadline) {
		deadline = limit
	}
	err := s.deps.Profiles.GetUntil(deadline, user, &st.res)
	if err != nil {
		if m := s.deps.Metrics; m != nil {
			m.LookupErrors.Inc()
		}
		st.res.Reset()
		return
	}
	// The user's frequency counters count whether or not a profile exists.
	st.user = user
	if st.res.Found {
		st.known = true
		st.phase = st.res.Profile.Phase
	}
}

// pickCurrency chooses the response currency: the first of the request's cur
// that Kairos has a rate for (the base currency when cur is empty).
func (s *Server) pickCurrency(st *reqState) bool {
	if len(st.req.Cur) == 0 {
		st.cur = s.rates.Base()
		return true
	}
	for _, c := range st.req.Cur {
		if s.rates.Known(c) {
			st.cur = c
			return true
		}
	}
	return false
}

func inventory(req *openrtb2.BidRequest) (domain, bundle string, cats [3][]string) {
	if req.Site != nil {
		domain = req.Site.Domain
		if domain == "" && req.Site.Publisher != nil {
			domain = req.Site.Publisher.Domain
		}
		cats[0], cats[1] = req.Site.Cat, req.Site.PageCat
		if req.Site.Content != nil {
			cats[2] = req.Site.Content.Cat
		}
	}
	if req.App != nil {
		bundle = req.App.Bundle
		if cats[0] == nil {
			cats[0] = req.App.Cat
		}
		if cats[2] == nil && req.App.Content != nil {
			cats[2] = req.App.Content.Cat
		}
	}
	return domain, bundle, cats
}

// impFormats returns the formats an impression accepts and fills st.sizes with
// its banner sizes (banner.w/h first, then banner.format[]).
func impFormats(st *reqState, imp *openrtb2.Imp) campaigns.Format {
	var f campaigns.Format
	st.sizes = st.sizes[:0]
	if b := imp.Banner; b != nil {
		if b.W != nil && b.H != nil && *b.W > 0 && *b.H > 0 {
			st.sizes = append(st.sizes, campaigns.Size{W: int(*b.W), H: int(*b.H)})
		}
		for _, fm := range b.Format {
			if fm.W > 0 && fm.H > 0 {
				st.sizes = append(st.sizes, campaigns.Size{W: int(fm.W), H: int(fm.H)})
			}
		}
		if len(st.sizes) > 0 {
			f |= campaigns.FormatBanner
		}
	}
	if imp.Native != nil && imp.Native.Request != "" {
		f |= campaigns.FormatNative
	}
	if imp.Video != nil {
		f |= campaigns.FormatVideo
	}
	return f
}

// detailNames are the report names of no-bids with a detail ("invalid_traffic/ua_bot",
// "consent/gdpr_vendor"), built once so counting does not concatenate.
var detailNames = func() map[Reason]map[string]string {
	m := map[Reason]map[string]string{ReasonInvalidTraffic: {}, ReasonConsent: {}}
	for _, r := range quality.Reasons() {
		m[ReasonInvalidTraffic][r] = "invalid_traffic/" + r
	}
	for _, r := range consent.Reasons() {
		m[ReasonConsent][r] = "consent/" + r
	}
	return m
}()

// formatCode is the reports' code of a single format bit: 1 banner, 2 native,
// 3 video, 4 audio.
func formatCode(f campaigns.Format) uint8 {
	if f == 0 {
		return 0
	}
	return uint8(bits.TrailingZeros8(uint8(f))) + 1
}

// fillDims sets the request's report dimensions; they also feed targeting.
func fillDims(st *reqState) {
	req := &st.req
	d := &st.dims
	d.Exchange = st.exchange
	d.Country = country(req)
	d.Device = uint8(device(req))
	d.Hour = st.now.Unix() / 3600
	switch {
	case req.Site != nil && req.Site.Domain != "":
		d.Publisher = req.Site.Domain
	case req.App != nil && req.App.Bundle != "":
		d.Publisher = req.App.Bundle
	case req.Site != nil && req.Site.Publisher != nil:
		d.Publisher = req.Site.Publisher.Domain
	}
}

// count files the request's outcome with the report counter.
func (s *Server) count(st *reqState, reason Reason) {
	rc := s.deps.Reports
	if rc == nil {
		return
	}
	if reason != ReasonNone {
		name := reason.String()
		if d, ok := detailNames[reason][st.detail]; ok {
			name = d
		}
		rc.NoBid(&st.dims, name)
		return
	}
	// The bids' dimensions live in st: a local would escape to the
	// interface call (one allocation per request).
	d := &st.bidDims
	*d = st.dims
	d.Phase = uint8(st.phase)
	for i := range st.bids {
		b := &st.bids[i]
		d.Campaign = b.c.ID
		d.Variant = unsafeString(st.adm[b.admEnd:b.cridEnd])
		d.Format = formatCode(formatOf(b.mtype))
		rc.Bid(d, b.cpm)
	}
}

func formatOf(m openrtb2.MarkupType) campaigns.Format {
	switch m {
	case openrtb2.MarkupBanner:
		return campaigns.FormatBanner
	case openrtb2.MarkupVideo:
		return campaigns.FormatVideo
	case openrtb2.MarkupAudio:
		return campaigns.FormatAudio
	case openrtb2.MarkupNative:
		return campaigns.FormatNative
	}
	return 0
}

// candidate is a campaign that passed every rule for an impression, priced.
type candidate struct {
	c      *campaigns.Compiled
	cr     *campaigns.CompiledCreative
	price  money.Micros // CPM in the response currency
	cpm    money.Micros // CPM in the campaign currency
	floor  money.Micros // the impression's or deal's floor, response currency
	dealID string
	fixed  bool // a fixed-price deal (at=3): never shaded
	size   campaigns.Size
	format campaigns.Format
}

// maxAssembleTries bounds how many priced candidates an impression tries when
// the best one's creative cannot be assembled (native assets, purchased product).
const maxAssembleTries = 3

// bidImp finds the best campaign for one impression and appends its bid.
func (s *Server) bidImp(st *reqState, ix *campaigns.Index, q *campaigns.Query, imp *openrtb2.Imp,
	now time.Time, domain, bundle string, pageCats [3][]string) Reason {
	q.Formats = impFormats(st, imp)
	if q.Formats == 0 {
		return ReasonNoImps
	}
	q.Sizes = st.sizes
	q.Deals, q.Private = q.Deals[:0], false
	if imp.PMP != nil {
		q.Private = imp.PMP.PrivateAuction == 1
		for i := range imp.PMP.Deals {
			d := &imp.PMP.Deals[i]
			if len(d.WSeat) == 0 || contains(d.WSeat, s.cfg.Seat) {
				q.Deals = append(q.Deals, d.ID)
			}
		}
	}
	floor, ok := s.rates.Convert(money.FromFloat(imp.BidFloor), imp.BidFloorCur, st.cur)
	if !ok {
		return ReasonCurrency
	}
	st.cands = ix.Candidates(q, &st.scratch, st.cands[:0])
	if len(st.cands) == 0 {
		return ReasonNoCampaign
	}
	req := &st.req
	secure := imp.Secure != nil && *imp.Secure == 1
	if secure && !s.secureTracking {
		return ReasonCreative // our click and notice URLs would be http on an https page
	}
	battr := attrBits(imp)
	reason := ReasonTargeting
	st.priced = st.priced[:0]
	for _, c := range st.cands {
		if !c.InFlight(now) || !c.ExchangeAllowed(st.exchange) ||
			(domain != "" && !c.DomainAllowed(domain)) || (bundle != "" && !c.DomainAllowed(bundle)) ||
			c.CategoryBlocked(pageCats[0]) || c.CategoryBlocked(pageCats[1]) || c.CategoryBlocked(pageCats[2]) ||
			blockedAd(req, c) {
			continue
		}
		if c.ConsentRequired() && !st.consent.Personal {
			reason = maxReason(reason, ReasonConsent)
			continue
		}
		if r := c.SupplyChain; (r.Complete && !st.schain.Complete) || (r.AllowedSellers && !st.schain.AllowedSellers) {
			reason = maxReason(reason, ReasonSupplyChain)
			continue
		}
		if st.user != "" && c.FrequencyCap != nil &&
			st.res.Count(c.ID, time.Duration(c.FrequencyCap.Window), now) >= c.FrequencyCap.Impressions {
			reason = maxReason(reason, ReasonFrequency)
			continue
		}
		cr, fmtChosen, size := pickCreative(c, q.Formats, st.sizes, secure, battr)
		if cr == nil {
			reason = maxReason(reason, ReasonCreative)
			continue
		}
		price, ok := s.rates.Convert(c.Prices[st.phase], c.Budget.Currency, st.cur)
		if !ok {
			reason = maxReason(reason, ReasonCurrency)
			continue
		}
		dealID, fixed := "", false
		minPrice := floor
		if len(c.Targeting.Deals) > 0 {
			d := matchDeal(imp, c, s.cfg.Seat)
			if d == nil {
				continue
			}
			dealID, fixed = d.ID, d.AT == 3
			if d.BidFloor > 0 {
				df, ok := s.rates.Convert(money.FromFloat(d.BidFloor), d.BidFloorCur, st.cur)
				if !ok {
					reason = maxReason(reason, ReasonCurrency)
					continue
				}
				minPrice = df
			}
		}
		if price < minPrice || price <= 0 {
			reason = maxReason(reason, ReasonFloor)
			continue
		}
		if s.deps.Pacer != nil && !s.deps.Pacer.Allow(c, st.rand()) {
			reason = maxReason(reason, ReasonPacing)
			continue
		}
		st.priced = append(st.priced, candidate{c: c, cr: cr, price: price, cpm: c.Prices[st.phase],
			floor: minPrice, dealID: dealID, fixed: fixed, size: size, format: fmtChosen})
	}
	// Only assembly failures count towards maxAssembleTries: a candidate
	// whose budget lease is empty or whose user is held out costs next to
	// nothing to pass over, and several exhausted campaigns outbidding a
	// live one must not leave the impression without a bid.
	for assembled := 0; assembled < maxAssembleTries && len(st.priced) > 0; {
		best := 0
		for i := 1; i < len(st.priced); i++ {
			if st.priced[i].price > st.priced[best].price {
				best = i
			}
		}
		cand := st.priced[best]
		r := s.holdOut(st, &cand)
		if r == ReasonNone {
			s.shade(st, &cand)
			r = s.appendBid(st, imp, &cand)
		}
		if r == ReasonNone {
			return ReasonNone
		}
		if r == ReasonCreative {
			assembled++
		}
		reason = maxReason(reason, r)
		st.priced[best] = st.priced[len(st.priced)-1]
		st.priced = st.priced[:len(st.priced)-1]
	}
	return reason
}

// holdOut decides whether the user sees the candidate's campaign at all. A
// user in the campaign's holdout group gets no bid from it: the bid Kairos
// would have sent is recorded as a ghost bid, as exposed users' bids are
// recorded before they are tried, so the lift report compares like with like.
func (s *Server) holdOut(st *reqState, cand *candidate) Reason {
	h := s.deps.Holdout
	if h == nil || st.user == "" {
		return ReasonNone
	}
	g := h.Assign(st.user, cand.c.ID)
	h.Record(g, cand.c.ID, st.user, cand.cpm, st.now)
	if g == holdout.GroupGhost {
		return ReasonHoldout
	}
	return ReasonNone
}

// shade lowers the candidate's price in a first-price auction to what the
// win rates learnt for its campaign, phase and publisher say maximises the
// surplus, never below its floor nor above the unshaded price.
func (s *Server) shade(st *reqState, cand *candidate) {
	sh := s.deps.Shader
	if sh == nil {
		return
	}
	cur := cand.c.Budget.Currency
	floor, ok := s.rates.Convert(cand.floor, st.cur, cur)
	if !ok {
		return
	}
	key := shading.Key{Campaign: cand.c.ID, Phase: st.phase, Publisher: st.dims.Publisher}
	cpm := sh.Price(key, cand.cpm, floor, st.req.AT == 1 && !cand.fixed, st.rand())
	if cpm >= cand.cpm {
		return
	}
	price, ok := s.rates.Convert(cpm, cur, st.cur)
	if !ok || price < cand.floor || price <= 0 {
		return // rounding across currencies would undercut the floor
	}
	cand.cpm, cand.price = cpm, price
}

// appendBid reserves the candidate's price from its budget, assembles its
// creative and appends the bid with its signed notice URLs. Any other result
// than ReasonNone means this candidate cannot bid (and holds no reservation).
func (s *Server) appendBid(st *reqState, imp *openrtb2.Imp, cand *candidate) Reason {
	// The bid is built in place at the end of st.bids (the creative's bid id
	// points into it, so a local would escape: one allocation per bid) and
	// dropped again when it cannot bid.
	st.bids = append(st.bids, bidOut{imp: imp, c: cand.c, cr: cand.cr, price: cand.price, cpm: cand.cpm, dealID: cand.dealID})
	b := &st.bids[len(st.bids)-1]
	if r := s.fillBid(st, imp, cand, b); r != ReasonNone {
		*b = bidOut{}
		st.bids = st.bids[:len(st.bids)-1]
		return r
	}
	return ReasonNone
}

// fillBid completes b, the last of st.bids, for cand (see appendBid).
func (s *Server) fillBid(st *reqState, imp *openrtb2.Imp, cand *candidate, b *bidOut) Reason {
	switch cand.format {
	case campaigns.FormatBanner:
		b.w, b.h, b.mtype = int64(cand.size.W), int64(cand.size.H), openrtb2.MarkupBanner
	case campaigns.FormatNative:
		b.mtype = openrtb2.MarkupNative
	case campaigns.FormatVideo:
		b.mtype = openrtb2.MarkupVideo
		if v := imp.Video; v != nil && v.W != nil && v.H != nil {
			b.w, b.h = *v.W, *v.H
		}
	}
	if err := st.cimp.FromOpenRTB(imp, cand.format, cand.size.W, cand.size.H); err != nil {
		return ReasonCreative
	}
	st.cimp.Keywords = st.keywords
	var n pacing.Notice
	if p := s.deps.Pacer; p != nil {
		res, why := p.Reserve(cand.c, cand.cpm, st.now)
		if why != pacing.ReasonNone {
			return ReasonPacing
		}
		b.res, b.reserved = res, true
		id := append(b.id[:0], cand.c.ID...)
		id = append(id, '.')
		id = res.AppendBidID(id)
		b.idLen = copy(b.id[:], id) // ids fit: campaign ≤ 63 bytes, holder and sequence ≤ 40
		res.Fill(&n)
		n.ImpID, n.Price, n.Currency = imp.ID, cand.price, st.cur
		n.Phase, n.Exchange, n.User = uint8(st.phase), st.exchange, st.user
		n.Publisher, n.Country, n.Device = st.dims.Publisher, st.dims.Country, st.dims.Device
		n.Format, n.BidTime = formatCode(cand.format), st.now.Unix()
		n.CreativeID = cand.cr.ID
		// The click and impression URLs name the variant, which the
		// assembler chooses: it asks st (TrackingURLs) once it has.
		st.notice, st.srv = n, s
		st.cimp.Tracker = st
	} else {
		b.idLen = len(s.nextBidID(b.id[:0]))
	}
	st.cimp.BidID = unsafeString(b.id[:b.idLen])
	var prof *segments.Profile
	if st.known {
		prof = &st.res.Profile
	}
	b.admStart = len(st.adm)
	st.signed.ok = false
	adm, v, err := s.deps.Assembler.Assemble(st.adm, cand.c, cand.cr, prof, &st.cimp)
	if err != nil {
		st.adm = st.adm[:b.admStart]
		if b.reserved {
			s.deps.Pacer.Cancel(&b.res)
		}
		return ReasonCreative
	}
	st.adm = adm
	b.admEnd = len(st.adm)
	st.adm = v.AppendCrid(st.adm)
	b.cridEnd = len(st.adm)
	if b.reserved {
		n.CreativeID = unsafeString(st.adm[b.admEnd:b.cridEnd])
		n.VariantPhase = uint8(v.Phase) // the bandit learns under it
		start, ends := st.signed.from, st.signed.ends
		// TrackingURLs signed them already, unless the assembler asked for no
		// tracking URLs or settled on another variant after asking.
		if !st.signed.ok || st.notice.CreativeID != n.CreativeID || st.notice.VariantPhase != n.VariantPhase {
			start = len(st.urls)
			st.urls = s.deps.Signer.AppendNoticeURLs(st.urls, s.cfg.PublicURL, &n, noticeKinds[:], ends[:])
		}
		b.nurl = [2]int{start, ends[0]}
		b.burl = [2]int{ends[0], ends[1]}
		b.lurl = [2]int{ends[1], ends[2]}
	}
	return ReasonNone
}

// TrackingURLs signs the click and impression URLs of the bid being assembled
// for the variant v (creatives.Tracker). They are appended to st.urls, which
// only grows within a request: the strings stay valid until it is released.
func (st *reqState) TrackingURLs(v creatives.Variant) (click, impression string) {
	n := &st.notice
	start := len(st.urls)
	st.urls = v.AppendCrid(st.urls)
	n.CreativeID = unsafeString(st.urls[start:])
	n.VariantPhase = uint8(v.Phase)
	// The notice URLs (win, billing, loss) cover the same fields: signing
	// them in the same call builds and escapes the query once for all five.
	var ends [5]int
	start = len(st.urls)
	st.urls = st.srv.deps.Signer.AppendNoticeURLs(st.urls, st.srv.cfg.PublicURL, n, bidKinds[:], ends[:])
	st.signed.ok, st.signed.from, st.signed.ends = true, ends[1], [3]int{ends[2], ends[3], ends[4]}
	return unsafeString(st.urls[start:ends[0]]), unsafeString(st.urls[ends[0]:ends[1]])
}

var _ creatives.Tracker = (*reqState)(nil)

// The URLs of a bid: the click and impression URLs in the ad markup (signed
// once the assembler has chosen the variant), then the exchange's notice URLs.
var (
	noticeKinds = [3]pacing.Kind{pacing.KindWin, pacing.KindBill, pacing.KindLoss}
	bidKinds    = [5]pacing.Kind{pacing.KindClick, pacing.KindImp, pacing.KindWin, pacing.KindBill, pacing.KindLoss}
)

// cancelBids returns the reservations of bids that will not be sent.
func (s *Server) cancelBids(st *reqState) {
	for i := range st.bids {
		if st.bids[i].reserved {
			s.deps.Pacer.Cancel(&st.bids[i].res)
		}
	}
}

func maxReason(a, b Reason) Reason {
	if b > a {
		return b
	}
	return a
}

// blockedAd applies the request's blocked advertiser domains (badv) and blocked
// ad categories (bcat) to the campaign.
func blockedAd(req *openrtb2.BidRequest, c *campaigns.Compiled) bool {
	for _, b := range req.BAdv {
		for _, d := range c.ADomain {
			if b == d {
				return true
			}
		}
	}
	for _, b := range req.BCat {
		for _, cat := range c.Categories {
			if campaigns.CategoryCovers(b, cat) {
				return true
			}
		}
	}
	return false
}

func attrBits(imp *openrtb2.Imp) uint32 {
	var bits uint32
	add := func(n int) {
		if n > 0 && n < 32 {
			bits |= 1 << uint(n)
		}
	}
	if imp.Banner != nil {
		for _, a := range imp.Banner.BAttr {
			add(int(a))
		}
	}
	if imp.Video != nil {
		for _, a := range imp.Video.BAttr {
			add(int(a))
		}
	}
	if imp.Native != nil {
		for _, a := range imp.Native.BAttr {
			add(int(a))
		}
	}
	return bits
}

// pickCreative returns the campaign's first creative that fits the impression:
// banner (in the impression's size order), then native, then video.
func pickCreative(c *campaigns.Compiled, formats campaigns.Format, sizes []campaigns.Size, secure bool,
	battr uint32) (*campaigns.CompiledCreative, campaigns.Format, campaigns.Size) {
	for _, f := range [...]campaigns.Format{campaigns.FormatBanner, campaigns.FormatNative, campaigns.FormatVideo} {
		if formats&f == 0 {
			continue
		}
		for i := range c.Creatives {
			cr := &c.Creatives[i]
			if cr.Formats&f == 0 || (secure && !cr.Secure) || cr.Attrs&battr != 0 {
				continue
			}
			if f != campaigns.FormatBanner {
				return cr, f, campaigns.Size{}
			}
			for _, s := range sizes {
				for _, cs := range cr.Sizes {
					if cs == s {
						return cr, f, s
					}
				}
			}
		}
	}
	return nil, 0, campaigns.Size{}
}

func matchDeal(imp *openrtb2.Imp, c *campaigns.Compiled, seat string) *openrtb2.Deal {
	if imp.PMP == nil {
		return nil
	}
	for i := range imp.PMP.Deals {
		d := &imp.PMP.Deals[i]
		if len(d.WSeat) > 0 && !contains(d.WSeat, seat) {
			continue
		}
		if contains(c.Targeting.Deals, d.ID) {
			return d
		}
	}
	return nil
}

func contains(list []string, v string) bool {
	for _, s := range list {
		if s == v {
			return true
		}
	}
	return false
}

// nextBidID appends a bid id unique across instances: a random per-process
// prefix and a counter.
func (s *Server) nextBidID(dst []byte) []byte {
	dst = append(dst, s.prefix[:]...)
	return strconv.AppendUint(dst, s.seq.Add(1), 36)
}

// encode appends the BidResponse JSON for st.bids.
func (s *Server) encode(dst []byte, st *reqState) []byte {
	dst = append(dst, `{"id":`...)
	dst = appendJSONString(dst, st.req.ID)
	dst = append(dst, `,"seatbid":[{"seat":`...)
	dst = appendJSONString(dst, s.cfg.Seat)
	dst = append(dst, `,"bid":[`...)
	for i := range st.bids {
		b := &st.bids[i]
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, `{"id":`...)
		dst = appendJSONBytes(dst, b.id[:b.idLen])
		dst = appendStringField(dst, "impid", b.imp.ID)
		dst = append(dst, `,"price":`...)
		dst = strconv.AppendFloat(dst, b.price.Float(), 'f', -1, 64)
		dst = append(dst, `,"adm":`...)
		dst = appendJSONBytes(dst, st.adm[b.admStart:b.admEnd])
		dst = appendStringList(dst, "adomain", b.c.ADomain)
		dst = append(dst, `,"crid":`...)
		dst = appendJSONBytes(dst, st.adm[b.admEnd:b.cridEnd])
		dst = appendStringField(dst, "cid", b.c.ID)
		if len(b.c.Categories) > 0 {
			dst = appendStringList(dst, "cat", b.c.Categories)
		}
		if b.w > 0 && b.h > 0 {
			dst = appendIntField(dst, "w", b.w)
			dst = appendIntField(dst, "h", b.h)
		}
		if b.dealID != "" {
			dst = appendStringField(dst, "dealid", b.dealID)
		}
		dst = appendIntField(dst, "mtype", int64(b.mtype))
		if b.reserved {
			dst = append(dst, `,"nurl":`...)
			dst = appendJSONBytes(dst, st.urls[b.nurl[0]:b.nurl[1]])
			dst = append(dst, `,"burl":`...)
			dst = appendJSONBytes(dst, st.urls[b.burl[0]:b.burl[1]])
			dst = append(dst, `,"lurl":`...)
			dst = appendJSONBytes(dst, st.urls[b.lurl[0]:b.lurl[1]])
		}
		dst = append(dst, '}')
	}
	dst = append(dst, `]}],"cur":`...)
	dst = appendJSONString(dst, st.cur)
	return append(dst, '}')
}
