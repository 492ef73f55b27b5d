package creatives

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"unicode/utf8"

	"github.com/kairos-rtb/kairos/campaigns"
	"github.com/kairos-rtb/kairos/segments"
)

// Reasons Assemble gives for not producing markup. Each means "this creative
// cannot serve this impression for this user"; the caller tries another
// creative or no-bids.
var (
	// ErrPurchased: the user bought the product the creative advertises and the
	// creative has no cross-sell part that can be filled in.
	ErrPurchased = errors.New("creatives: product already purchased and no cross-sell")
	// ErrNoAssets: a required native asset cannot be answered.
	ErrNoAssets = errors.New("creatives: required native assets cannot be met")
	// ErrInsecure: the impression is secure and a URL is not https, or a
	// tracking URL is not an http(s) URL at all.
	ErrInsecure = errors.New("creatives: insecure or unusable URL")
	// ErrAttr: the creative declares an attribute the impression blocks (battr).
	ErrAttr = errors.New("creatives: creative attribute blocked")
	// ErrTooLarge: the markup exceeds Config.MaxMarkupBytes.
	ErrTooLarge = errors.New("creatives: markup too large")
	// ErrDuration: the video's duration is outside the impression's min/max.
	ErrDuration = errors.New("creatives: video duration not accepted")
	// ErrMime: the video's MIME type is not among the impression's mimes.
	ErrMime = errors.New("creatives: video mime type not accepted")
	// ErrProtocol: the impression accepts no VAST version Kairos writes.
	ErrProtocol = errors.New("creatives: no accepted VAST protocol")
	// ErrFormat: the creative cannot serve the impression's format (or the
	// impression lacks what that format needs, such as a native request).
	ErrFormat = errors.New("creatives: format not served by creative")
	// ErrSize: the banner size is not one of the creative's sizes.
	ErrSize = errors.New("creatives: banner size not served by creative")
)

// Config configures an Assembler. Zero values mean the defaults.
type Config struct {
	// MaxMarkupBytes bounds the markup of one ad; default 16 KiB.
	MaxMarkupBytes int
}

// DefaultMaxMarkupBytes is the default of Config.MaxMarkupBytes.
const DefaultMaxMarkupBytes = 16 << 10

// Validate reports a configuration that cannot work, naming the key.
func (c Config) Validate() error {
	if c.MaxMarkupBytes < 0 {
		return fmt.Errorf("creatives: max_markup_bytes %d must not be negative", c.MaxMarkupBytes)
	}
	if c.MaxMarkupBytes > 0 && c.MaxMarkupBytes < 1024 {
		return fmt.Errorf("creatives: max_markup_bytes %d is below 1024", c.MaxMarkupBytes)
	}
	return nil
}

// Assembler builds personalised ad markup. It is safe for concurrent use.
type Assembler struct {
	cfg     Config
	chooser Chooser
	// snap holds the creatives of the current index, compiled by PrepareIndex;
	// lazy holds creatives compiled on first use that were not in it.
	snap atomic.Pointer[map[*campaigns.Creative]*prepared]
	lazy sync.Map // *campaigns.Creative → *prepared
	pool sync.Pool
}

// NewAssembler returns an Assembler; a nil ch means HashChooser.
func NewAssembler(cfg Config, ch Chooser) *Assembler {
	if cfg.MaxMarkupBytes <= 0 {
		cfg.MaxMarkupBytes = DefaultMaxMarkupBytes
	}
	if ch == nil {
		ch = HashChooser{}
	}
	a := &Assembler{cfg: cfg, chooser: ch}
	a.pool.New = func() any { return &state{buf: make([]byte, 0, 512)} }
	return a
}

// PrepareIndex compiles the templates of every creative in ix and makes them
// the ones Assemble uses, forgetting those of earlier indexes. Call it whenever
// a new index is swapped in; creatives it has not seen are compiled on first
// use instead.
func (a *Assembler) PrepareIndex(ix *campaigns.Index) {
	m := make(map[*campaigns.Creative]*prepared)
	for _, c := range ix.Campaigns() {
		for i := range c.Creatives {
			cr := c.Creatives[i].Creative
			m[cr] = prepare(cr)
		}
	}
	a.snap.Store(&m)
	a.lazy.Clear()
}

// Prepare compiles the templates of c's creatives ahead of their first use.
func (a *Assembler) Prepare(c *campaigns.Compiled) {
	for i := range c.Creatives {
		a.prepared(c.Creatives[i].Creative)
	}
}

func (a *Assembler) prepared(cr *campaigns.Creative) *prepared {
	if m := a.snap.Load(); m != nil {
		if pr, ok := (*m)[cr]; ok {
			return pr
		}
	}
	if v, ok := a.lazy.Load(cr); ok {
		return v.(*prepared)
	}
	v, _ := a.lazy.LoadOrStore(cr, prepare(cr))
	return v.(*prepared)
}

