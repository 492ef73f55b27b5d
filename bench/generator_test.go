package bench

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bytedance/sonic"
	"github.com/prebid/go-gdpr/consentconstants"
	"github.com/prebid/go-gdpr/vendorconsent"
	"github.com/prebid/openrtb/v20/openrtb2"
)

func generate(t testing.TB, cfg GeneratorConfig, n int) Corpus {
	t.Helper()
	g, err := NewGenerator(cfg)
	if err != nil {
		t.Fatal(err)
	}
	c, err := g.Generate(n)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestGeneratorIsDeterministic(t *testing.T) {
	cfg := GeneratorConfig{Seed: 42, KnownShare: 0.3, KnownUsers: 1000}
	a, b := generate(t, cfg, 300), generate(t, cfg, 300)
	for i := range a {
		if !bytes.Equal(a[i].Body, b[i].Body) {
			t.Fatalf("request %d differs between runs with one seed:\n%s\n%s", i, a[i].Body, b[i].Body)
		}
	}
	cfg.Seed = 43
	c := generate(t, cfg, 300)
	same := 0
	for i := range a {
		if bytes.Equal(a[i].Body, c[i].Body) {
			same++
		}
	}
	if same > 0 {
		t.Errorf("%d of 300 requests equal under another seed", same)
	}
}

// mixCounts tallies what a corpus contains.
type mixCounts map[string]int

func TestGeneratorRequestsAreValidAndVaried(t *testing.T) {
	const n = 4000
	known := []string{"alice", "bob", "carol"}
	corpus := generate(t, GeneratorConfig{Seed: 1, KnownShare: 0.25, KnownIDs: known}, n)
	seen := mixCounts{}
	for i, r := range corpus {
		var br openrtb2.BidRequest
		if err := json.Unmarshal(r.Body, &br); err != nil {
			t.Fatalf("request %d does not decode: %v\n%s", i, err, r.Body)
		}
		var viaSonic openrtb2.BidRequest
		if err := sonic.Unmarshal(r.Body, &viaSonic); err != nil {
			t.Fatalf("request %d does not decode with sonic: %v", i, err)
		}
		if br.ID == "" || len(br.Imp) == 0 || (br.Site == nil) == (br.App == nil) {
			t.Fatalf("request %d: id %q, %d imps, site %v app %v", i, br.ID, len(br.Imp), br.Site != nil, br.App != nil)
		}
		if r.IDOffset != 7 || string(r.Body[7:7+idHexLen]) != br.ID {
			t.Fatalf("request %d: id offset %d does not point at id %q", i, r.IDOffset, br.ID)
		}
		if r.TMax != time.Duration(br.TMax)*time.Millisecond || r.TMax == 0 {
			t.Fatalf("request %d: TMax %v, tmax %d", i, r.TMax, br.TMax)
		}
		if len(r.Imps) != len(br.Imp) {
			t.Fatalf("request %d: %d imp descriptions for %d imps", i, len(r.Imps), len(br.Imp))
		}
		for j, imp := range br.Imp {
			if imp.ID == "" || r.Imps[j].ID != imp.ID || r.Imps[j].Floor != imp.BidFloor {
				t.Fatalf("request %d imp %d: %+v vs %+v", i, j, imp, r.Imps[j])
			}
			switch {
			case imp.Banner != nil:
				seen["banner"]++
				seen[sizeKey(*imp.Banner.W, *imp.Banner.H)]++
			case imp.Native != nil:
				seen["native"]++
				if !json.Valid([]byte(imp.Native.Request)) {
					t.Fatalf("request %d: native request is not JSON", i)
				}
			case imp.Video != nil:
				seen["video"]++
			case imp.Audio != nil:
				seen["audio"]++
			}
			if imp.BidFloor > 0 {
				seen["floor"]++
			}
			if imp.PMP != nil && len(imp.PMP.Deals) > 0 {
				seen["deal"]++
			}
		}
		if br.App != nil {
			seen["app"]++
		}
		seen["country "+br.Device.Geo.Country]++
		seen["device "+string(rune('0'+br.Device.DeviceType))]++
		if br.User != nil {
			for _, id := range []string{br.User.BuyerUID, br.User.ID, br.Device.IFA} {
				for _, k := range known {
					if id == k {
						seen["known"]++
					}
				}
			}
			if br.User.Consent != "" {
				seen["consent"]++
			}
		}
		if br.Regs != nil {
			if br.Regs.GDPR != nil && *br.Regs.GDPR == 1 {
				seen["gdpr"]++
				if br.User == nil || br.User.Consent == "" {
					seen["gdpr without consent"]++
				}
			}
			if br.Regs.COPPA == 1 {
				seen["coppa"]++
			}
			seen["us_privacy "+br.Regs.USPrivacy]++
		}
	}
	between := func(key string, lo, hi float64) {
		t.Helper()
		if share := float64(seen[key]) / n; share < lo || share > hi {
			t.Errorf("share of %q = %.3f, want in [%v, %v]", key, share, lo, hi)
		}
	}
	between("known", 0.2, 0.3)
	between("app", 0.35, 0.45)
	between("native", 0.08, 0.2)
	between("video", 0.12, 0.3)
	between("banner", 0.55, 0.85)
	between("floor", 0.6, 0.9)
	between("deal", 0.04, 0.14)
	between("gdpr", 0.4, 0.8)
	between("gdpr without consent", 0.03, 0.12)
	between("coppa", 0.005, 0.04)
	between("us_privacy 1YYN", 0.003, 0.04)
	between("us_privacy 1YNN", 0.03, 0.12)
	for _, key := range []string{
		"country DEU", "country AUT", "country CHE", "country USA", "country GBR", "country FRA",
		"country ITA", "300x250", "728x90", "320x50", "300x600", "audio",
		"device 2", "device 3", "device 4", "device 5",
	} {
		if seen[key] == 0 {
			t.Errorf("no request with %s in %d", key, n)
		}
	}
	// Mostly biddable: demo countries dominate.
	demo := 0
	for _, c := range []string{"DEU", "AUT", "CHE", "USA", "GBR", "FRA"} {
		demo += seen["country "+c]
	}
	if share := float64(demo) / n; share < 0.9 {
		t.Errorf("share of demo-campaign countries = %.2f, want most", share)
	}
}

func sizeKey(w, h int64) string { return fmt.Sprintf("%dx%d", w, h) }

func TestGeneratorConfigValidate(t *testing.T) {
	f := func(cfg GeneratorConfig, wantErr string) {
		t.Helper()
		_, err := NewGenerator(cfg)
		if wantErr == "" && err != nil || wantErr != "" && (err == nil || !strings.Contains(err.Error(), wantErr)) {
			t.Errorf("NewGenerator(%+v) error %v, want %q", cfg, err, wantErr)
		}
	}
	f(GeneratorConfig{}, "")
	f(GeneratorConfig{KnownShare: 1.5}, "known_share")
	f(GeneratorConfig{KnownShare: 0.5}, "known_ids or known_users")
	f(GeneratorConfig{Mix: &Mix{Native: 0.7, Video: 0.5}}, "mix.native + mix.video")
	f(GeneratorConfig{Mix: &Mix{COPPA: -1}}, "mix.coppa")
}

func TestConsentStringsParse(t *testing.T) {
	g, err := NewGenerator(GeneratorConfig{Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	yes, err := vendorconsent.ParseString(g.consentYes)
	if err != nil {
		t.Fatalf("consent %q: %v", g.consentYes, err)
	}
	for p := consentconstants.Purpose(1); p <= 10; p++ {
		if !yes.PurposeAllowed(p) {
			t.Errorf("purpose %d not allowed", p)
		}
	}
	for _, v := range []uint16{1, 755, 1500} {
		if !yes.VendorConsent(v) {
			t.Errorf("vendor %d has no consent", v)
		}
	}
	no, err := vendorconsent.ParseString(g.consentNo)
	if err != nil {
		t.Fatalf("consent %q: %v", g.consentNo, err)
	}
	if no.PurposeAllowed(1) || no.VendorConsent(1) {
		t.Error("refusing consent string allows purpose 1 or vendor 1")
	}
}

func TestProfiles(t *testing.T) {
	var a, b bytes.Buffer
	if err := WriteProfiles(&a, 2000, 7); err != nil {
		t.Fatal(err)
	}
	if err := WriteProfiles(&b, 2000, 7); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a.Bytes(), b.Bytes()) {
		t.Error("profiles differ under one seed")
	}
	phases := map[string]int{}
	for i, line := range strings.Split(strings.TrimSpace(a.String()), "\n") {
		var p Profile
		dec := json.NewDecoder(strings.NewReader(line))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&p); err != nil {
			t.Fatalf("line %d: %v", i+1, err)
		}
		if p.User != UserID(i+1) || p.TTL != "720h" || len(p.Interests) == 0 {
			t.Fatalf("line %d: %+v", i+1, p)
		}
		if p.Phase != "awareness" && p.Product == nil {
			t.Fatalf("line %d: phase %s without product", i+1, p.Phase)
		}
		phases[p.Phase]++
	}
	for _, ph := range []string{"awareness", "consideration", "intent", "purchased"} {
		if phases[ph] < 200 {
			t.Errorf("phase %s: %d of 2000 profiles", ph, phases[ph])
		}
	}
	ids, err := ReadProfileIDs(&a)
	if err != nil {
		t.Fatal(err)
	}
	if len(ids) != 2000 || ids[0] != "u-1" || ids[1999] != "u-2000" {
		t.Errorf("read %d ids: %v … %v", len(ids), ids[:1], ids[len(ids)-1:])
	}
	if _, err := ReadProfileIDs(strings.NewReader("{\"user\":\"u-1\"}\nnot json\n")); err == nil || !strings.Contains(err.Error(), "line 2") {
		t.Errorf("bad line: error %v", err)
	}
}

// sharedTestdata locates ../shared/testdata/openrtb from the repository root.
func sharedTestdata(t *testing.T) string {
	t.Helper()
	dir := filepath.Join("..", "..", "shared", "testdata", "openrtb")
	if _, err := os.Stat(dir); err != nil {
		t.Skipf("shared OpenRTB testdata not found at %s: %v", dir, err)
	}
	return dir
}

func TestReplaySharedTestdata(t *testing.T) {
	dir := sharedTestdata(t)
	c, err := Replay(dir)
	if err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*.json"))
	if len(c) != len(files) || len(c) < 10 {
		t.Fatalf("replayed %d requests from %d files", len(c), len(files))
	}
	byName := map[string]*Request{}
	for i := range c {
		r := &c[i]
		byName[r.Name] = r
		want, _ := os.ReadFile(filepath.Join(dir, r.Name))
		if !bytes.Equal(r.Body, want) {
			t.Errorf("%s: body changed", r.Name)
		}
		if r.IDOffset != -1 {
			t.Errorf("%s: id offset %d in a replayed file", r.Name, r.IDOffset)
		}
	}
	if r := byName["005-iab26-pmp-with-direct-deal.json"]; r == nil {
		t.Log("005 fixture absent; skipping deal check")
	} else if len(r.Imps) != 1 || r.Imps[0].Floor != 0.03 || len(r.Imps[0].Deals) != 2 || r.Imps[0].Deals[0].Floor != 2.5 {
		t.Errorf("005 imps: %+v", r.Imps)
	}
}

func TestCorpusWriteDirReplays(t *testing.T) {
	c := generate(t, GeneratorConfig{Seed: 3}, 50)
	dir := t.TempDir()
	if err := c.WriteDir(dir); err != nil {
		t.Fatal(err)
	}
	back, err := Replay(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(back) != len(c) {
		t.Fatalf("replayed %d of %d", len(back), len(c))
	}
	for i := range c {
		if !bytes.Equal(back[i].Body, c[i].Body) || back[i].IDOffset != 7 || back[i].TMax != c[i].TMax {
			t.Errorf("request %d did not survive the round trip", i)
		}
	}
	if _, err := Replay(t.TempDir()); err == nil {
		t.Error("replay of an empty folder succeeded")
	}
}

func BenchmarkGeneratorNext(b *testing.B) {
	g, err := NewGenerator(GeneratorConfig{Seed: 1, KnownShare: 0.3, KnownUsers: 100000})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := g.Next(); err != nil {
			b.Fatal(err)
		}
	}
}
