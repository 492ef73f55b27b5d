package creatives

import (
	"os"
	"testing"
	"time"

	"github.com/kairos-rtb/kairos/campaigns"
	"github.com/kairos-rtb/kairos/segments"
	"github.com/prebid/openrtb/v20/adcom1"
)

// fixture is the compiled test campaigns of testdata/campaigns.yaml.
type fixture struct {
	ix *campaigns.Index
}

func loadIndex(t testing.TB, path string) *campaigns.Index {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cs, err := campaigns.Parse(path, f)
	if err != nil {
		t.Fatal(err)
	}
	for i := range cs {
		if ps := Validate(&cs[i]); len(ps) > 0 {
			t.Fatalf("%s: %v", path, ps)
		}
	}
	return campaigns.Compile(cs, time.Date(2027, 3, 1, 12, 0, 0, 0, time.UTC))
}

func newFixture(t testing.TB) *fixture {
	return &fixture{ix: loadIndex(t, "testdata/campaigns.yaml")}
}

// creative returns campaign id's creative crid.
func (fx *fixture) creative(t testing.TB, id, crid string) (*campaigns.Compiled, *campaigns.CompiledCreative) {
	t.Helper()
	c, ok := fx.ix.Get(id)
	if !ok {
		t.Fatalf("no campaign %q", id)
	}
	for i := range c.Creatives {
		if c.Creatives[i].ID == crid {
			return c, &c.Creatives[i]
		}
	}
	t.Fatalf("campaign %q has no creative %q", id, crid)
	return nil, nil
}

const (
	testClickURL = "https://kairos.example/c/abc123?sig=x1"
	testImpURL   = "https://kairos.example/i/abc123?p=${AUCTION_PRICE}&sig=x2"
	testKeywords = "trail-running, hiking,outdoor"
)

var trailRunner = segments.Product{ID: "sku-1", Name: "Trail Runner 2", Price: "89.00"}

// profiles are the users of the golden tests, by case name; nil = no profile.
func profiles() []struct {
	name string
	p    *segments.Profile
} {
	return []struct {
		name string
		p    *segments.Profile
	}{
		{"unknown", nil},
		{"awareness", &segments.Profile{User: "u-aware", Phase: segments.PhaseAwareness, Interests: []string{"trail-running"}}},
		{"consideration", &segments.Profile{User: "u-consider", Phase: segments.PhaseConsideration,
			Interests: []string{"running-shoes"}, Product: trailRunner}},
		{"intent", &segments.Profile{User: "u-intent", Phase: segments.PhaseIntent,
			Interests: []string{"running-shoes"}, Product: trailRunner}},
		{"purchased", &segments.Profile{User: "u-bought", Phase: segments.PhasePurchased,
			Interests: []string{"running-shoes"}, Product: trailRunner, Purchased: []string{"sku-1"}}},
		{"purchased-noproduct", &segments.Profile{User: "u-bought2", Phase: segments.PhasePurchased}},
	}
}

func bannerImp(w, h int) *Imp {
	return &Imp{Format: campaigns.FormatBanner, W: w, H: h, Keywords: testKeywords,
		ClickURL: testClickURL, ImpURL: testImpURL, BidID: "bid-1"}
}

// goldenNativeRequest asks for every asset kind Kairos answers.
const goldenNativeRequest = `{"ver":"1.2","context":2,"plcmttype":1,"assets":[
 {"id":1,"required":1,"title":{"len":90}},
 {"id":2,"required":1,"img":{"type":3,"wmin":600,"hmin":315,"mimes":["image/jpeg","image/png"]}},
 {"id":3,"img":{"type":1,"wmin":50,"hmin":50}},
 {"id":4,"required":1,"data":{"type":1,"len":25}},
 {"id":5,"data":{"type":2,"len":140}},
 {"id":6,"data":{"type":12,"len":15}},
 {"id":7,"data":{"type":6}},
 {"id":8,"data":{"type":10}},
 {"id":9,"data":{"type":3}}],
 "eventtrackers":[{"event":1,"methods":[1,2]}]}`

// goldenNative10Request is a Native 1.0 style request: wrapped, short title.
const goldenNative10Request = `"{\"native\":{\"ver\":\"1.0\",\"assets\":[{\"id\":1,\"required\":1,\"title\":{\"len\":25}},{\"id\":2,\"required\":1,\"data\":{\"type\":2,\"len\":20}}]}}"`

func nativeImp(t testing.TB, req string) *Imp {
	t.Helper()
	imp := &Imp{Format: campaigns.FormatNative, Keywords: testKeywords,
		ClickURL: testClickURL, ImpURL: testImpURL, BidID: "bid-1"}
	if err := imp.SetNativeRequest([]byte(req)); err != nil {
		t.Fatal(err)
	}
	return imp
}

func videoImp() *Imp {
	return &Imp{Format: campaigns.FormatVideo, Keywords: testKeywords,
		ClickURL: testClickURL, ImpURL: testImpURL, BidID: "bid-1",
		Video: VideoSpec{Mimes: []string{"video/mp4", "video/webm"}, MinDuration: 5, MaxDuration: 30,
			Protocols: []adcom1.MediaCreativeSubtype{7, 8}, W: 1280, H: 720}}
}
