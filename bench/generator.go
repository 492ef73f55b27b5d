package bench

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/prebid/openrtb/v20/adcom1"
	"github.com/prebid/openrtb/v20/openrtb2"
)

// Mix sets the shares of the request kinds a Generator produces; each is a
// probability in [0, 1].
type Mix struct {
	// App is the share of app requests; the rest are site requests.
	App float64
	// Native and Video are the shares of native and video imps; the rest are
	// banners. Connected TV requests are always video.
	Native, Video float64
	// MultiImp is the share of requests with two imps.
	MultiImp float64
	// Floors is the share of imps with a bidfloor.
	Floors float64
	// Deals is the share of imps with private marketplace deals.
	Deals float64
	// OffTarget is the share of requests outside what the demo campaigns buy: a
	// foreign country, an unusual size, an audio imp or a blocked category.
	OffTarget float64
	// GDPR is the share of European requests flagged regs.gdpr=1.
	GDPR float64
	// NoConsent is the share of regs.gdpr=1 requests without user.consent; another
	// equal share carries a consent string that refuses every purpose.
	NoConsent float64
	// COPPA is the share of requests flagged regs.coppa=1.
	COPPA float64
	// USPrivacy is the share of US requests carrying regs.us_privacy; a fifth of
	// them opt out of sale ("1YYN").
	USPrivacy float64
	// NoUser is the share of requests without a user object.
	NoUser float64
}

// DefaultMix is mostly biddable for the demo campaigns, with enough of
// everything else to exercise screening, consent and no-bid paths.
func DefaultMix() Mix {
	return Mix{
		App: 0.4, Native: 0.15, Video: 0.15, MultiImp: 0.1, Floors: 0.7, Deals: 0.08,
		OffTarget: 0.15, GDPR: 0.9, NoConsent: 0.1, COPPA: 0.02, USPrivacy: 0.5, NoUser: 0.05,
	}
}

// Validate reports the first share outside [0, 1].
func (m Mix) Validate() error {
	for _, f := range []struct {
		name string
		v    float64
	}{
		{"app", m.App}, {"native", m.Native}, {"video", m.Video}, {"multi_imp", m.MultiImp},
		{"floors", m.Floors}, {"deals", m.Deals}, {"off_target", m.OffTarget}, {"gdpr", m.GDPR},
		{"no_consent", m.NoConsent}, {"coppa", m.COPPA}, {"us_privacy", m.USPrivacy}, {"no_user", m.NoUser},
	} {
		if f.v < 0 || f.v > 1 || math.IsNaN(f.v) {
			return fmt.Errorf("mix.%s = %v: want a share in [0, 1]", f.name, f.v)
		}
	}
	if m.Native+m.Video > 1 {
		return fmt.Errorf("mix.native + mix.video = %v: more than 1", m.Native+m.Video)
	}
	if m.NoConsent > 0.5 {
		return fmt.Errorf("mix.no_consent = %v: at most 0.5 (an equal share refuses consent)", m.NoConsent)
	}
	return nil
}

// GeneratorConfig configures a Generator. Zero values mean defaults.
type GeneratorConfig struct {
	// Seed makes the corpus reproducible: the same seed and config give the same
	// requests byte for byte.
	Seed uint64
	// Mix sets the request kinds; nil means DefaultMix().
	Mix *Mix
	// KnownShare is the share of requests whose user is a known profile; zero
	// means none.
	KnownShare float64
	// KnownIDs are the known user ids to draw from, e.g. from ReadProfileIDs.
	KnownIDs []string
	// KnownUsers, used when KnownIDs is empty, draws known users from the
	// synthetic ids UserID(1..KnownUsers) that WriteProfiles writes.
	KnownUsers int
	// Now is the time written into consent strings; zero means 2026-01-01 UTC,
	// keeping the corpus independent of the wall clock.
	Now time.Time
}

