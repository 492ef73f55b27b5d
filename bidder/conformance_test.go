package bidder

import (
	"bytes"
	"compress/gzip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kairos-rtb/kairos/campaigns"
	"github.com/kairos-rtb/kairos/demo"
	"github.com/kairos-rtb/kairos/money"
	"github.com/kairos-rtb/kairos/segments"
	"github.com/prebid/openrtb/v20/openrtb2"
)

const fixtureDir = "../../shared/testdata/openrtb"

func fixtures(t testing.TB) []string {
	files, _ := filepath.Glob(filepath.Join(fixtureDir, "*.json"))
	if len(files) == 0 {
		t.Skipf("no OpenRTB fixtures in %s (../shared beside the repo)", fixtureDir)
	}
	return files
}

func demoServer(t testing.TB) *Server {
	t.Helper()
	cs, err := demo.Campaigns()
	if err != nil {
		t.Fatal(err)
	}
	prof := &fakeProfiles{users: map[string]segments.Profile{
		"demo-intent": {User: "demo-intent", Phase: segments.PhaseIntent,
			Product: segments.Product{ID: "sku-1", Name: "Trail Runner 2", Price: "89.00"}},
	}}
	return newTestServer(t, cs, prof)
}

// checkAnswer asserts the answer to req is a well-formed BidResponse, a 204 or
// a 400, and that every bid names an existing imp at or above its floor.
func checkAnswer(t *testing.T, name string, req []byte, status int, body []byte) (bids int) {
	t.Helper()
	switch status {
	case 204, 400:
		return 0
	case 200:
	default:
		t.Fatalf("%s: status %d: %s", name, status, body)
	}
	var in openrtb2.BidRequest
	if err := Decode(req, &in); err != nil {
		t.Fatalf("%s: bid on a request that does not decode: %v", name, err)
	}
	resp := decodeResponse(t, body)
	if resp.ID != in.ID {
		t.Fatalf("%s: response id %q, request id %q", name, resp.ID, in.ID)
	}
	rates, _ := money.ParseRates(money.DefaultRates)
	seen := map[string]bool{}
	for _, sb := range resp.SeatBid {
		for _, b := range sb.Bid {
			bids++
			var imp *openrtb2.Imp
			for i := range in.Imp {
				if in.Imp[i].ID == b.ImpID {
					imp = &in.Imp[i]
				}
			}
			if imp == nil {
				t.Fatalf("%s: bid for unknown imp %q", name, b.ImpID)
			}
			if seen[b.ImpID] {
				t.Fatalf("%s: two bids for imp %q", name, b.ImpID)
			}
			seen[b.ImpID] = true
			floor, ok := rates.Convert(money.FromFloat(imp.BidFloor), imp.BidFloorCur, resp.Cur)
			if !ok || money.FromFloat(b.Price) < floor || b.Price <= 0 {
				t.Fatalf("%s: price %v %s below floor %v %s", name, b.Price, resp.Cur, imp.BidFloor, imp.BidFloorCur)
			}
			if b.ID == "" || b.AdM == "" || b.CrID == "" || b.CID == "" || len(b.ADomain) == 0 || b.MType == 0 {
				t.Fatalf("%s: bid lacks required fields: %+v", name, b)
			}
			if len(in.Cur) > 0 && !contains(in.Cur, resp.Cur) {
				t.Fatalf("%s: currency %s not in %v", name, resp.Cur, in.Cur)
			}
		}
	}
	return bids
}

func TestConformanceFixtures(t *testing.T) {
	s := demoServer(t)
	total := 0
	for _, f := range fixtures(t) {
		req, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		name := filepath.Base(f)
		status, reason, body := do(s, string(req))
		n := checkAnswer(t, name, req, status, body)
		total += n
		t.Logf("%-70s %d %s bids=%d", name, status, reason, n)
	}
	if total == 0 {
		t.Fatal("the demo campaigns bid on none of the fixtures")
	}
}

