package creatives

import (
	"encoding/json"
	"encoding/xml"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kairos-rtb/kairos/campaigns"
	"github.com/prebid/openrtb/v20/adcom1"
	"github.com/prebid/openrtb/v20/openrtb2"
)

// TestVAST parses the VAST for each protocol and constraint combination.
func TestVAST(t *testing.T) {
	fx := newFixture(t)
	c, cr := fx.creative(t, "trail-runner-test", "tr-video")
	a := NewAssembler(Config{}, nil)
	p := profiles()[3].p
	f := func(name string, mod func(v *VideoSpec), wantVer string, wantErr error) {
		t.Helper()
		imp := videoImp()
		mod(&imp.Video)
		out, v, err := a.Assemble(nil, c, cr, p, imp)
		if wantErr != nil || err != nil {
			if !errors.Is(err, wantErr) {
				t.Errorf("%s: err %v, want %v", name, err, wantErr)
			}
			return
		}
		var doc vastDoc
		if err := xml.Unmarshal(out, &doc); err != nil {
			t.Fatalf("%s: %v\n%s", name, err, out)
		}
		in := doc.Ad.InLine
		if doc.Version != wantVer {
			t.Errorf("%s: version %q, want %q", name, doc.Version, wantVer)
		}
		if in.AdSystem != "Kairos" || in.AdTitle != "Trail Runner 2 is ready when you are" ||
			strings.TrimSpace(in.Impression) != testImpURL || len(in.Creatives) != 1 {
			t.Errorf("%s: unexpected InLine %+v", name, in)
		}
		cre := in.Creatives[0]
		if cre.ID != v.String() {
			t.Errorf("%s: creative id %q, want crid %q", name, cre.ID, v.String())
		}
		if got := cre.Linear.Duration; got != "00:00:15" {
			t.Errorf("%s: duration %q", name, got)
		}
		if mf := cre.Linear.MediaFiles; len(mf) != 1 || mf[0].Type != "video/mp4" || mf[0].Delivery != "progressive" ||
			mf[0].Width != 640 || mf[0].Height != 360 || strings.TrimSpace(mf[0].URL) != cr.Video.URL {
			t.Errorf("%s: media files %+v", name, mf)
		}
		if got := strings.TrimSpace(cre.Linear.ClickThrough); got != testClickURL {
			t.Errorf("%s: click through %q", name, got)
		}
		if four := wantVer >= "4"; (cre.UniversalAdID != nil) != four {
			t.Errorf("%s: UniversalAdId present %v, want %v", name, cre.UniversalAdID != nil, four)
		}
		if (in.AdServingID != "") != (wantVer >= "4.1") {
			t.Errorf("%s: AdServingId %q", name, in.AdServingID)
		}
	}
	f("default", func(*VideoSpec) {}, "4.0", nil)
	f("no protocols", func(v *VideoSpec) { v.Protocols = nil }, "4.0", nil)
	f("4.0 wrapper", func(v *VideoSpec) { v.Protocols = []adcom1.MediaCreativeSubtype{8} }, "4.0", nil)
	f("4.1", func(v *VideoSpec) { v.Protocols = []adcom1.MediaCreativeSubtype{11} }, "4.1", nil)
	f("4.2", func(v *VideoSpec) { v.Protocols = []adcom1.MediaCreativeSubtype{13, 14} }, "4.2", nil)
	f("3.0", func(v *VideoSpec) { v.Protocols = []adcom1.MediaCreativeSubtype{2, 3} }, "3.0", nil)
	f("2.0", func(v *VideoSpec) { v.Protocols = []adcom1.MediaCreativeSubtype{2, 5} }, "2.0", nil)
	f("VAST 1 only", func(v *VideoSpec) { v.Protocols = []adcom1.MediaCreativeSubtype{1, 9} }, "", ErrProtocol)
	f("too long", func(v *VideoSpec) { v.MaxDuration = 10 }, "", ErrDuration)
	f("too short", func(v *VideoSpec) { v.MinDuration = 16 }, "", ErrDuration)
	f("bounds inclusive", func(v *VideoSpec) { v.MinDuration, v.MaxDuration = 15, 15 }, "4.0", nil)
	f("no bounds", func(v *VideoSpec) { v.MinDuration, v.MaxDuration = 0, 0 }, "4.0", nil)
	f("mime", func(v *VideoSpec) { v.Mimes = []string{"video/webm", "application/javascript"} }, "", ErrMime)
	f("mime case", func(v *VideoSpec) { v.Mimes = []string{"Video/MP4"} }, "4.0", nil)
	f("any mime", func(v *VideoSpec) { v.Mimes = nil }, "4.0", nil)
}

// TestVASTFixtures answers the video impressions of real exchanges.
func TestVASTFixtures(t *testing.T) {
	if _, err := os.Stat(sharedOpenRTB); err != nil {
		t.Skipf("shared OpenRTB fixtures not found at %s: %v", sharedOpenRTB, err)
	}
	fx := newFixture(t)
	c, cr := fx.creative(t, "trail-runner-test", "tr-video")
	a := NewAssembler(Config{}, nil)
	for _, tc := range []struct {
		file    string
		wantVer string
		wantErr error
	}{
		{"004-iab26-video.json", "3.0", nil},
		{"021-pbs-smaato-video-dooh.json", "4.0", nil},
		{"028-pbs-amx-video-simple.json", "4.0", nil},
		{"045-pbs-minutemedia-banner-and-video-gdpr.json", "", ErrDuration}, // maxduration 2
		{"014-iabconv-vast-app-25.json", "", ErrDuration},                   // minduration 100
	} {
		t.Run(tc.file, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join(sharedOpenRTB, tc.file))
			if err != nil {
				t.Fatal(err)
			}
			var req openrtb2.BidRequest
			if err := json.Unmarshal(data, &req); err != nil {
				t.Fatal(err)
			}
			for i := range req.Imp {
				if req.Imp[i].Video == nil {
					continue
				}
				var imp Imp
				if err := imp.FromOpenRTB(&req.Imp[i], campaigns.FormatVideo, 0, 0); err != nil {
					t.Fatal(err)
				}
				imp.ClickURL, imp.ImpURL, imp.Keywords = testClickURL, testImpURL, KeywordsOf(&req)
				out, _, err := a.Assemble(nil, c, cr, nil, &imp)
				if !errors.Is(err, tc.wantErr) || (tc.wantErr == nil) != (err == nil) {
					t.Fatalf("err %v, want %v", err, tc.wantErr)
				}
				if err != nil {
					continue
				}
				var doc vastDoc
				if err := xml.Unmarshal(out, &doc); err != nil {
					t.Fatalf("%v\n%s", err, out)
				}
				if doc.Version != tc.wantVer {
					t.Errorf("version %q, want %q", doc.Version, tc.wantVer)
				}
			}
		})
	}
}

func TestVASTTime(t *testing.T) {
	f := func(d time.Duration, want string) {
		t.Helper()
		if got := string(appendVASTTime(nil, d)); got != want {
			t.Errorf("%v: got %q, want %q", d, got, want)
		}
	}
	f(15*time.Second, "00:00:15")
	f(90*time.Second, "00:01:30")
	f(2*time.Hour+3*time.Minute+4*time.Second+50*time.Millisecond, "02:03:04.050")
	f(0, "00:00:00")
}
