package campaigns

import (
	"math/bits"
	"strings"
	"time"

	"github.com/kairos-rtb/kairos/money"
	"github.com/kairos-rtb/kairos/segments"
)

// Format is an ad format bit.
type Format uint8

// The ad formats a campaign file names.
const (
	FormatBanner Format = 1 << iota
	FormatNative
	FormatVideo
	FormatAudio
)

func formatBit(name string) Format {
	switch name {
	case "banner":
		return FormatBanner
	case "native":
		return FormatNative
	case "video":
		return FormatVideo
	case "audio":
		return FormatAudio
	}
	return 0
}

// Device is a device class of the campaign file.
type Device uint8

// The device classes; DeviceUnknown matches only campaigns without device targeting.
const (
	DeviceUnknown Device = iota
	DeviceDesktop
	DeviceMobile
	DeviceTablet
	DeviceCTV
	numDevices
)

func deviceOf(name string) Device {
	for i, n := range Devices {
		if n == name {
			return Device(i + 1)
		}
	}
	return DeviceUnknown
}

// Compiled is a campaign prepared for matching: parsed times, per-phase prices,
// and sets for the per-request checks. It is immutable.
type Compiled struct {
	*Campaign
	// Ord is the campaign's position in its Index.
	Ord int
	// Loc is the campaign's time zone.
	Loc *time.Location
	// StartUnix and EndUnix bound the flight in Unix seconds, end exclusive.
	StartUnix, EndUnix int64
	// Prices is the CPM bid per phase in the budget currency (0 = phase excluded).
	Prices [segments.NumPhases]money.Micros
	// Creatives are the campaign's creatives with their match data.
	Creatives []CompiledCreative

	allowDomains map[string]struct{}
	blockDomains map[string]struct{}
	dayparts     [7][]minuteSpan
	hasDayparts  bool
	exchanges    map[string]struct{}
}

// CompiledCreative is a creative with its formats as bits and sizes resolved.
type CompiledCreative struct {
	*Creative
	Formats Format
	// Sizes are the banner sizes the creative may serve (its own, narrowed by the
	// campaign's targeting sizes).
	Sizes []Size
	// Secure reports whether every URL of the creative is https.
	Secure bool
	// Attrs is a bit set of the creative's IAB attributes (bit n = attribute n).
	Attrs uint32
}

type minuteSpan struct{ from, to int16 }

type bitset []uint64

func (b bitset) set(i int) { b[i>>6] |= 1 << (uint(i) & 63) }

// Index is an immutable, compiled set of campaigns that answers which campaigns
// may bid on an impression without scanning every campaign. Build one with
// Compile; share it freely between goroutines.
type Index struct {
	campaigns []*Compiled
	byID      map[string]*Compiled
	words     int
	format    [5]bitset // by bit position of Format
	size      map[Size]bitset
	country   map[string]bitset
	anyCtry   bitset
	device    [numDevices]bitset
	phase     [segments.NumPhases]bitset
	deal      map[string]bitset
	openMkt   bitset
	builtAt   time.Time
}

// Compile builds an Index from active campaigns; paused ones are left out. The
// campaigns must be valid (Validate) and must not change afterwards.
func Compile(cs []Campaign, now time.Time) *Index {
	ix := &Index{byID: make(map[string]*Compiled, len(cs)), size: map[Size]bitset{},
		country: map[string]bitset{}, deal: map[string]bitset{}, builtAt: now}
	for i := range cs {
		c := &cs[i]
		if c.Status != "active" {
			continue
		}
		cc := compileOne(c)
		if cc == nil {
			continue
		}
		cc.Ord = len(ix.campaigns)
		ix.campaigns = append(ix.campaigns, cc)
		ix.byID[c.ID] = cc
	}
	n := len(ix.campaigns)
	ix.words = (n + 63) / 64
	nb := func() bitset { return make(bitset, ix.words) }
	for i := range ix.format {
		ix.format[i] = nb()
	}
	for i := range ix.device {
		ix.device[i] = nb()
	}
	for i := range ix.phase {
		ix.phase[i] = nb()
	}
	ix.anyCtry, ix.openMkt = nb(), nb()
	for _, c := range ix.campaigns {
		i := c.Ord
		for _, cr := range c.Creatives {
			for f := 0; f < 4; f++ {
				if cr.Formats&(1<<f) != 0 {
					ix.format[f].set(i)
				}
			}
			if cr.Formats&FormatBanner != 0 {
				for _, s := range cr.Sizes {
					if ix.size[s] == nil {
						ix.size[s] = nb()
					}
					ix.size[s].set(i)
				}
			}
		}
		if len(c.Targeting.Countries) == 0 {
			ix.anyCtry.set(i)
		}
		for _, cc := range c.Targeting.Countries {
			if ix.country[cc] == nil {
				ix.country[cc] = nb()
			}
			ix.country[cc].set(i)
		}
		if len(c.Targeting.Devices) == 0 {
			for d := range ix.device {
				ix.device[d].set(i)
			}
		}
		for _, d := range c.Targeting.Devices {
			ix.device[deviceOf(d)].set(i)
		}
		for p := range ix.phase {
			if c.Prices[p] > 0 {
				ix.phase[p].set(i)
			}
		}
		if len(c.Targeting.Deals) == 0 {
			ix.openMkt.set(i)
		}
		for _, d := range c.Targeting.Deals {
			if ix.deal[d] == nil {
				ix.deal[d] = nb()
			}
			ix.deal[d].set(i)
		}
	}
	// Campaigns without country targeting match every country.
	for _, b := range ix.country {
		for w := range b {
			b[w] |= ix.anyCtry[w]
		}
	}
	return ix
}

