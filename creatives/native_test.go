package creatives

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"unicode/utf8"

	"github.com/kairos-rtb/kairos/campaigns"
	"github.com/prebid/openrtb/v20/native1/request"
	"github.com/prebid/openrtb/v20/native1/response"
	"github.com/prebid/openrtb/v20/openrtb2"
)

const sharedOpenRTB = "../../shared/testdata/openrtb"

// nativeRequests returns the raw imp.native.request of every native impression
// in an OpenRTB fixture: through openrtb2 when the file decodes strictly, else
// (request sent as an object) from the raw JSON.
func nativeRequests(t *testing.T, path string) [][]byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out [][]byte
	var req openrtb2.BidRequest
	if err := json.Unmarshal(data, &req); err == nil {
		for i := range req.Imp {
			if req.Imp[i].Native != nil {
				imp := &Imp{}
				err := imp.FromOpenRTB(&req.Imp[i], campaigns.FormatNative, 0, 0)
				if err != nil && !errors.Is(err, ErrNativeRequest) {
					t.Fatalf("FromOpenRTB: %v", err)
				}
				out = append(out, []byte(req.Imp[i].Native.Request))
			}
		}
		return out
	}
	var raw struct {
		Imp []struct {
			Native *struct {
				Request json.RawMessage `json:"request"`
			} `json:"native"`
		} `json:"imp"`
	}
	if err := json.Unmarshal(data, &raw); err != nil {
		t.Fatal(err)
	}
	for _, imp := range raw.Imp {
		if imp.Native != nil {
			out = append(out, imp.Native.Request)
		}
	}
	return out
}

// TestNativeFixtures answers the native requests of real exchanges: every
// required asset is answered, by id, within its length limit.
func TestNativeFixtures(t *testing.T) {
	if _, err := os.Stat(sharedOpenRTB); err != nil {
		t.Skipf("shared OpenRTB fixtures not found at %s: %v", sharedOpenRTB, err)
	}
	fx := newFixture(t)
	c, cr := fx.creative(t, "trail-runner-test", "tr-main")
	a := NewAssembler(Config{}, nil)
	intent := profiles()[3].p
	for _, tc := range []struct {
		file string
		want error
	}{
		// The IAB 2.5 example holds a literal "[ ... ]" placeholder.
		{"011-iab25-native-ad.json", ErrNativeRequest},
		// Synthetic limits (title len 1, sponsored len 1, image mimes "a"): nothing fits.
		{"015-iabconv-native-site-25.json", ErrNoAssets},
		{"022-pbs-smartadserver-multi-impression-types-native-audio.json", nil},
		{"034-pbs-kargo-native.json", nil},
		{"039-pbs-clydo-native-multiple-app.json", nil},
		{"042-pbs-e_volution-native.json", nil},
	} {
		t.Run(tc.file, func(t *testing.T) {
			reqs := nativeRequests(t, filepath.Join(sharedOpenRTB, tc.file))
			if len(reqs) == 0 {
				t.Fatal("no native impressions")
			}
			for _, raw := range reqs {
				imp := &Imp{Format: campaigns.FormatNative, ClickURL: testClickURL, ImpURL: testImpURL}
				err := imp.SetNativeRequest(raw)
				var out []byte
				if err == nil {
					out, _, err = a.Assemble(nil, c, cr, intent, imp)
				}
				if !errors.Is(err, tc.want) || (tc.want == nil) != (err == nil) {
					t.Fatalf("err %v, want %v", err, tc.want)
				}
				if err != nil {
					continue
				}
				checkNativeAnswer(t, raw, out)
			}
		})
	}
}

