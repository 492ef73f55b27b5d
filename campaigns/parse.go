package campaigns

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/kairos-rtb/kairos/money"
	"github.com/kairos-rtb/kairos/segments"
	"gopkg.in/yaml.v3"
)

// Problem is one thing wrong with a campaign file: where it is and what is wrong.
type Problem struct {
	File     string `json:"file,omitempty"`
	Line     int    `json:"line,omitempty"`
	Campaign string `json:"campaign,omitempty"`
	Field    string `json:"field,omitempty"`
	Message  string `json:"message"`
}

// Error formats the problem as "file:line: campaign "id": field: message".
func (p Problem) Error() string {
	var b strings.Builder
	if p.File != "" {
		b.WriteString(p.File)
		if p.Line > 0 {
			b.WriteString(":" + strconv.Itoa(p.Line))
		}
		b.WriteString(": ")
	} else if p.Line > 0 {
		b.WriteString("line " + strconv.Itoa(p.Line) + ": ")
	}
	if p.Campaign != "" {
		fmt.Fprintf(&b, "campaign %q: ", p.Campaign)
	}
	if p.Field != "" {
		b.WriteString(p.Field + ": ")
	}
	b.WriteString(p.Message)
	return b.String()
}

// ValidationError lists every problem found in a campaign file or campaign; when
// it is returned nothing was accepted.
type ValidationError struct {
	Problems []Problem
}

// Error lists the problems, one per line.
func (e *ValidationError) Error() string {
	lines := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		lines[i] = p.Error()
	}
	return strings.Join(lines, "\n")
}

var lineRe = regexp.MustCompile(`^line (\d+): (.*)$`)
var unknownFieldRe = regexp.MustCompile(`^field (\S+) not found in type \S+$`)
var unmarshalRe = regexp.MustCompile("^cannot unmarshal !!(\\w+) `(.*)` into (\\S+)$")

// Parse reads one or many YAML campaign documents from r (name is the file name
// used in problems) and validates them. Unknown keys, wrong types and invalid
// values are all reported together as a *ValidationError.
func Parse(name string, r io.Reader) ([]Campaign, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	// A second decoder reads the same documents as node trees, so problems
	// found after decoding can be given the line of the field they name.
	nodes := yaml.NewDecoder(bytes.NewReader(data))
	var (
		out      []Campaign
		problems []Problem
		seen     = map[string]int{}
	)
	for doc := 1; ; doc++ {
		var c Campaign
		err := dec.Decode(&c)
		if errors.Is(err, io.EOF) {
			break
		}
		var tree yaml.Node
		_ = nodes.Decode(&tree) // same documents; its errors are dec's
		var te *yaml.TypeError
		switch {
		case errors.As(err, &te):
			for _, msg := range te.Errors {
				problems = append(problems, yamlProblem(name, c.ID, msg))
			}
		case err != nil:
			// A syntax error leaves the decoder unusable; report what we have.
			problems = append(problems, yamlProblem(name, c.ID, strings.TrimPrefix(err.Error(), "yaml: ")))
			return nil, &ValidationError{Problems: problems}
		}
		if c.ID == "" && c.Name == "" && len(c.Creatives) == 0 && te == nil {
			continue // empty document, e.g. a trailing "---"
		}
		for _, p := range c.Validate() {
			p.File = name
			p.Line = lineOf(&tree, p.Field)
			problems = append(problems, p)
		}
		if c.ID != "" {
			if prev, dup := seen[c.ID]; dup {
				problems = append(problems, Problem{File: name, Campaign: c.ID, Field: "id",
					Message: fmt.Sprintf("duplicate id (also document %d)", prev)})
			}
			seen[c.ID] = doc
		}
		out = append(out, c)
	}
	if len(problems) > 0 {
		return nil, &ValidationError{Problems: problems}
	}
	if len(out) == 0 {
		return nil, &ValidationError{Problems: []Problem{{File: name, Message: "no campaigns in file"}}}
	}
	return out, nil
}

// lineOf returns the line of the field at path ("bid.max_cpm",
// "creatives[0].parts.headline", "targeting.countries[2]") in a decoded
// document, or of its nearest present parent; 0 when nothing matches.
func lineOf(doc *yaml.Node, path string) int {
	n := doc
	if n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
		n = n.Content[0]
	}
	line := 0
	for _, seg := range strings.Split(path, ".") {
		key, idx := seg, -1
		if i := strings.IndexByte(seg, '['); i >= 0 && strings.HasSuffix(seg, "]") {
			key = seg[:i]
			idx, _ = strconv.Atoi(seg[i+1 : len(seg)-1])
		}
		next := (*yaml.Node)(nil)
		if n.Kind == yaml.MappingNode {
			for i := 0; i+1 < len(n.Content); i += 2 {
				if n.Content[i].Value == key {
					line = n.Content[i].Line
					next = n.Content[i+1]
					break
				}
			}
		}
		if next == nil {
			return line
		}
		n = next
		if idx >= 0 {
			if n.Kind != yaml.SequenceNode || idx >= len(n.Content) {
				return line
			}
			n = n.Content[idx]
			line = n.Line
		}
	}
	return line
}