func compileOne(c *Campaign) *Compiled {
	loc, err := time.LoadLocation(c.Flight.Timezone)
	if err != nil {
		return nil
	}
	cc := &Compiled{Campaign: c, Loc: loc,
		StartUnix: c.Flight.Start.In(loc).Unix(),
		EndUnix:   c.Flight.End.In(loc).AddDate(0, 0, 1).Unix(),
	}
	phases := c.Targeting.Phases
	for p := segments.Phase(0); p < segments.NumPhases; p++ {
		if len(phases) > 0 && !has(phases, p.String()) {
			continue
		}
		cc.Prices[p] = c.PriceFor(p)
	}
	var tFormats Format
	for _, f := range c.Targeting.Formats {
		tFormats |= formatBit(f)
	}
	if tFormats == 0 {
		tFormats = FormatBanner | FormatNative | FormatVideo | FormatAudio
	}
	for i := range c.Creatives {
		cr := &c.Creatives[i]
		ccr := CompiledCreative{Creative: cr, Secure: isHTTPS(cr.LandingURL) && (cr.Image == "" || isHTTPS(cr.Image)) &&
			(cr.Video == nil || isHTTPS(cr.Video.URL))}
		for _, f := range cr.Formats {
			ccr.Formats |= formatBit(f)
		}
		ccr.Formats &= tFormats
		sizes := cr.Sizes
		if len(sizes) == 0 {
			sizes = c.Targeting.Sizes
		}
		for _, s := range sizes {
			if len(c.Targeting.Sizes) == 0 || hasSize(c.Targeting.Sizes, s) {
				ccr.Sizes = append(ccr.Sizes, s)
			}
		}
		for _, a := range cr.Attributes {
			ccr.Attrs |= 1 << uint(a)
		}
		if ccr.Formats != 0 {
			cc.Creatives = append(cc.Creatives, ccr)
		}
	}
	cc.allowDomains = lowerSet(c.Targeting.Domains.Allow)
	cc.blockDomains = lowerSet(c.Targeting.Domains.Block)
	cc.exchanges = lowerSet(c.Targeting.Exchanges)
	for _, dp := range c.Targeting.Dayparts {
		cc.hasDayparts = true
		from, to := hhmm(dp.From), hhmm(dp.To)
		days := dp.Days
		if len(days) == 0 {
			days = Weekdays
		}
		for _, d := range days {
			wd := indexOf(Weekdays, d)
			if from <= to {
				cc.dayparts[wd] = append(cc.dayparts[wd], minuteSpan{from, to})
			} else { // wraps past midnight into the next day
				cc.dayparts[wd] = append(cc.dayparts[wd], minuteSpan{from, 24 * 60})
				cc.dayparts[(wd+1)%7] = append(cc.dayparts[(wd+1)%7], minuteSpan{0, to})
			}
		}
	}
	return cc
}

// Len returns the number of active campaigns in the index.
func (ix *Index) Len() int { return len(ix.campaigns) }

// Campaigns returns the compiled campaigns; the slice must not be modified.
func (ix *Index) Campaigns() []*Compiled { return ix.campaigns }

// Get returns the active campaign with the given id.
func (ix *Index) Get(id string) (*Compiled, bool) {
	c, ok := ix.byID[id]
	return c, ok
}

// Query describes one impression for candidate selection.
type Query struct {
	// Formats the impression accepts.
	Formats Format
	// Sizes are the banner sizes the impression accepts.
	Sizes []Size
	// Country is the ISO 3166-1 alpha-3 country, "" if unknown.
	Country string
	// Device is the device class.
	Device Device
	// Phase is the user's purchase phase.
	Phase segments.Phase
	// Deals are the deal ids offered; Private means only deals may bid.
	Deals   []string
	Private bool
}

// Scratch is reusable per-goroutine working memory for Candidates.
type Scratch struct {
	acc, tmp bitset
}

