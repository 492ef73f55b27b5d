package creatives

import (
	"errors"
	"strings"
	"testing"

	"github.com/kairos-rtb/kairos/campaigns"
)

// recordingTracker hands out URLs that name the variant it was given.
type recordingTracker struct {
	calls int
	v     Variant
	click string
}

func (r *recordingTracker) TrackingURLs(v Variant) (string, string) {
	r.calls++
	r.v = v
	crid := v.String()
	return r.click + "?cr=" + crid, "https://kairos.example/imp?cr=" + crid
}

// TestTracker: the assembler asks the tracker once, after every part shown is
// chosen, so the URLs in the markup name exactly the variant the bid reports —
// for each format and layout and for every user.
func TestTracker(t *testing.T) {
	fx := newFixture(t)
	a := NewAssembler(Config{}, nil)
	c, cr := fx.creative(t, "trail-runner-test", "tr-main")
	_, vcr := fx.creative(t, "trail-runner-test", "tr-video")
	imps := map[string]func() *Imp{
		"banner-300x250": func() *Imp { return bannerImp(300, 250) },
		"banner-300x600": func() *Imp { return bannerImp(300, 600) },
		"banner-320x50":  func() *Imp { return bannerImp(320, 50) },
		"banner-728x90":  func() *Imp { return bannerImp(728, 90) },
		"native":         func() *Imp { return nativeImp(t, goldenNativeRequest) },
		"native10":       func() *Imp { return nativeImp(t, goldenNative10Request) },
		"video":          videoImp,
	}
	for name, mk := range imps {
		for _, u := range profiles() {
			imp := mk()
			imp.ClickURL, imp.ImpURL = "https://ignored.example/c", "https://ignored.example/i"
			tr := &recordingTracker{click: "https://kairos.example/click"}
			imp.Tracker = tr
			creative := cr
			if imp.Format == campaigns.FormatVideo {
				creative = vcr
			}
			out, v, err := a.Assemble(nil, c, creative, u.p, imp)
			if err != nil {
				if tr.calls != 0 && !errors.Is(err, ErrInsecure) {
					t.Errorf("%s/%s: tracker asked although assembly failed: %v", name, u.name, err)
				}
				continue
			}
			if tr.calls != 1 {
				t.Fatalf("%s/%s: tracker asked %d times", name, u.name, tr.calls)
			}
			if got, want := tr.v.String(), v.String(); got != want {
				t.Errorf("%s/%s: tracker saw variant %s, the bid reports %s", name, u.name, got, want)
			}
			if !strings.Contains(string(out), "cr="+v.String()) || strings.Contains(string(out), "ignored.example") {
				t.Errorf("%s/%s: markup does not carry the tracker's URLs:\n%s", name, u.name, out)
			}
		}
	}
}

// TestTrackerInsecure: a tracker URL that is not https fails a secure ad.
func TestTrackerInsecure(t *testing.T) {
	fx := newFixture(t)
	c, cr := fx.creative(t, "trail-runner-test", "tr-main")
	imp := bannerImp(300, 250)
	imp.Secure = true
	imp.Tracker = &recordingTracker{click: "http://kairos.example/click"}
	if _, _, err := NewAssembler(Config{}, nil).Assemble(nil, c, cr, nil, imp); !errors.Is(err, ErrInsecure) {
		t.Fatalf("http click URL on a secure impression: %v, want ErrInsecure", err)
	}
}