// Validate reports the first invalid setting.
func (c GeneratorConfig) Validate() error {
	if c.KnownShare < 0 || c.KnownShare > 1 || math.IsNaN(c.KnownShare) {
		return fmt.Errorf("known_share = %v: want a share in [0, 1]", c.KnownShare)
	}
	if c.KnownShare > 0 && len(c.KnownIDs) == 0 && c.KnownUsers <= 0 {
		return errors.New("known_share > 0 needs known_ids or known_users")
	}
	if c.Mix != nil {
		return c.Mix.Validate()
	}
	return nil
}

// Generator produces realistic, varied OpenRTB 2.6 bid requests from a seed. It is
// not safe for concurrent use.
type Generator struct {
	cfg        GeneratorConfig
	mix        Mix
	rng        *rand.Rand
	consentYes string
	consentNo  string
	seq        uint64
}

// NewGenerator returns a Generator for cfg.
func NewGenerator(cfg GeneratorConfig) (*Generator, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("generator: %w", err)
	}
	mix := DefaultMix()
	if cfg.Mix != nil {
		mix = *cfg.Mix
	}
	now := cfg.Now
	if now.IsZero() {
		now = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	}
	return &Generator{
		cfg:        cfg,
		mix:        mix,
		rng:        rand.New(rand.NewPCG(cfg.Seed, 0x6b6169726f73)),
		consentYes: tcfConsent(now, 1<<10-1, 1500), // purposes 1–10, vendors 1–1500
		consentNo:  tcfConsent(now, 0, 0),
	}, nil
}

// Generate returns n new requests.
func (g *Generator) Generate(n int) (Corpus, error) {
	c := make(Corpus, 0, n)
	for range n {
		r, err := g.Next()
		if err != nil {
			return nil, err
		}
		c = append(c, r)
	}
	return c, nil
}

// Next returns one new request.
func (g *Generator) Next() (Request, error) {
	br := g.bidRequest()
	body, err := json.Marshal(br)
	if err != nil {
		return Request{}, fmt.Errorf("generate request %d: %w", g.seq, err)
	}
	r := Request{
		Name:     "gen-" + strconv.FormatUint(g.seq, 10),
		Body:     body,
		TMax:     time.Duration(br.TMax) * time.Millisecond,
		IDOffset: idOffset(body),
	}
	for _, imp := range br.Imp {
		i := Imp{ID: imp.ID, Floor: imp.BidFloor}
		if imp.PMP != nil {
			for _, d := range imp.PMP.Deals {
				i.Deals = append(i.Deals, Deal{ID: d.ID, Floor: d.BidFloor})
			}
		}
		r.Imps = append(r.Imps, i)
	}
	return r, nil
}

// Tables the generator draws from. Countries before offTargetCountry are the
// ones the demo campaigns target.
type country struct {
	code, region, city, lang, ip string
	utc                          int64
	weight                       float64
	eu                           bool
}

var countries = []country{
	{"DEU", "BE", "Berlin", "de", "203.0.113.", 60, 0.28, true},
	{"USA", "CA", "San Francisco", "en", "198.51.100.", -480, 0.20, false},
	{"GBR", "ENG", "London", "en", "192.0.2.", 0, 0.12, true},
	{"FRA", "IDF", "Paris", "fr", "203.0.113.", 60, 0.12, true},
	{"AUT", "9", "Vienna", "de", "198.51.100.", 60, 0.06, true},
	{"CHE", "ZH", "Zurich", "de", "192.0.2.", 60, 0.06, true},
	// off target
	{"ITA", "RM", "Rome", "it", "203.0.113.", 60, 0.3, true},
	{"ESP", "MD", "Madrid", "es", "198.51.100.", 60, 0.2, true},
	{"NLD", "NH", "Amsterdam", "nl", "192.0.2.", 60, 0.2, true},
	{"BRA", "SP", "Sao Paulo", "pt", "203.0.113.", -180, 0.15, false},
	{"JPN", "13", "Tokyo", "ja", "198.51.100.", 540, 0.15, false},
}

const offTargetCountry = 6

type size struct{ w, h int64 }

var (
	targetSizes     = []size{{300, 250}, {728, 90}, {320, 50}, {300, 600}}
	targetSizeShare = []float64{0.40, 0.25, 0.20, 0.15}
	mobileSizes     = []size{{320, 50}, {300, 250}}
	offTargetSizes  = []size{{160, 600}, {970, 250}, {468, 60}, {120, 600}}
)

