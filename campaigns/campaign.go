package campaigns

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/kairos-rtb/kairos/money"
	"gopkg.in/yaml.v3"
)

// Campaign is one campaign as declared in a campaign file and stored in Redis.
// The YAML and JSON keys are part of Kairos's external contract.
type Campaign struct {
	ID           string        `yaml:"id" json:"id"`
	Name         string        `yaml:"name" json:"name"`
	Advertiser   string        `yaml:"advertiser" json:"advertiser"`
	ADomain      []string      `yaml:"adomain" json:"adomain"`
	Categories   []string      `yaml:"cat,omitempty" json:"cat,omitempty"`
	Status       string        `yaml:"status" json:"status"`
	Flight       Flight        `yaml:"flight" json:"flight"`
	Budget       Budget        `yaml:"budget" json:"budget"`
	Pacing       string        `yaml:"pacing" json:"pacing"`
	Bid          Bid           `yaml:"bid" json:"bid"`
	Targeting    Targeting     `yaml:"targeting,omitempty" json:"targeting"`
	FrequencyCap *FrequencyCap `yaml:"frequency_cap,omitempty" json:"frequency_cap,omitempty"`
	// Consent is "contextual" (default: bid without the profile where personal
	// data may not be used) or "required" (bid only with personal data).
	Consent string `yaml:"consent,omitempty" json:"consent,omitempty"`
	// SupplyChain demands a complete and/or allow-listed supply chain.
	SupplyChain SupplyChainRule `yaml:"supply_chain,omitempty" json:"supply_chain,omitempty"`
	// Holdout, when set, replaces the server's holdout share
	// (KAIROS_HOLDOUT_SHARE) for this campaign.
	Holdout *Holdout `yaml:"holdout,omitempty" json:"holdout,omitempty"`
	// Shading is "on" (default: first-price bids are shaded when the server
	// shades, KAIROS_SHADING) or "off" (this campaign always bids its price).
	Shading   string     `yaml:"shading,omitempty" json:"shading,omitempty"`
	Creatives []Creative `yaml:"creatives" json:"creatives"`
	// Version is set by the store on every write; a put naming an older version
	// is refused.
	Version int64 `yaml:"version,omitempty" json:"version,omitempty"`
}

// Flight is when a campaign may run: from Start (inclusive) to End (inclusive),
// both dates in Timezone.
type Flight struct {
	Start    Date   `yaml:"start" json:"start"`
	End      Date   `yaml:"end" json:"end"`
	Timezone string `yaml:"timezone" json:"timezone"`
}

// Budget is a campaign's spend limit per day (in the campaign's time zone) and in
// total, in Currency units.
type Budget struct {
	Daily    money.Micros `yaml:"daily" json:"daily"`
	Total    money.Micros `yaml:"total" json:"total"`
	Currency string       `yaml:"currency" json:"currency"`
}

// Bid holds a campaign's bid settings, all CPM in the budget currency.
type Bid struct {
	BaseCPM          money.Micros       `yaml:"base_cpm" json:"base_cpm"`
	MaxCPM           money.Micros       `yaml:"max_cpm" json:"max_cpm"`
	PhaseMultipliers map[string]float64 `yaml:"phase_multipliers,omitempty" json:"phase_multipliers,omitempty"`
}

// Targeting restricts where a campaign bids. Every empty list means no
// restriction.
type Targeting struct {
	Phases     []string   `yaml:"phases,omitempty" json:"phases,omitempty"`
	Countries  []string   `yaml:"countries,omitempty" json:"countries,omitempty"`
	Devices    []string   `yaml:"devices,omitempty" json:"devices,omitempty"`
	Formats    []string   `yaml:"formats,omitempty" json:"formats,omitempty"`
	Sizes      []Size     `yaml:"sizes,omitempty" json:"sizes,omitempty"`
	Domains    AllowBlock `yaml:"domains,omitempty" json:"domains,omitempty"`
	Categories BlockList  `yaml:"categories,omitempty" json:"categories,omitempty"`
	Deals      []string   `yaml:"deals,omitempty" json:"deals,omitempty"`
	Dayparts   []Daypart  `yaml:"dayparts,omitempty" json:"dayparts,omitempty"`
	// Exchanges restricts bidding to requests from these exchanges, named by the
	// X-Kairos-Exchange header or source.ext.exchange; empty = every exchange.
	Exchanges []string `yaml:"exchanges,omitempty" json:"exchanges,omitempty"`
}