// Assemble appends to dst the markup of creative cr of campaign c, assembled
// for the user with profile p (nil when unknown) and impression imp: HTML for
// a banner, a Native 1.x response for native, VAST XML for video. It returns
// the extended buffer and the variant shown (see Variant.AppendCrid). On error
// dst is returned unchanged. It does not block and, once dst has room, does
// not allocate.
func (a *Assembler) Assemble(dst []byte, c *campaigns.Compiled, cr *campaigns.CompiledCreative,
	p *segments.Profile, imp *Imp) ([]byte, Variant, error) {
	v := Variant{Creative: cr.ID}
	f := imp.Format & cr.Formats
	f &= -f // one format, the lowest bit, should the caller pass several
	if f == 0 {
		return dst, v, ErrFormat
	}
	if cr.Attrs&imp.BAttr != 0 {
		return dst, v, ErrAttr
	}
	if (imp.Secure && !cr.Secure) || !webURL(cr.LandingURL, imp.Secure) {
		return dst, v, ErrInsecure
	}
	st := a.pool.Get().(*state)
	defer a.release(st)
	if err := st.init(a, c, cr, p, imp); err != nil {
		return dst, st.v, err
	}
	start := len(dst)
	var err error
	switch f {
	case campaigns.FormatBanner:
		dst, err = st.banner(dst)
	case campaigns.FormatNative:
		dst, err = st.native(dst)
	case campaigns.FormatVideo:
		dst, err = st.vast(dst)
	default:
		err = ErrFormat
	}
	if err == nil && len(dst)-start > a.cfg.MaxMarkupBytes {
		err = ErrTooLarge
	}
	if err != nil {
		return dst[:start], st.v, err
	}
	return dst, st.v, nil
}

func (a *Assembler) release(st *state) {
	*st = state{buf: st.buf[:0], inner: st.inner[:0]}
	a.pool.Put(st)
}

// maxValueBytes caps a value filled in from a profile or the page.
const maxValueBytes = 100

// span locates a rendered part in state.buf.
type span struct {
	start, end int32
	ok, done   bool
}

// state is the working memory of one Assemble call.
type state struct {
	a   *Assembler
	c   *campaigns.Compiled
	cr  *campaigns.CompiledCreative
	pr  *prepared
	imp *Imp

	user      string
	phase     segments.Phase
	known     bool // a profile whose data may be used
	crossSell bool // the headline is the cross-sell part
	vals      [numPlaceholders]string
	buf       []byte
	parts     [NumParts]span
	v         Variant
	inner     []byte // a banner's link content, laid out before the link

	// The click and impression URLs (see track); tracked once they are set.
	click, pixel string
	tracked      bool
}

func (st *state) init(a *Assembler, c *campaigns.Compiled, cr *campaigns.CompiledCreative,
	p *segments.Profile, imp *Imp) error {
	st.a, st.c, st.cr, st.imp = a, c, cr, imp
	st.pr = a.prepared(cr.Creative)
	if p != nil {
		st.user = p.User
		st.known = p.Phase != segments.PhaseUnknown && p.Phase < segments.NumPhases
	}
	if st.known {
		st.phase = p.Phase
		st.vals[phProductName] = clip(p.Product.Name)
		st.vals[phProductPrice] = clip(p.Product.Price)
		for _, in := range p.Interests {
			if in = clip(in); in != "" {
				st.vals[phInterest] = in
				break
			}
		}
	}
	st.vals[phKeywords] = firstKeyword(imp.Keywords)
	if st.vals[phInterest] == "" {
		st.vals[phInterest] = st.vals[phKeywords]
	}
	purchased := st.known && (st.phase == segments.PhasePurchased ||
		(p.Product.ID != "" && p.HasPurchased(p.Product.ID)))
	if purchased {
		// Whatever the profile's phase says, a user who bought the product
		// gets the purchaser's parts: an intent message would sell it again.
		st.phase = segments.PhasePurchased
	}
	st.v = Variant{Creative: cr.ID, Phase: st.phase}
	if purchased {
		if _, ok := st.text(PartCrossSell); ok {
			st.crossSell = true
		} else if st.pr.productAd {
			return ErrPurchased
		}
	}
	return nil
}

// clip trims s and cuts it to at most maxValueBytes at a rune boundary.
func clip(s string) string {
	s = strings.TrimSpace(s)
	if len(s) <= maxValueBytes {
		return s
	}
	i := maxValueBytes
	for i > 0 && !utf8.RuneStart(s[i]) {
		i--
	}
	return strings.TrimSpace(s[:i])
}

// firstKeyword returns the first non-empty keyword of a comma-separated list.
func firstKeyword(kw string) string {
	for kw != "" {
		k, rest, _ := strings.Cut(kw, ",")
		if k = clip(k); k != "" {
			return k
		}
		kw = rest
	}
	return ""
}

