package creatives

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"errors"
	"strings"
	"testing"

	"github.com/kairos-rtb/kairos/campaigns"
	"github.com/kairos-rtb/kairos/segments"
	"github.com/prebid/openrtb/v20/native1/response"
)

// hostileProfile carries values that try to break out of every context.
func hostileProfile() *segments.Profile {
	return &segments.Profile{
		User:  `u"><script>alert(1)</script>`,
		Phase: segments.PhaseIntent,
		Product: segments.Product{ID: "sku-x",
			Name:  "</script><script>alert(1)</script>]]><x>\"onload=\"alert(1)' ${AUCTION_PRICE} \u2028\x00\xff",
			Price: `"onload="alert(1)`},
		Interests: []string{"javascript:alert(1)"},
	}
}

// hostileCampaign has a creative whose every part fills in a hostile value.
func hostileCampaign(t *testing.T) (*campaigns.Compiled, *campaigns.CompiledCreative, *campaigns.CompiledCreative) {
	t.Helper()
	fx := newFixture(t)
	c, _ := fx.creative(t, "trail-runner-test", "tr-main")
	cc := *c
	parts := map[string]map[string][]string{
		"headline":  {"default": {"{product.name} for {interest}"}},
		"message":   {"default": {"Only {product.price}! {keywords}"}},
		"cta":       {"default": {"{interest}"}},
		"offer":     {"default": {"]]> & <b>{product.name}</b>"}},
		"greeting":  {"default": {"Hi {interest}"}},
		"crosssell": {"default": {"x"}},
	}
	banner := &campaigns.Creative{ID: "hostile", Formats: []string{"banner", "native"}, Sizes: []campaigns.Size{{W: 300, H: 600}},
		LandingURL: "https://acme-sports.example/x", Image: "https://cdn.acme-sports.example/x.jpg", Parts: parts}
	video := &campaigns.Creative{ID: "hostile-video", Formats: []string{"video"},
		LandingURL: "https://acme-sports.example/x", Parts: parts,
		Video: &campaigns.Video{URL: "https://cdn.acme-sports.example/x.mp4?a=]]>", Mime: "video/mp4",
			Duration: campaigns.Duration(15e9)}}
	crB := &campaigns.CompiledCreative{Creative: banner, Formats: campaigns.FormatBanner | campaigns.FormatNative,
		Sizes: banner.Sizes, Secure: true}
	crV := &campaigns.CompiledCreative{Creative: video, Formats: campaigns.FormatVideo, Secure: true}
	cc.Advertiser = `Acme "Sports" <script>`
	return &cc, crB, crV
}