// AllowBlock is a pair of domain (or app bundle) lists. A non-empty Allow list
// admits only its entries; Block always excludes.
type AllowBlock struct {
	Allow []string `yaml:"allow,omitempty" json:"allow,omitempty"`
	Block []string `yaml:"block,omitempty" json:"block,omitempty"`
}

// BlockList lists IAB content categories of the page or app a campaign must not
// appear on. A parent category ("IAB25") blocks its children ("IAB25-3").
type BlockList struct {
	Block []string `yaml:"block,omitempty" json:"block,omitempty"`
}

// Daypart is a weekly time window in the campaign's time zone: Days (mon…sun,
// empty = every day) from From to To ("HH:MM", To exclusive; To before From wraps
// past midnight).
type Daypart struct {
	Days []string `yaml:"days,omitempty" json:"days,omitempty"`
	From string   `yaml:"from" json:"from"`
	To   string   `yaml:"to" json:"to"`
}

// SupplyChainRule is a campaign's demand on the request's schain.
type SupplyChainRule struct {
	// Complete requires schain.complete=1 with every node naming asi and sid.
	Complete bool `yaml:"complete,omitempty" json:"complete,omitempty"`
	// AllowedSellers requires every node's seller on the configured allow list.
	AllowedSellers bool `yaml:"allowed_sellers,omitempty" json:"allowed_sellers,omitempty"`
}

// Holdout is a campaign's incrementality study.
type Holdout struct {
	// Share is the share of the campaign's eligible users held out (they get
	// a recorded ghost bid instead of a bid), 0 to 0.5; 0 turns the holdout
	// off for the campaign whatever the server's share.
	Share float64 `yaml:"share" json:"share"`
}

// HoldoutShare returns the campaign's holdout share, or def (the server's)
// when the campaign sets none.
func (c *Campaign) HoldoutShare(def float64) float64 {
	if c.Holdout != nil {
		return c.Holdout.Share
	}
	return def
}

// ShadingOff reports whether the campaign's first-price bids are never shaded.
func (c *Campaign) ShadingOff() bool { return c.Shading == "off" }

// ConsentRequired reports whether the campaign bids only with personal data.
func (c *Campaign) ConsentRequired() bool { return c.Consent == "required" }

// FrequencyCap limits impressions per user per campaign within a window.
type FrequencyCap struct {
	Impressions int      `yaml:"impressions" json:"impressions"`
	Window      Duration `yaml:"window" json:"window"`
}

// Creative is a campaign's creative: its formats and sizes, where a click goes,
// and the parts assembled into the ad per user.
type Creative struct {
	ID         string   `yaml:"id" json:"id"`
	Formats    []string `yaml:"formats" json:"formats"`
	Sizes      []Size   `yaml:"sizes,omitempty" json:"sizes,omitempty"`
	LandingURL string   `yaml:"landing_url" json:"landing_url"`
	Image      string   `yaml:"image,omitempty" json:"image,omitempty"`
	// Attributes are the IAB creative attributes (OpenRTB list 5.3) the creative
	// has, checked against imp.banner.battr / imp.video.battr.
	Attributes []int `yaml:"attributes,omitempty" json:"attributes,omitempty"`
	// Video describes the media file for the video format.
	Video *Video `yaml:"video,omitempty" json:"video,omitempty"`
	// Parts maps part (headline, message, product, offer, cta, crosssell,
	// greeting) → phase or "default" → variants.
	Parts map[string]map[string][]string `yaml:"parts" json:"parts"`
}

// Video is a creative's media file for VAST.
type Video struct {
	URL      string   `yaml:"url" json:"url"`
	Mime     string   `yaml:"mime" json:"mime"`
	Duration Duration `yaml:"duration" json:"duration"`
	Width    int      `yaml:"width,omitempty" json:"width,omitempty"`
	Height   int      `yaml:"height,omitempty" json:"height,omitempty"`
	Bitrate  int      `yaml:"bitrate,omitempty" json:"bitrate,omitempty"`
}

// Size is a creative size "WxH".
type Size struct{ W, H int }