// text returns part p rendered for this user, choosing its variant on first
// use and recording the choice in st.v. The string stays valid until the
// state is released.
func (st *state) text(p Part) (string, bool) {
	sp := &st.parts[p]
	if !sp.done {
		sp.done = true
		// A purchaser is not shown the product again.
		if p != PartProduct || !st.crossSell {
			st.choose(p)
		}
	}
	if !sp.ok {
		return "", false
	}
	return b2s(st.buf[sp.start:sp.end]), true
}

// drop forgets that part p is shown (an optional native asset left out).
func (st *state) drop(p Part) { st.v.pick[p] = 0 }

// choose picks part p's variant: from the user's phase list if the part has
// one, else from its default list; a variant whose placeholders cannot all be
// filled falls back to a fillable default variant, else the part is left out.
func (st *state) choose(p Part) {
	ps := &st.pr.parts[p]
	list, def := ps.byPhase[st.phase], false
	if len(list) == 0 {
		list, def = ps.def, true
	}
	if len(list) == 0 {
		return
	}
	i := st.pick(p, len(list))
	if st.fillable(&list[i]) {
		st.render(p, &list[i], i, def)
		return
	}
	d := ps.def
	if len(d) == 0 {
		return
	}
	j := 0
	if !def {
		j = st.pick(p, len(d))
		if st.fillable(&d[j]) {
			st.render(p, &d[j], j, true)
			return
		}
	}
	for j = range d {
		if st.fillable(&d[j]) {
			st.render(p, &d[j], j, true)
			return
		}
	}
}

func (st *state) pick(p Part, n int) int {
	if n <= 1 {
		return 0
	}
	i := st.a.chooser.Choose(st.user, st.c.ID, partNames[p], st.phase, n) % n
	if i < 0 {
		i += n
	}
	return i
}

func (st *state) fillable(t *tmpl) bool {
	for ph := phProductName; ph < numPlaceholders; ph++ {
		if t.uses(ph) && st.vals[ph] == "" {
			return false
		}
	}
	return true
}

func (st *state) render(p Part, t *tmpl, index int, def bool) {
	start := len(st.buf)
	for _, s := range t.segs {
		if s.ph == phNone {
			st.buf = append(st.buf, s.lit...)
			continue
		}
		val := st.vals[s.ph]
		if s.ph == phInterest || s.ph == phKeywords {
			// Interests and keywords are slugs such as "running-shoes".
			for i := 0; i < len(val); i++ {
				c := val[i]
				if c == '-' || c == '_' {
					c = ' '
				}
				st.buf = append(st.buf, c)
			}
			continue
		}
		st.buf = append(st.buf, val...)
	}
	st.parts[p] = span{start: int32(start), end: int32(len(st.buf)), ok: true, done: true}
	st.v.set(p, index, def)
}

// headline returns the ad's main line: the cross-sell part for a purchaser,
// else the headline part, else the product part, else the advertiser.
func (st *state) headline() string {
	if st.crossSell {
		s, _ := st.text(PartCrossSell)
		return s
	}
	if s, ok := st.text(PartHeadline); ok {
		return s
	}
	if s, ok := st.text(PartProduct); ok {
		return s
	}
	return st.c.Advertiser
}

// dropHeadline forgets the part headline recorded (an optional native title
// left out).
func (st *state) dropHeadline() {
	switch {
	case st.crossSell:
		st.drop(PartCrossSell)
	case st.parts[PartHeadline].ok:
		st.drop(PartHeadline)
	default:
		st.drop(PartProduct)
	}
}

// greeting returns the greeting for a returning, known user.
func (st *state) greeting() (string, bool) {
	if !st.known {
		return "", false
	}
	return st.text(PartGreeting)
}

// crid renders the crid of the parts chosen so far into the scratch buffer.
func (st *state) crid() string {
	start := len(st.buf)
	st.buf = st.v.AppendCrid(st.buf)
	return b2s(st.buf[start:])
}

// track settles the ad's click and impression URLs: the Tracker's, asked once
// every part shown is chosen so that they can name the variant, else the
// Imp's. Formats call it after their last choice and before writing a URL. A
// URL that is not http(s), or not https for a secure impression, fails the ad.
func (st *state) track() error {
	if st.tracked {
		return nil
	}
	st.tracked = true
	st.click, st.pixel = st.imp.ClickURL, st.imp.ImpURL
	if t := st.imp.Tracker; t != nil {
		st.click, st.pixel = t.TrackingURLs(st.v)
	}
	if (st.click != "" && !webURL(st.click, st.imp.Secure)) || (st.pixel != "" && !webURL(st.pixel, st.imp.Secure)) {
		return ErrInsecure
	}
	return nil
}

// clickURL is where the ad links to: Kairos's click URL, else the landing URL.
func (st *state) clickURL() string {
	if st.click != "" {
		return st.click
	}
	return st.cr.LandingURL
}

// productShown reports whether the profile's product belongs in this ad.
func (st *state) productShown() bool {
	return st.pr.usesProduct && !st.crossSell && st.vals[phProductName] != ""
}