func yamlProblem(file, id, msg string) Problem {
	p := Problem{File: file, Campaign: id, Message: msg}
	if m := lineRe.FindStringSubmatch(msg); m != nil {
		p.Line, _ = strconv.Atoi(m[1])
		p.Message = m[2]
	}
	if m := unknownFieldRe.FindStringSubmatch(p.Message); m != nil {
		p.Field = m[1]
		p.Message = fmt.Sprintf("unknown key %q", m[1])
	} else if m := unmarshalRe.FindStringSubmatch(p.Message); m != nil {
		p.Message = fmt.Sprintf("wrong type: got %s %q, want %s", m[1], m[2], goTypeName(m[3]))
	}
	return p
}

func goTypeName(t string) string {
	switch {
	case strings.HasPrefix(t, "[]"):
		return "a list"
	case strings.HasPrefix(t, "map["), strings.HasPrefix(t, "campaigns."):
		return "a mapping"
	case t == "string":
		return "text"
	case strings.HasPrefix(t, "int"), strings.HasPrefix(t, "float"):
		return "a number"
	case t == "bool":
		return "true or false"
	}
	return t
}

var idRe = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,62}$`)
var countryRe = regexp.MustCompile(`^[A-Z]{3}$`)
var catRe = regexp.MustCompile(`^IAB\d+(-\d+)?$`)
var hhmmRe = regexp.MustCompile(`^([01]\d|2[0-3]):[0-5]\d$|^24:00$`)

// Known vocabularies of the campaign file.
var (
	Statuses = []string{"active", "paused"}
	Pacings  = []string{"asap", "even", "ahead"}
	// ConsentModes are the values of a campaign's consent key.
	ConsentModes = []string{"contextual", "required"}
	// ShadingModes are the values of a campaign's shading key.
	ShadingModes = []string{"on", "off"}
	Devices      = []string{"desktop", "mobile", "tablet", "ctv"}
	Formats      = []string{"banner", "native", "video", "audio"}
	Parts        = []string{"headline", "message", "product", "offer", "cta", "crosssell", "greeting"}
	Weekdays     = []string{"sun", "mon", "tue", "wed", "thu", "fri", "sat"}
)

// MaxHoldoutShare is the largest share of a campaign's users that may be
// held out: beyond half, the exposed group would be the smaller one.
const MaxHoldoutShare = 0.5

// Validate checks c and returns every problem found, with Field set to the key
// path (e.g. "bid.max_cpm"). It does not check cross-campaign rules.
func (c *Campaign) Validate() []Problem {
	var ps []Problem
	bad := func(field, format string, args ...any) {
		ps = append(ps, Problem{Campaign: c.ID, Field: field, Message: fmt.Sprintf(format, args...)})
	}
	if !idRe.MatchString(c.ID) {
		bad("id", "%q must be 1-63 characters of a-z, 0-9 and -, starting with a letter or digit", c.ID)
	}
	if strings.TrimSpace(c.Name) == "" {
		bad("name", "required")
	}
	if strings.TrimSpace(c.Advertiser) == "" {
		bad("advertiser", "required")
	}
	if len(c.ADomain) == 0 {
		bad("adomain", "required: at least one advertiser domain")
	}
	for i, d := range c.ADomain {
		if !validDomain(d) {
			bad(fmt.Sprintf("adomain[%d]", i), "%q is not a domain", d)
		}
	}
	for i, cat := range c.Categories {
		if !catRe.MatchString(cat) {
			bad(fmt.Sprintf("cat[%d]", i), "%q is not an IAB category such as IAB17 or IAB17-18", cat)
		}
	}
	checkEnum(bad, "status", c.Status, Statuses)
	loc, err := time.LoadLocation(c.Flight.Timezone)
	switch {
	case c.Flight.Timezone == "":
		bad("flight.timezone", "required, e.g. Europe/Berlin or UTC")
	case err != nil:
		bad("flight.timezone", "unknown time zone %q", c.Flight.Timezone)
	}
	if c.Flight.Start.IsZero() {
		bad("flight.start", "required (YYYY-MM-DD)")
	}
	if c.Flight.End.IsZero() {
		bad("flight.end", "required (YYYY-MM-DD)")
	}
	if loc != nil && !c.Flight.Start.IsZero() && !c.Flight.End.IsZero() &&
		c.Flight.End.In(loc).Before(c.Flight.Start.In(loc)) {
		bad("flight.end", "%s is before flight.start %s", c.Flight.End, c.Flight.Start)
	}
	if c.Budget.Daily <= 0 {
		bad("budget.daily", "must be positive, got %s", c.Budget.Daily)
	}
	if c.Budget.Total <= 0 {
		bad("budget.total", "must be positive, got %s", c.Budget.Total)
	} else if c.Budget.Daily > c.Budget.Total {
		bad("budget.daily", "%s is more than budget.total %s", c.Budget.Daily, c.Budget.Total)
	}
	if len(c.Budget.Currency) != 3 || strings.ToUpper(c.Budget.Currency) != c.Budget.Currency {
		bad("budget.currency", "%q: want a 3-letter ISO 4217 code such as USD", c.Budget.Currency)
	}
	checkEnum(bad, "pacing", c.Pacing, Pacings)
	if c.Consent != "" {
		checkEnum(bad, "consent", c.Consent, ConsentModes)
	}
	if c.Shading != "" {
		checkEnum(bad, "shading", c.Shading, ShadingModes)
	}
	if h := c.Holdout; h != nil && (h.Share < 0 || h.Share > MaxHoldoutShare || math.IsNaN(h.Share)) {
		bad("holdout.share", "%g: want a share between 0 and %g (0.1 holds out 10%% of the users)", h.Share, MaxHoldoutShare)
	}
	if c.Bid.BaseCPM <= 0 {
		bad("bid.base_cpm", "must be positive, got %s", c.Bid.BaseCPM)
	}
	if c.Bid.MaxCPM <= 0 {
		bad("bid.max_cpm", "must be positive, got %s", c.Bid.MaxCPM)
	} else if c.Bid.MaxCPM < c.Bid.BaseCPM {
		bad("bid.max_cpm", "%s is below bid.base_cpm %s", c.Bid.MaxCPM, c.Bid.BaseCPM)
	}
	for _, ph := range sortedKeys(c.Bid.PhaseMultipliers) {
		if _, err := segments.ParsePhase(ph); err != nil {
			bad("bid.phase_multipliers."+ph, "%v", err)
		}
		if m := c.Bid.PhaseMultipliers[ph]; m < 0 || m > 100 {
			bad("bid.phase_multipliers."+ph, "multiplier %g must be between 0 and 100", m)
		}
	}
	t := &c.Targeting
	for i, ph := range t.Phases {
		if _, err := segments.ParsePhase(ph); err != nil {
			bad(fmt.Sprintf("targeting.phases[%d]", i), "%v", err)
		}
	}
	for i, cc := range t.Countries {
		if !countryRe.MatchString(cc) {
			bad(fmt.Sprintf("targeting.countries[%d]", i), "%q: want ISO 3166-1 alpha-3 in capitals, e.g. DEU", cc)
		}
	}
	for i, d := range t.Devices {
		checkEnum(bad, fmt.Sprintf("targeting.devices[%d]", i), d, Devices)
	}
	for i, f := range t.Formats {
		checkEnum(bad, fmt.Sprintf("targeting.formats[%d]", i), f, Formats)
	}
	for i, d := range append(append([]string{}, t.Domains.Allow...), t.Domains.Block...) {
		if !validDomain(d) {
			bad("targeting.domains", "entry %d %q is not a domain or app bundle", i, d)
		}
	}
	for i, cat := range t.Categories.Block {
		if !catRe.MatchString(cat) {
			bad(fmt.Sprintf("targeting.categories.block[%d]", i), "%q is not an IAB category", cat)
		}
	}
	for i, dp := range t.Dayparts {
		f := fmt.Sprintf("targeting.dayparts[%d]", i)
		for _, d := range dp.Days {
			checkEnum(bad, f+".days", d, Weekdays)
		}
		if !hhmmRe.MatchString(dp.From) {
			bad(f+".from", "%q: want HH:MM", dp.From)
		}
		if !hhmmRe.MatchString(dp.To) {
			bad(f+".to", "%q: want HH:MM", dp.To)
		}
	}
	if fc := c.FrequencyCap; fc != nil {
		if fc.Impressions <= 0 {
			bad("frequency_cap.impressions", "must be positive, got %d", fc.Impressions)
		}
		if fc.Window < Duration(time.Minute) || fc.Window > Duration(90*24*time.Hour) {
			bad("frequency_cap.window", "%s: want between 1m and 90d", fc.Window)
		}
	}
	if len(c.Creatives) == 0 {
		bad("creatives", "required: at least one creative")
	}
	crIDs := map[string]bool{}
	for i := range c.Creatives {
		cr := &c.Creatives[i]
		f := fmt.Sprintf("creatives[%d]", i)
		if !idRe.MatchString(cr.ID) {
			bad(f+".id", "%q must be 1-63 characters of a-z, 0-9 and -", cr.ID)
		} else if crIDs[cr.ID] {
			bad(f+".id", "duplicate creative id %q", cr.ID)
		}
		crIDs[cr.ID] = true
		if len(cr.Formats) == 0 {
			bad(f+".formats", "required: at least one of %s", strings.Join(Formats, ", "))
		}
		for j, fm := range cr.Formats {
			checkEnum(bad, fmt.Sprintf("%s.formats[%d]", f, j), fm, Formats)
		}
		if !validURL(cr.LandingURL) {
			bad(f+".landing_url", "%q: want an absolute http(s) URL", cr.LandingURL)
		}
		if cr.Image != "" && !validURL(cr.Image) {
			bad(f+".image", "%q: want an absolute http(s) URL", cr.Image)
		}
		if has(cr.Formats, "banner") && len(cr.Sizes) == 0 && len(t.Sizes) == 0 {
			bad(f+".sizes", "required for banner creatives: the sizes it fits, e.g. [300x250]")
		}
		if has(cr.Formats, "video") {
			switch {
			case cr.Video == nil:
				bad(f+".video", "required for video creatives (url, mime, duration)")
			case !validURL(cr.Video.URL):
				bad(f+".video.url", "%q: want an absolute http(s) URL", cr.Video.URL)
			case cr.Video.Mime == "":
				bad(f+".video.mime", "required, e.g. video/mp4")
			case cr.Video.Duration <= 0:
				bad(f+".video.duration", "must be positive")
			}
		}
		for j, a := range cr.Attributes {
			if a < 1 || a > 17 {
				bad(fmt.Sprintf("%s.attributes[%d]", f, j), "%d is not an OpenRTB creative attribute (1-17)", a)
			}
		}
		if len(cr.Parts["headline"]) == 0 {
			bad(f+".parts.headline", "required: at least a default headline")
		}
		for _, part := range sortedKeys(cr.Parts) {
			pf := f + ".parts." + part
			if !has(Parts, part) {
				bad(pf, "unknown part (want one of %s)", strings.Join(Parts, ", "))
				continue
			}
			for _, ph := range sortedKeys(cr.Parts[part]) {
				if ph != "default" {
					if _, err := segments.ParsePhase(ph); err != nil {
						bad(pf+"."+ph, "want default or a phase: %v", err)
					}
				}
				vs := cr.Parts[part][ph]
				if len(vs) == 0 {
					bad(pf+"."+ph, "needs at least one variant")
				}
				for k, v := range vs {
					if strings.TrimSpace(v) == "" {
						bad(fmt.Sprintf("%s.%s[%d]", pf, ph, k), "empty variant")
					}
					if len(v) > 500 {
						bad(fmt.Sprintf("%s.%s[%d]", pf, ph, k), "longer than 500 bytes")
					}
				}
			}
		}
	}
	return ps
}

func checkEnum(bad func(string, string, ...any), field, v string, allowed []string) {
	if !has(allowed, v) {
		bad(field, "%q: want one of %s", v, strings.Join(allowed, ", "))
	}
}

func has(list []string, v string) bool {
	for _, s := range list {
		if s == v {
			return true
		}
	}
	return false
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func validDomain(d string) bool {
	if d == "" || len(d) > 253 || strings.ContainsAny(d, " /:@") {
		return false
	}
	return strings.Contains(d, ".")
}

func validURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "https" || u.Scheme == "http") && u.Host != ""
}

// MultiplierFor returns the bid multiplier for phase: the configured one, else 1.
func (c *Campaign) MultiplierFor(p segments.Phase) float64 {
	if m, ok := c.Bid.PhaseMultipliers[p.String()]; ok {
		return m
	}
	return 1
}

// PriceFor returns the CPM bid for phase: base × multiplier, capped at max.
func (c *Campaign) PriceFor(p segments.Phase) money.Micros {
	v := money.Micros(float64(c.Bid.BaseCPM)*c.MultiplierFor(p) + 0.5)
	if v > c.Bid.MaxCPM {
		v = c.Bid.MaxCPM
	}
	return v
}