type site struct{ domain, cat string }

var sites = []site{
	{"trailnews.example", "IAB17"}, {"runnersworld.example", "IAB17"},
	{"dailyherald.example", "IAB12"}, {"techpulse.example", "IAB19"},
	{"cookingcorner.example", "IAB8"}, {"autoblog.example", "IAB2"},
	{"sportsdesk.example", "IAB17"}, {"weatherhub.example", "IAB15"},
	{"financewire.example", "IAB13"}, {"travelnotes.example", "IAB20"},
	{"outdoorlife.example", "IAB17"}, {"healthline.example", "IAB7"},
	{"citynews.example", "IAB12"}, {"fashionfeed.example", "IAB18"},
}

var offTargetSites = []site{{"freebies.example", "IAB25"}, {"casinonight.example", "IAB9-7"}}

type app struct{ bundle, name, cat string }

var apps = []app{
	{"com.example.runtracker", "Run Tracker", "IAB17"},
	{"com.example.puzzlequest", "Puzzle Quest", "IAB9"},
	{"com.example.newsreader", "News Reader", "IAB12"},
	{"com.example.weather", "Weather Now", "IAB15"},
	{"com.example.fitcoach", "Fit Coach", "IAB7"},
	{"com.example.recipes", "Recipe Box", "IAB8"},
}

var ctvApps = []app{{"tv.example.streamer", "Streamer TV", "IAB1"}, {"tv.example.sportslive", "Sports Live", "IAB17"}}

type device struct {
	kind            adcom1.DeviceType
	ua, os, osv, mk string
	model           string
	w, h            int64
	mobile, hasIFA  bool
	connection      adcom1.ConnectionType
}

var (
	desktops = []device{
		{kind: adcom1.DevicePC, ua: "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36", os: "Windows", osv: "10", w: 1920, h: 1080, connection: adcom1.ConnectionEthernet},
		{kind: adcom1.DevicePC, ua: "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15", os: "macOS", osv: "14.5", mk: "Apple", w: 1440, h: 900, connection: adcom1.ConnectionWIFI},
		{kind: adcom1.DevicePC, ua: "Mozilla/5.0 (X11; Linux x86_64; rv:131.0) Gecko/20100101 Firefox/131.0", os: "Linux", w: 2560, h: 1440, connection: adcom1.ConnectionEthernet},
	}
	phones = []device{
		{kind: adcom1.DevicePhone, ua: "Mozilla/5.0 (iPhone; CPU iPhone OS 17_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.6 Mobile/15E148 Safari/604.1", os: "iOS", osv: "17.6", mk: "Apple", model: "iPhone", w: 390, h: 844, mobile: true, hasIFA: true, connection: adcom1.Connection4G},
		{kind: adcom1.DevicePhone, ua: "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Mobile Safari/537.36", os: "Android", osv: "14", mk: "Google", model: "Pixel 8", w: 412, h: 915, mobile: true, hasIFA: true, connection: adcom1.ConnectionWIFI},
		{kind: adcom1.DevicePhone, ua: "Mozilla/5.0 (Linux; Android 13; SM-S911B) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/129.0.0.0 Mobile Safari/537.36", os: "Android", osv: "13", mk: "Samsung", model: "SM-S911B", w: 360, h: 780, mobile: true, hasIFA: true, connection: adcom1.Connection5G},
	}
	tablets = []device{
		{kind: adcom1.DeviceTablet, ua: "Mozilla/5.0 (iPad; CPU OS 17_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.6 Mobile/15E148 Safari/604.1", os: "iPadOS", osv: "17.6", mk: "Apple", model: "iPad", w: 820, h: 1180, mobile: true, hasIFA: true, connection: adcom1.ConnectionWIFI},
		{kind: adcom1.DeviceTablet, ua: "Mozilla/5.0 (Linux; Android 14; SM-X710) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36", os: "Android", osv: "14", mk: "Samsung", model: "SM-X710", w: 800, h: 1280, mobile: true, hasIFA: true, connection: adcom1.ConnectionWIFI},
	}
	ctvs = []device{
		{kind: adcom1.DeviceTV, ua: "Mozilla/5.0 (SMART-TV; Linux; Tizen 7.0) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/5.0 TV Safari/537.36", os: "Tizen", osv: "7.0", mk: "Samsung", model: "QN90C", w: 1920, h: 1080, hasIFA: true, connection: adcom1.ConnectionEthernet},
		{kind: adcom1.DeviceTV, ua: "Roku/DVP-12.5 (12.5.0.4174)", os: "Roku OS", osv: "12.5", mk: "Roku", model: "Ultra", w: 3840, h: 2160, hasIFA: true, connection: adcom1.ConnectionWIFI},
	}
)

