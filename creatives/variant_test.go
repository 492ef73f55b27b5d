package creatives

import (
	"strings"
	"testing"

	"github.com/kairos-rtb/kairos/segments"
)

func TestVariantCrid(t *testing.T) {
	f := func(v Variant, want string) {
		t.Helper()
		if got := string(v.AppendCrid([]byte("x:"))); got != "x:"+want {
			t.Errorf("crid %q, want %q", got, "x:"+want)
		}
		if v.String() != want {
			t.Errorf("String %q, want %q", v.String(), want)
		}
	}
	v := Variant{Creative: "tr-main", Phase: segments.PhaseIntent}
	f(v, "tr-main.")
	v.set(PartHeadline, 1, false)
	v.set(PartMessage, 0, true)
	v.set(PartCTA, 12, false)
	f(v, "tr-main.h1M0c12")
	v.set(PartGreeting, 126, true)
	f(v, "tr-main.h1M0c12G126")
	if i, def, ok := v.Pick(PartMessage); i != 0 || !def || !ok {
		t.Errorf("Pick(message) = %d %v %v", i, def, ok)
	}
	if _, _, ok := v.Pick(PartOffer); ok {
		t.Error("offer not shown")
	}
	if PartCrossSell.String() != "crosssell" || !strings.HasPrefix(Part(99).String(), "part(") {
		t.Error("Part.String")
	}
}

func TestTemplateCompile(t *testing.T) {
	f := func(in string, want []seg, need uint8) {
		t.Helper()
		got := compileTemplate(in)
		if got.need != need || len(got.segs) != len(want) {
			t.Fatalf("%q: %+v, want %+v need %b", in, got, want, need)
		}
		for i := range want {
			if got.segs[i] != want[i] {
				t.Errorf("%q: seg %d %+v, want %+v", in, i, got.segs[i], want[i])
			}
		}
	}
	f("plain", []seg{{lit: "plain"}}, 0)
	f("{product.name} is ready", []seg{{ph: phProductName}, {lit: " is ready"}}, 1<<phProductName)
	f("Only {product.price}!", []seg{{lit: "Only "}, {ph: phProductPrice}, {lit: "!"}}, 1<<phProductPrice)
	f("{unknown} and {interest}", []seg{{lit: "{unknown} and "}, {ph: phInterest}}, 1<<phInterest)
	f("open { brace", []seg{{lit: "open { brace"}}, 0)
	f("{keywords}{interest}", []seg{{ph: phKeywords}, {ph: phInterest}}, 1<<phKeywords|1<<phInterest)
}
