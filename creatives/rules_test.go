package creatives

import (
	"errors"
	"strings"
	"testing"

	"github.com/kairos-rtb/kairos/campaigns"
	"github.com/kairos-rtb/kairos/segments"
)

// TestPersonalisation pins the rules that pick what a user sees.
func TestPersonalisation(t *testing.T) {
	fx := newFixture(t)
	c, cr := fx.creative(t, "trail-runner-test", "tr-main")
	a := NewAssembler(Config{}, nil)
	f := func(name string, p *segments.Profile, keywords string, want, notWant []string, wantErr error) {
		t.Helper()
		imp := bannerImp(300, 600)
		imp.Keywords = keywords
		out, _, err := a.Assemble(nil, c, cr, p, imp)
		if !errors.Is(err, wantErr) || (wantErr == nil) != (err == nil) {
			t.Fatalf("%s: err %v, want %v", name, err, wantErr)
		}
		for _, w := range want {
			if !strings.Contains(string(out), w) {
				t.Errorf("%s: missing %q in\n%s", name, w, out)
			}
		}
		for _, w := range notWant {
			if strings.Contains(string(out), w) {
				t.Errorf("%s: unexpected %q in\n%s", name, w, out)
			}
		}
	}
	intent := &segments.Profile{User: "u", Phase: segments.PhaseIntent, Product: trailRunner}
	f("phase picks message", intent, "", []string{"Only 89.00 - free returns.", "Buy now", "Free shipping this week"},
		[]string{"Grip on every surface."}, nil)
	f("known user greeted", intent, "", []string{"Welcome back!"}, nil, nil)
	f("unknown user contextual", nil, "hiking", []string{"Gear for hiking on every trail"},
		[]string{"Welcome back!", "Trail Runner 2 is ready"}, nil)
	f("unknown without keywords falls back to default", nil, "", []string{"Built for the trail"}, nil, nil)
	f("phase unknown ignores profile data", &segments.Profile{User: "u", Phase: segments.PhaseUnknown, Product: trailRunner},
		"", []string{"Built for the trail"}, []string{"Welcome back!", "89.00"}, nil)
	f("missing product falls back to default", &segments.Profile{User: "u", Phase: segments.PhaseIntent},
		"", []string{"Built for the trail", "Grip on every surface."}, []string{"{product"}, nil)
	f("interest from page for known user without interests",
		&segments.Profile{User: "u-aware", Phase: segments.PhaseAwareness}, "trail-running", nil, []string{"{interest}"}, nil)
	f("purchaser sees cross-sell, never the product again",
		&segments.Profile{User: "u", Phase: segments.PhasePurchased, Product: trailRunner, Purchased: []string{"sku-1"}},
		"", []string{"Socks and insoles that go with your Trail Runner 2"},
		[]string{"Complete your kit", "is ready when you are", "89.00"}, nil)
	f("bought the viewed product while still in intent",
		&segments.Profile{User: "u", Phase: segments.PhaseIntent, Product: trailRunner, Purchased: []string{"sku-1"}},
		"", []string{"Socks and insoles"}, []string{"is ready when you are", "Only 89.00"}, nil)
	f("purchaser without product and no fillable cross-sell",
		&segments.Profile{User: "u", Phase: segments.PhasePurchased}, "", nil, nil, ErrPurchased)

	// A creative that advertises no product may be shown to purchasers.
	lc, lcr := fx.creative(t, "acme-loyalty-test", "al-main")
	if _, _, err := a.Assemble(nil, lc, lcr, &segments.Profile{User: "u", Phase: segments.PhasePurchased,
		Product: trailRunner, Purchased: []string{"sku-1"}}, bannerImp(300, 250)); err != nil {
		t.Errorf("loyalty creative for purchaser: %v", err)
	}
}

func TestAssembleChecks(t *testing.T) {
	fx := newFixture(t)
	c, cr := fx.creative(t, "trail-runner-test", "tr-main")
	_, vcr := fx.creative(t, "trail-runner-test", "tr-video")
	a := NewAssembler(Config{}, nil)
	p := profiles()[3].p
	f := func(name string, a *Assembler, cr *campaigns.CompiledCreative, imp *Imp, want error) {
		t.Helper()
		dst := []byte("prefix")
		out, v, err := a.Assemble(dst, c, cr, p, imp)
		if !errors.Is(err, want) || (want == nil) != (err == nil) {
			t.Errorf("%s: err %v, want %v", name, err, want)
		}
		if err != nil && string(out) != "prefix" {
			t.Errorf("%s: dst changed on error: %q", name, out)
		}
		if v.Creative != cr.ID {
			t.Errorf("%s: variant names %q", name, v.Creative)
		}
	}
	f("ok", a, cr, bannerImp(300, 250), nil)
	f("size not served", a, cr, bannerImp(468, 60), ErrSize)
	f("no size", a, cr, bannerImp(0, 0), ErrSize)
	f("video imp, banner creative", a, cr, videoImp(), ErrFormat)
	f("native without request", a, cr, &Imp{Format: campaigns.FormatNative}, ErrFormat)
	f("banner imp, video creative", a, vcr, bannerImp(300, 250), ErrFormat)
	f("too large", NewAssembler(Config{MaxMarkupBytes: 1024}, nil), cr, bannerImp(300, 250), ErrTooLarge)
	several := bannerImp(300, 250)
	several.Format |= campaigns.FormatVideo
	f("several formats: the creative's", a, cr, several, nil)
}

func TestValidate(t *testing.T) {
	c := campaigns.Campaign{ID: "x", Creatives: []campaigns.Creative{{ID: "a", Parts: map[string]map[string][]string{
		"headline": {"default": {"Hi {name}", "{product.name}"}, "intent": {"{product.price} {interest} {keywords}"}},
	}}}}
	ps := Validate(&c)
	if len(ps) != 1 || ps[0].Field != "creatives[0].parts.headline.default[0]" || !strings.Contains(ps[0].Message, "{name}") {
		t.Errorf("Validate = %+v", ps)
	}
	if err := (Config{MaxMarkupBytes: 10}).Validate(); err == nil {
		t.Error("Config.Validate accepts 10 bytes")
	}
	if err := (Config{}).Validate(); err != nil {
		t.Error(err)
	}
}

// TestPrepareIndex: a new index replaces the compiled templates of the old one.
func TestPrepareIndex(t *testing.T) {
	a := NewAssembler(Config{}, nil)
	fx1, fx2 := newFixture(t), newFixture(t)
	c1, cr1 := fx1.creative(t, "trail-runner-test", "tr-main")
	a.Prepare(c1)
	if _, ok := a.lazy.Load(cr1.Creative); !ok {
		t.Fatal("Prepare did not compile")
	}
	a.PrepareIndex(fx2.ix)
	if _, ok := a.lazy.Load(cr1.Creative); ok {
		t.Error("old creative kept after PrepareIndex")
	}
	c2, cr2 := fx2.creative(t, "trail-runner-test", "tr-main")
	if _, ok := (*a.snap.Load())[cr2.Creative]; !ok {
		t.Error("new creative not compiled")
	}
	if _, _, err := a.Assemble(nil, c2, cr2, nil, bannerImp(300, 250)); err != nil {
		t.Error(err)
	}
}