// TestHostileValues shows that profile and page values cannot leave the
// context they are inserted into, in any format.
func TestHostileValues(t *testing.T) {
	c, crB, crV := hostileCampaign(t)
	a := NewAssembler(Config{}, nil)
	p := hostileProfile()
	kw := `<img src=x onerror=alert(1)>,javascript:alert(2)`

	t.Run("banner", func(t *testing.T) {
		imp := bannerImp(300, 600)
		imp.Keywords = kw
		out, _, err := a.Assemble(nil, c, crB, p, imp)
		if err != nil {
			t.Fatal(err)
		}
		checkHTML(t, string(out))
		s := string(out)
		for _, bad := range []string{"<script", "<x>", "<b>", `"onload=`, "${AUCTION_PRICE} ", "javascript:alert(1)\"", "\x00"} {
			if strings.Contains(s, bad) {
				t.Errorf("banner contains %q:\n%s", bad, s)
			}
		}
		if !strings.Contains(s, "&lt;/script&gt;&lt;script&gt;alert(1)&lt;/script&gt;") {
			t.Errorf("product name not escaped as text:\n%s", s)
		}
		if strings.Count(s, "${AUCTION_PRICE}") != 1 {
			t.Errorf("want the macro only in the impression URL:\n%s", s)
		}
	})

	t.Run("native", func(t *testing.T) {
		imp := nativeImp(t, goldenNativeRequest)
		imp.Keywords = kw
		out, _, err := a.Assemble(nil, c, crB, p, imp)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.ContainsAny(out, "<>") {
			t.Errorf("native JSON carries raw < or >:\n%s", out)
		}
		var resp response.Response
		if err := json.Unmarshal(out, &resp); err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		var title string
		for _, as := range resp.Assets {
			if as.Title != nil {
				title = as.Title.Text
			}
		}
		if !strings.Contains(title, "</script><script>alert(1)</script>]]><x>") {
			t.Errorf("title does not round-trip: %q", title)
		}
		if bytes.Count(out, []byte("${AUCTION_PRICE}")) != 1 {
			t.Errorf("want the macro only in the impression tracker:\n%s", out)
		}
		if strings.ContainsRune(title, 0) {
			t.Errorf("control character kept: %q", title)
		}
		if resp.Link.URL != testClickURL {
			t.Errorf("link %q", resp.Link.URL)
		}
	})

	t.Run("video", func(t *testing.T) {
		imp := videoImp()
		imp.Keywords = kw
		imp.ImpURL = "https://kairos.example/i?x=]]><script>"
		out, _, err := a.Assemble(nil, c, crV, p, imp)
		if err != nil {
			t.Fatal(err)
		}
		var v vastDoc
		if err := xml.Unmarshal(out, &v); err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		ad := v.Ad.InLine
		if !strings.HasPrefix(ad.AdTitle, "</script><script>alert(1)</script>]]><x>") {
			t.Errorf("AdTitle does not round-trip: %q", ad.AdTitle)
		}
		if strings.TrimSpace(ad.Impression) != imp.ImpURL {
			t.Errorf("Impression %q, want %q", ad.Impression, imp.ImpURL)
		}
		if mf := ad.Creatives[0].Linear.MediaFiles[0]; strings.TrimSpace(mf.URL) != crV.Video.URL {
			t.Errorf("MediaFile %q", mf.URL)
		}
		if ad.Advertiser != c.Advertiser {
			t.Errorf("Advertiser %q", ad.Advertiser)
		}
		if bytes.Contains(out, []byte("<script")) && !bytes.Contains(out, []byte("<![CDATA[https://kairos.example/i?x=]]]]><![CDATA[><script>]]>")) {
			t.Errorf("raw <script outside CDATA:\n%s", out)
		}
	})

	t.Run("urls", func(t *testing.T) {
		f := func(name string, mod func(imp *Imp, cr *campaigns.CompiledCreative), want error) {
			t.Helper()
			imp := bannerImp(300, 600)
			cr := *crB
			cv := *cr.Creative
			cr.Creative = &cv
			mod(imp, &cr)
			if _, _, err := a.Assemble(nil, c, &cr, p, imp); !errors.Is(err, want) {
				t.Errorf("%s: err %v, want %v", name, err, want)
			}
		}
		f("javascript click", func(imp *Imp, _ *campaigns.CompiledCreative) { imp.ClickURL = "javascript:alert(1)" }, ErrInsecure)
		f("data pixel", func(imp *Imp, _ *campaigns.CompiledCreative) { imp.ImpURL = "data:text/html,<script>" }, ErrInsecure)
		f("javascript image", func(_ *Imp, cr *campaigns.CompiledCreative) { cr.Image = "javascript:alert(1)" }, ErrInsecure)
		f("javascript landing", func(imp *Imp, cr *campaigns.CompiledCreative) {
			imp.ClickURL = ""
			cr.LandingURL = "JaVaScRiPt:alert(1)"
		}, ErrInsecure)
		f("http on secure imp", func(imp *Imp, _ *campaigns.CompiledCreative) {
			imp.Secure = true
			imp.ImpURL = "http://kairos.example/i"
		}, ErrInsecure)
		f("insecure creative on secure imp", func(imp *Imp, cr *campaigns.CompiledCreative) {
			imp.Secure = true
			cr.Secure = false
		}, ErrInsecure)
		f("blocked attribute", func(imp *Imp, cr *campaigns.CompiledCreative) {
			cr.Attrs = 1 << 3
			imp.BAttr = 1<<3 | 1<<7
		}, ErrAttr)
	})
}

// vastDoc is the part of VAST the tests read back.
type vastDoc struct {
	XMLName xml.Name `xml:"VAST"`
	Version string   `xml:"version,attr"`
	Ad      struct {
		ID     string `xml:"id,attr"`
		InLine struct {
			AdSystem    string `xml:"AdSystem"`
			AdServingID string `xml:"AdServingId"`
			AdTitle     string `xml:"AdTitle"`
			Advertiser  string `xml:"Advertiser"`
			Description string `xml:"Description"`
			Impression  string `xml:"Impression"`
			Creatives   []struct {
				ID            string `xml:"id,attr"`
				UniversalAdID *struct {
					Registry string `xml:"idRegistry,attr"`
				} `xml:"UniversalAdId"`
				Linear struct {
					Duration   string `xml:"Duration"`
					MediaFiles []struct {
						Delivery string `xml:"delivery,attr"`
						Type     string `xml:"type,attr"`
						Width    int    `xml:"width,attr"`
						Height   int    `xml:"height,attr"`
						URL      string `xml:",chardata"`
					} `xml:"MediaFiles>MediaFile"`
					ClickThrough string `xml:"VideoClicks>ClickThrough"`
				} `xml:"Linear"`
			} `xml:"Creatives>Creative"`
		} `xml:"InLine"`
	} `xml:"Ad"`
}