// String returns "WxH".
func (s Size) String() string { return strconv.Itoa(s.W) + "x" + strconv.Itoa(s.H) }

// ParseSize reads "WxH".
func ParseSize(v string) (Size, error) {
	ws, hs, ok := strings.Cut(v, "x")
	w, err1 := strconv.Atoi(ws)
	h, err2 := strconv.Atoi(hs)
	if !ok || err1 != nil || err2 != nil || w <= 0 || h <= 0 {
		return Size{}, fmt.Errorf("size %q: want WIDTHxHEIGHT such as 300x250", v)
	}
	return Size{W: w, H: h}, nil
}

// UnmarshalYAML reads "WxH".
func (s *Size) UnmarshalYAML(n *yaml.Node) error {
	v, err := ParseSize(n.Value)
	if err != nil {
		return yamlErr(n, err)
	}
	*s = v
	return nil
}

// MarshalYAML writes "WxH".
func (s Size) MarshalYAML() (any, error) { return s.String(), nil }

// MarshalText writes "WxH".
func (s Size) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText reads "WxH".
func (s *Size) UnmarshalText(b []byte) error {
	v, err := ParseSize(string(b))
	*s = v
	return err
}

// Date is a calendar date "YYYY-MM-DD" without a time zone.
type Date struct{ Y, M, D int }

// ParseDate reads "YYYY-MM-DD".
func ParseDate(v string) (Date, error) {
	t, err := time.Parse(time.DateOnly, v)
	if err != nil {
		return Date{}, fmt.Errorf("date %q: want YYYY-MM-DD", v)
	}
	return Date{t.Year(), int(t.Month()), t.Day()}, nil
}

// IsZero reports whether d is unset.
func (d Date) IsZero() bool { return d == Date{} }

// String returns "YYYY-MM-DD".
func (d Date) String() string {
	return fmt.Sprintf("%04d-%02d-%02d", d.Y, d.M, d.D)
}

// In returns midnight at the start of d in loc.
func (d Date) In(loc *time.Location) time.Time {
	return time.Date(d.Y, time.Month(d.M), d.D, 0, 0, 0, 0, loc)
}

// UnmarshalYAML reads "YYYY-MM-DD".
func (d *Date) UnmarshalYAML(n *yaml.Node) error {
	v, err := ParseDate(n.Value)
	if err != nil {
		return yamlErr(n, err)
	}
	*d = v
	return nil
}

// MarshalYAML writes "YYYY-MM-DD".
func (d Date) MarshalYAML() (any, error) { return d.String(), nil }

// MarshalText writes "YYYY-MM-DD".
func (d Date) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalText reads "YYYY-MM-DD".
func (d *Date) UnmarshalText(b []byte) error {
	v, err := ParseDate(string(b))
	*d = v
	return err
}

// Duration is a time.Duration written as "24h", "90m" or "7d".
type Duration time.Duration

// ParseDuration reads a Go duration, also accepting a whole number of days "7d".
func ParseDuration(v string) (Duration, error) {
	if n, ok := strings.CutSuffix(v, "d"); ok {
		d, err := strconv.Atoi(n)
		if err != nil || d < 0 {
			return 0, fmt.Errorf("duration %q: want e.g. 24h, 90m or 7d", v)
		}
		return Duration(time.Duration(d) * 24 * time.Hour), nil
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		return 0, fmt.Errorf("duration %q: want e.g. 24h, 90m or 7d", v)
	}
	return Duration(d), nil
}

// String returns the duration in Go syntax.
func (d Duration) String() string { return time.Duration(d).String() }

// UnmarshalYAML reads a duration.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	v, err := ParseDuration(n.Value)
	if err != nil {
		return yamlErr(n, err)
	}
	*d = v
	return nil
}

// MarshalYAML writes a duration.
func (d Duration) MarshalYAML() (any, error) { return d.String(), nil }

// MarshalText writes a duration.
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalText reads a duration.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := ParseDuration(string(b))
	*d = v
	return err
}

// yamlErr reports a value error through yaml.TypeError so that decoding goes on
// and every problem in a file is listed, not only the first.
func yamlErr(n *yaml.Node, err error) error {
	return &yaml.TypeError{Errors: []string{fmt.Sprintf("line %d: %v", n.Line, err)}}
}