var dealIDs = []string{"deal-acme-premium", "deal-acme-sports", "deal-open-run", "deal-news-pmp"}

// nativeRequest is a Native Ads 1.2 request: title, main image, description, CTA.
const nativeRequest = `{"ver":"1.2","context":1,"plcmttype":1,"assets":[` +
	`{"id":1,"required":1,"title":{"len":90}},` +
	`{"id":2,"required":1,"img":{"type":3,"wmin":300,"hmin":250}},` +
	`{"id":3,"required":0,"data":{"type":2,"len":140}},` +
	`{"id":4,"required":0,"data":{"type":12,"len":15}}]}`

func (g *Generator) chance(p float64) bool { return g.rng.Float64() < p }

func (g *Generator) hex(n int) string {
	const digits = "0123456789abcdef"
	b := make([]byte, n)
	for i := range b {
		b[i] = digits[g.rng.IntN(16)]
	}
	return string(b)
}

func (g *Generator) uuid() string {
	return g.hex(8) + "-" + g.hex(4) + "-4" + g.hex(3) + "-a" + g.hex(3) + "-" + g.hex(12)
}

// pickWeighted returns an index drawn with the given weights.
func (g *Generator) pickWeighted(weights []float64) int {
	total := 0.0
	for _, w := range weights {
		total += w
	}
	x := g.rng.Float64() * total
	for i, w := range weights {
		if x < w {
			return i
		}
		x -= w
	}
	return len(weights) - 1
}

func (g *Generator) country(offTarget bool) country {
	lo, hi := 0, offTargetCountry
	if offTarget {
		lo, hi = offTargetCountry, len(countries)
	}
	weights := make([]float64, hi-lo)
	for i := range weights {
		weights[i] = countries[lo+i].weight
	}
	return countries[lo+g.pickWeighted(weights)]
}

// floor draws a CPM floor around 0.80 (video and deals run higher).
func (g *Generator) floor(scale float64) float64 {
	f := math.Exp(math.Log(0.8*scale) - 0.18 + 0.6*g.rng.NormFloat64())
	return math.Round(min(max(f, 0.05), 8)*100) / 100
}

func ptr[T any](v T) *T { return &v }