// Candidates appends to dst the campaigns whose format, size, country, device,
// phase and deal targeting admit q, in index order, and returns dst. The other
// rules (flight, domains, categories, …) are checked by the caller on this short
// list. It does not allocate once s and dst have grown to size.
func (ix *Index) Candidates(q *Query, s *Scratch, dst []*Compiled) []*Compiled {
	if ix.words == 0 {
		return dst
	}
	if cap(s.acc) < ix.words {
		s.acc, s.tmp = make(bitset, ix.words), make(bitset, ix.words)
	}
	acc, tmp := s.acc[:ix.words], s.tmp[:ix.words]
	clear(acc)
	if q.Formats&FormatBanner != 0 {
		for _, sz := range q.Sizes {
			if b := ix.size[sz]; b != nil {
				or(acc, b)
			}
		}
	}
	for f := 1; f < 4; f++ {
		if q.Formats&(1<<f) != 0 {
			or(acc, ix.format[f])
		}
	}
	if b, ok := ix.country[q.Country]; ok {
		and(acc, b)
	} else {
		and(acc, ix.anyCtry)
	}
	and(acc, ix.device[q.Device])
	and(acc, ix.phase[q.Phase])
	clear(tmp)
	if !q.Private {
		copy(tmp, ix.openMkt)
	}
	for _, d := range q.Deals {
		if b := ix.deal[d]; b != nil {
			or(tmp, b)
		}
	}
	and(acc, tmp)
	for w, word := range acc {
		for word != 0 {
			i := w*64 + bits.TrailingZeros64(word)
			word &= word - 1
			dst = append(dst, ix.campaigns[i])
		}
	}
	return dst
}

func or(dst, src bitset) {
	for i := range dst {
		dst[i] |= src[i]
	}
}

func and(dst, src bitset) {
	for i := range dst {
		dst[i] &= src[i]
	}
}

// InFlight reports whether unix (seconds) lies within the flight and its dayparts.
func (c *Compiled) InFlight(now time.Time) bool {
	u := now.Unix()
	if u < c.StartUnix || u >= c.EndUnix {
		return false
	}
	if !c.hasDayparts {
		return true
	}
	t := now.In(c.Loc)
	m := int16(t.Hour()*60 + t.Minute())
	for _, sp := range c.dayparts[t.Weekday()] {
		if m >= sp.from && m < sp.to {
			return true
		}
	}
	return false
}

// DomainAllowed applies the domain allow and block lists to a site domain or app
// bundle; subdomains of a listed domain count as listed.
func (c *Compiled) DomainAllowed(domain string) bool {
	if len(c.allowDomains) == 0 && len(c.blockDomains) == 0 {
		return true
	}
	if domainIn(c.blockDomains, domain) {
		return false
	}
	return len(c.allowDomains) == 0 || domainIn(c.allowDomains, domain)
}

// ExchangeAllowed reports whether the campaign bids on traffic from exchange.
func (c *Compiled) ExchangeAllowed(exchange string) bool {
	if len(c.exchanges) == 0 {
		return true
	}
	_, ok := c.exchanges[strings.ToLower(exchange)]
	return ok
}

// CategoryBlocked reports whether any content category in cats is blocked by the
// campaign's targeting (a parent blocks its children).
func (c *Compiled) CategoryBlocked(cats []string) bool {
	for _, b := range c.Targeting.Categories.Block {
		for _, cat := range cats {
			if CategoryCovers(b, cat) {
				return true
			}
		}
	}
	return false
}

// CategoryCovers reports whether category a is b or a parent of b ("IAB25" covers
// "IAB25-3").
func CategoryCovers(a, b string) bool {
	if len(b) < len(a) || !strings.EqualFold(b[:len(a)], a) {
		return false
	}
	return len(b) == len(a) || b[len(a)] == '-'
}

func domainIn(set map[string]struct{}, d string) bool {
	if d == "" {
		return false
	}
	d = strings.TrimPrefix(strings.ToLower(d), "www.")
	for {
		if _, ok := set[d]; ok {
			return true
		}
		i := strings.IndexByte(d, '.')
		if i < 0 {
			return false
		}
		d = d[i+1:]
	}
}

func lowerSet(list []string) map[string]struct{} {
	if len(list) == 0 {
		return nil
	}
	m := make(map[string]struct{}, len(list))
	for _, v := range list {
		m[strings.TrimPrefix(strings.ToLower(v), "www.")] = struct{}{}
	}
	return m
}

func hasSize(list []Size, s Size) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func indexOf(list []string, v string) int {
	for i, s := range list {
		if s == v {
			return i
		}
	}
	return -1
}

func hhmm(s string) int16 {
	if len(s) != 5 {
		return 0
	}
	return int16((int(s[0]-'0')*10+int(s[1]-'0'))*60 + int(s[3]-'0')*10 + int(s[4]-'0'))
}

func isHTTPS(u string) bool { return strings.HasPrefix(u, "https://") }