// checkNativeAnswer checks a response against its request with the prebid
// native1 types: required assets answered, ids known, lengths respected.
func checkNativeAnswer(t *testing.T, rawReq, out []byte) {
	t.Helper()
	var s string
	if json.Unmarshal(rawReq, &s) == nil {
		rawReq = []byte(s)
	}
	var req request.Request
	var wrapped struct{ Native *request.Request }
	if err := json.Unmarshal(rawReq, &wrapped); err == nil && wrapped.Native != nil {
		req = *wrapped.Native
	} else if err := json.Unmarshal(rawReq, &req); err != nil {
		t.Fatal(err)
	}
	var resp response.Response
	if err := json.Unmarshal(out, &resp); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if resp.Link.URL != testClickURL {
		t.Errorf("link.url %q", resp.Link.URL)
	}
	if len(resp.ImpTrackers) == 0 && len(resp.EventTrackers) == 0 {
		t.Errorf("no impression tracking: %s", out)
	}
	got := map[int64]response.Asset{}
	for _, as := range resp.Assets {
		if as.ID == nil {
			t.Fatalf("asset without id: %s", out)
		}
		got[*as.ID] = as
	}
	for _, ra := range req.Assets {
		as, ok := got[ra.ID]
		if !ok {
			if ra.Required == 1 {
				t.Errorf("required asset %d missing: %s", ra.ID, out)
			}
			continue
		}
		delete(got, ra.ID)
		switch {
		case ra.Title != nil:
			if as.Title == nil || as.Title.Text == "" {
				t.Errorf("asset %d: want a title: %s", ra.ID, out)
			} else if n := utf8.RuneCountInString(as.Title.Text); ra.Title.Len > 0 && int64(n) > ra.Title.Len {
				t.Errorf("asset %d: title %q longer than %d", ra.ID, as.Title.Text, ra.Title.Len)
			}
		case ra.Img != nil:
			if as.Img == nil || as.Img.URL == "" {
				t.Errorf("asset %d: want an image: %s", ra.ID, out)
			}
		case ra.Data != nil:
			if as.Data == nil || as.Data.Value == "" {
				t.Errorf("asset %d: want data: %s", ra.ID, out)
			} else if n := utf8.RuneCountInString(as.Data.Value); ra.Data.Len > 0 && int64(n) > ra.Data.Len {
				t.Errorf("asset %d: data %q longer than %d", ra.ID, as.Data.Value, ra.Data.Len)
			}
		default:
			t.Errorf("asset %d answered but not a title, image or data", ra.ID)
		}
	}
	for id := range got {
		t.Errorf("asset %d was not requested: %s", id, out)
	}
}

func TestNativeRequestForms(t *testing.T) {
	f := func(name, req string, wantWrapped bool, wantVer uint8, wantAssets int) {
		t.Helper()
		var imp Imp
		if err := imp.SetNativeRequest([]byte(req)); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		n := imp.native
		if n.wrapped != wantWrapped || n.ver != wantVer || len(n.assets) != wantAssets {
			t.Errorf("%s: wrapped %v ver %d assets %d, want %v %d %d", name, n.wrapped, n.ver, len(n.assets),
				wantWrapped, wantVer, wantAssets)
		}
	}
	f("object 1.2", `{"ver":"1.2","assets":[{"id":1,"title":{"len":20}}]}`, false, 12, 1)
	f("no ver", `{"assets":[{"id":1,"title":{"len":20}}]}`, false, 12, 1)
	f("wrapped 1.0", `{"native":{"ver":"1.0","assets":[{"id":1,"title":{"len":20}},{"id":2,"data":{"type":2}}]}}`, true, 10, 2)
	f("wrapped no ver", `{"native":{"assets":[{"id":1,"title":{"len":20}}]}}`, true, 10, 1)
	f("string", `"{\"ver\":\"1.1\",\"assets\":[{\"id\":\"1\",\"required\":true,\"title\":{\"len\":\"20\"}}]}"`, false, 11, 1)

	bad := func(name, req string) {
		t.Helper()
		var imp Imp
		if err := imp.SetNativeRequest([]byte(req)); !errors.Is(err, ErrNativeRequest) {
			t.Errorf("%s: err %v, want ErrNativeRequest", name, err)
		}
	}
	bad("empty", ``)
	bad("placeholder", `{"native":{"ver":"1.0","assets":[ ... ]}}`)
	bad("no assets", `{"ver":"1.2","assets":[]}`)
	bad("not json", `{test json string}`)
}