func (g *Generator) bidRequest() *openrtb2.BidRequest {
	g.seq++
	mix := g.mix
	off := g.chance(mix.OffTarget)
	// An off-target request misses on exactly one dimension.
	offWhat := -1
	if off {
		offWhat = g.rng.IntN(4) // 0 country, 1 size, 2 audio, 3 category
	}
	ctry := g.country(offWhat == 0)

	br := &openrtb2.BidRequest{
		ID:   g.hex(idHexLen),
		AT:   1,
		TMax: []int64{100, 120, 150, 200, 250}[g.rng.IntN(5)],
		Cur:  []string{"USD"},
		Source: &openrtb2.Source{
			TID: g.uuid(),
		},
	}
	if g.chance(0.15) {
		br.AT = 2
	}
	if g.chance(0.3) {
		br.BCat = []string{"IAB25", "IAB26"}
	}

	// Device and inventory.
	isApp := g.chance(mix.App)
	var dev device
	switch {
	case isApp && g.chance(0.15):
		dev = ctvs[g.rng.IntN(len(ctvs))]
	case isApp:
		if g.chance(0.75) {
			dev = phones[g.rng.IntN(len(phones))]
		} else {
			dev = tablets[g.rng.IntN(len(tablets))]
		}
	default:
		switch x := g.rng.Float64(); {
		case x < 0.45:
			dev = desktops[g.rng.IntN(len(desktops))]
		case x < 0.85:
			dev = phones[g.rng.IntN(len(phones))]
		default:
			dev = tablets[g.rng.IntN(len(tablets))]
		}
	}
	ctv := dev.kind == adcom1.DeviceTV

	pub := &openrtb2.Publisher{}
	if isApp {
		a := apps[g.rng.IntN(len(apps))]
		if ctv {
			a = ctvApps[g.rng.IntN(len(ctvApps))]
		}
		cat := a.cat
		if offWhat == 3 {
			cat = "IAB25"
		}
		pub.ID = "pub-" + strconv.Itoa(1+g.rng.IntN(40))
		br.App = &openrtb2.App{
			ID: "app-" + a.bundle, Name: a.name, Bundle: a.bundle, Cat: []string{cat},
			StoreURL:  "https://apps.example/store/" + a.bundle,
			Ver:       "3." + strconv.Itoa(g.rng.IntN(10)),
			Publisher: pub,
		}
	} else {
		s := sites[g.rng.IntN(len(sites))]
		if offWhat == 3 {
			s = offTargetSites[g.rng.IntN(len(offTargetSites))]
		}
		pub.ID = "pub-" + strconv.Itoa(1+g.rng.IntN(40))
		pub.Domain = s.domain
		page := "https://www." + s.domain + "/articles/" + strconv.Itoa(g.rng.IntN(100000))
		br.Site = &openrtb2.Site{
			ID: "site-" + s.domain, Domain: s.domain, Page: page, Cat: []string{s.cat},
			Publisher: pub,
		}
		if dev.mobile {
			br.Site.Mobile = ptr[int8](1)
		}
	}

	br.Device = &openrtb2.Device{
		UA: dev.ua, IP: ctry.ip + strconv.Itoa(1+g.rng.IntN(254)), DeviceType: dev.kind,
		Make: dev.mk, Model: dev.model, OS: dev.os, OSV: dev.osv, W: dev.w, H: dev.h,
		Language: ctry.lang, JS: ptr[int8](1), ConnectionType: ptr(dev.connection),
		Geo: &openrtb2.Geo{
			Country: ctry.code, Region: ctry.region, City: ctry.city,
			Type: adcom1.LocationIP, UTCOffset: ctry.utc,
		},
	}
	lmt := isApp && g.chance(0.1)
	if lmt {
		br.Device.Lmt = ptr[int8](1)
	}
	if isApp && dev.hasIFA && !lmt {
		br.Device.IFA = g.uuid()
	}

	// Impressions.
	nimp := 1
	if g.chance(mix.MultiImp) {
		nimp = 2
	}
	for i := range nimp {
		br.Imp = append(br.Imp, g.imp(i+1, dev, ctv, offWhat))
	}

	// User.
	if !g.chance(mix.NoUser) {
		br.User = &openrtb2.User{}
		if g.cfg.KnownShare > 0 && g.chance(g.cfg.KnownShare) {
			id := g.knownID()
			switch x := g.rng.Float64(); {
			case x < 0.1:
				br.User.ID = id
			case x < 0.2 && br.Device.IFA != "":
				br.Device.IFA = id
			default:
				br.User.BuyerUID = id
			}
		} else {
			br.User.BuyerUID = "x-" + g.hex(12)
		}
		if g.chance(0.3) {
			br.User.Yob = int64(1950 + g.rng.IntN(55))
		}
	}

	// Regulation and consent.
	regs := &openrtb2.Regs{}
	if ctry.eu {
		if g.chance(mix.GDPR) {
			regs.GDPR = ptr[int8](1)
			switch x := g.rng.Float64(); {
			case x < mix.NoConsent: // flagged, but no consent string at all
			case x < 2*mix.NoConsent:
				g.setConsent(br, g.consentNo)
			default:
				g.setConsent(br, g.consentYes)
			}
		}
	} else {
		if g.chance(0.5) {
			regs.GDPR = ptr[int8](0)
		}
		if ctry.code == "USA" && g.chance(mix.USPrivacy) {
			regs.USPrivacy = "1YNN"
			if g.chance(0.2) {
				regs.USPrivacy = "1YYN"
			}
		}
	}
	if g.chance(mix.COPPA) {
		regs.COPPA = 1
	}
	if regs.GDPR != nil || regs.COPPA != 0 || regs.USPrivacy != "" {
		br.Regs = regs
	}
	return br
}