func TestGzipAndLimits(t *testing.T) {
	s := demoServer(t)
	req := demo.BidRequest("gz-1", "demo-intent")
	var zb bytes.Buffer
	zw := gzip.NewWriter(&zb)
	zw.Write([]byte(req))
	zw.Close()
	status, _, body := do(s, zb.String(), "Content-Encoding", "gzip")
	if status != 200 {
		t.Fatalf("gzip request: %d %s", status, body)
	}
	// A gzip bomb: small on the wire, larger than the limit once inflated.
	zb.Reset()
	zw = gzip.NewWriter(&zb)
	zw.Write([]byte(`{"id":"x","imp":[{"id":"1"}],"pad":"`))
	zw.Write(bytes.Repeat([]byte("a"), 1<<20))
	zw.Write([]byte(`"}`))
	zw.Close()
	if status, _, _ := do(s, zb.String(), "Content-Encoding", "gzip"); status != 413 {
		t.Fatalf("inflated past limit: status %d, want 413", status)
	}
	if status, _, _ := do(s, "not gzip", "Content-Encoding", "gzip"); status != 400 {
		t.Fatalf("bad gzip: status %d, want 400", status)
	}
	if status, _, _ := do(s, req, "Content-Encoding", "br"); status != 400 {
		t.Fatalf("unsupported encoding: status %d, want 400", status)
	}
}

func TestMalformed(t *testing.T) {
	s := demoServer(t)
	f := func(body, want string) {
		t.Helper()
		status, _, out := do(s, body)
		if status != 400 || !strings.Contains(string(out), want) {
			t.Fatalf("%q: got %d %q, want 400 containing %q", body, status, out, want)
		}
	}
	f(`{`, "malformed JSON")
	f(`[]`, "malformed")
	f(`{"imp":[{"id":"1","banner":{"w":300,"h":250}}]}`, "missing id")
	f(`{"id":"x"}`, "missing imp")
	f(`{"id":"x","imp":[]}`, "missing imp")
	f(`{"id":"x","imp":[{"banner":{"w":300,"h":250}}]}`, "imp[0]: missing id")
	f(`{"id":"x","imp":[{"id":"1"},{"id":"1"}]}`, "duplicate id")
	f(`{"id":"x","imp":[{"id":"1","banner":{"w":"wide"}}]}`, "malformed request")
}

func TestLenient(t *testing.T) {
	s := demoServer(t)
	// imp.native.request as an object, numbers as strings, secure as a boolean.
	native := `{"id":"n1","cur":["USD"],"imp":[{"id":"1","secure":true,"bidfloor":"0.2",` +
		`"banner":{"w":"300","h":"250"},` +
		`"native":{"ver":"1.2","request":{"ver":"1.2","assets":[{"id":1,"required":1,"title":{"len":90}}]}}}],` +
		`"site":{"domain":"news.example"},"app":{"bundle":"com.example"},"device":{"geo":{"country":"DEU"}}}`
	status, reason, body := do(s, native)
	if status != 200 {
		t.Fatalf("lenient request: %d %s %s", status, reason, body)
	}
	// Scalars where lists belong.
	status, reason, body = do(s, `{"id":"s1","cur":"USD","bcat":"IAB25","imp":[{"id":"1","banner":{"w":300,"h":250}}],`+
		`"site":{"domain":"news.example","cat":"IAB12"},"device":{"geo":{"country":"DEU"}}}`)
	if status != 200 {
		t.Fatalf("lenient request: %d %s %s", status, reason, body)
	}
	var r openrtb2.BidRequest
	if err := Decode([]byte(native), &r); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(r.Imp[0].Native.Request, `"assets"`) || *r.Imp[0].Secure != 1 || r.Imp[0].BidFloor != 0.2 {
		t.Fatalf("repair lost data: %+v", r.Imp[0])
	}
}

func TestNoCampaigns(t *testing.T) {
	s := newTestServer(t, nil, nil)
	status, reason, _ := do(s, demo.BidRequest("x", "u"))
	if status != 204 || reason != "no_campaign" {
		t.Fatalf("got %d %s", status, reason)
	}
}

func TestDebugHeaderOnlyWhenAsked(t *testing.T) {
	s := newTestServer(t, nil, nil)
	_, reason, _ := do(s, demo.BidRequest("x", "u"), HeaderDebug, "0")
	if reason != "" {
		t.Fatalf("reason header without debug: %q", reason)
	}
}

var _ = campaigns.FormatBanner