// TestNativeRequired: a required asset Kairos cannot answer fails the bid; an
// optional one is left out.
func TestNativeRequired(t *testing.T) {
	fx := newFixture(t)
	c, cr := fx.creative(t, "trail-runner-test", "tr-main")
	a := NewAssembler(Config{}, nil)
	p := profiles()[3].p
	f := func(req string, want error) {
		t.Helper()
		_, _, err := a.Assemble(nil, c, cr, p, nativeImp(t, req))
		if !errors.Is(err, want) || (want == nil) != (err == nil) {
			t.Errorf("%s: err %v, want %v", req, err, want)
		}
	}
	f(`{"assets":[{"id":1,"required":1,"title":{"len":90}},{"id":2,"video":{}}]}`, nil)
	f(`{"assets":[{"id":1,"required":1,"title":{"len":90}},{"id":2,"required":1,"video":{}}]}`, ErrNoAssets)
	f(`{"assets":[{"id":1,"required":1,"title":{"len":5}}]}`, ErrNoAssets)
	f(`{"assets":[{"id":1,"required":1,"data":{"type":12,"len":3}}]}`, ErrNoAssets)
	f(`{"assets":[{"id":1,"required":1,"img":{"type":3,"mimes":["image/gif"]}}]}`, ErrNoAssets)
	f(`{"assets":[{"id":1,"required":1,"data":{"type":3}}]}`, ErrNoAssets)
	f(`{"assets":[{"id":1,"data":{"type":3}}]}`, ErrNoAssets) // nothing answered at all
}

func TestFit(t *testing.T) {
	f := func(s string, limit int, truncate bool, want string, wantEll, wantOK bool) {
		t.Helper()
		got, ell, ok := fit(s, limit, truncate)
		if got != want || ell != wantEll || ok != wantOK {
			t.Errorf("fit(%q, %d, %v) = %q %v %v, want %q %v %v", s, limit, truncate, got, ell, ok, want, wantEll, wantOK)
		}
	}
	f("Buy now", 0, false, "Buy now", false, true)
	f("Buy now", 7, false, "Buy now", false, true)
	f("Buy now", 6, false, "", false, false)
	f("Trail Runner 2 is ready when you are", 25, true, "Trail Runner 2 is ready", true, true)
	f("Trail Runner 2 is ready when you are", 9, true, "", false, false)
	f("Überschuhgröße für alle Wege", 12, true, "Überschuhgr", true, true)
	f("Schön, wirklich schön", 11, true, "Schön", true, true)
}

// FuzzNativeRequest feeds arbitrary native requests through parsing and
// assembly: no panic, and any response is valid JSON.
func FuzzNativeRequest(f *testing.F) {
	f.Add([]byte(goldenNativeRequest))
	f.Add([]byte(goldenNative10Request))
	f.Add([]byte(`{"assets":[{"id":"1","required":true,"title":{"len":1.5}}]}`))
	fx := newFixture(f)
	c, cr := fx.creative(f, "trail-runner-test", "tr-main")
	a := NewAssembler(Config{}, nil)
	p := profiles()[3].p
	f.Fuzz(func(t *testing.T, req []byte) {
		imp := &Imp{Format: campaigns.FormatNative, ClickURL: testClickURL, ImpURL: testImpURL}
		if imp.SetNativeRequest(req) != nil {
			return
		}
		out, _, err := a.Assemble(nil, c, cr, p, imp)
		if err == nil && !json.Valid(out) {
			t.Fatalf("invalid JSON for %s: %s", req, out)
		}
	})
}