func (g *Generator) setConsent(br *openrtb2.BidRequest, consent string) {
	if br.User == nil {
		br.User = &openrtb2.User{}
	}
	br.User.Consent = consent
}

func (g *Generator) knownID() string {
	if len(g.cfg.KnownIDs) > 0 {
		return g.cfg.KnownIDs[g.rng.IntN(len(g.cfg.KnownIDs))]
	}
	return UserID(1 + g.rng.IntN(g.cfg.KnownUsers))
}

func (g *Generator) imp(n int, dev device, ctv bool, offWhat int) openrtb2.Imp {
	mix := g.mix
	imp := openrtb2.Imp{
		ID:     strconv.Itoa(n),
		TagID:  "slot-" + strconv.Itoa(1+g.rng.IntN(12)),
		Secure: ptr[int8](1),
	}
	scale := 1.0
	switch x := g.rng.Float64(); {
	case offWhat == 2 && n == 1:
		imp.Audio = &openrtb2.Audio{
			MIMEs: []string{"audio/mp4", "audio/mpeg"}, MinDuration: 5, MaxDuration: 30,
			Protocols: []adcom1.MediaCreativeSubtype{adcom1.CreativeDAAST10},
		}
	case ctv || x < mix.Video:
		w, h := int64(640), int64(360)
		if ctv {
			w, h = 1920, 1080
		}
		imp.Video = &openrtb2.Video{
			MIMEs: []string{"video/mp4", "video/webm"}, MinDuration: 5, MaxDuration: 30,
			Protocols: []adcom1.MediaCreativeSubtype{adcom1.CreativeVAST20, adcom1.CreativeVAST30,
				adcom1.CreativeVAST20Wrapper, adcom1.CreativeVAST30Wrapper, adcom1.CreativeVAST40},
			W: &w, H: &h, Plcmt: adcom1.VideoPlcmtInstream, Linearity: adcom1.LinearityLinear,
			StartDelay: ptr(adcom1.StartPreRoll),
		}
		scale = 2.5
	case x < mix.Video+mix.Native:
		imp.Native = &openrtb2.Native{Request: nativeRequest, Ver: "1.2"}
	default:
		sz := targetSizes[g.pickWeighted(targetSizeShare)]
		if dev.kind == adcom1.DevicePhone {
			sz = mobileSizes[g.rng.IntN(len(mobileSizes))]
		}
		if offWhat == 1 && n == 1 {
			sz = offTargetSizes[g.rng.IntN(len(offTargetSizes))]
		}
		w, h := sz.w, sz.h
		imp.Banner = &openrtb2.Banner{W: &w, H: &h, Pos: ptr(adcom1.PositionAboveFold)}
		if g.chance(0.3) {
			imp.Banner.Format = []openrtb2.Format{{W: w, H: h}, {W: 336, H: 280}}
		}
	}
	if g.chance(mix.Floors) {
		imp.BidFloor = g.floor(scale)
		imp.BidFloorCur = "USD"
	}
	if g.chance(mix.Deals) {
		imp.PMP = &openrtb2.PMP{}
		if g.chance(0.3) {
			imp.PMP.PrivateAuction = 1
		}
		for range 1 + g.rng.IntN(2) {
			imp.PMP.Deals = append(imp.PMP.Deals, openrtb2.Deal{
				ID: dealIDs[g.rng.IntN(len(dealIDs))], BidFloor: g.floor(2.5), BidFloorCur: "USD", AT: 1,
			})
		}
	}
	return imp
}
