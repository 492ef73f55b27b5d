package pacing

import (
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
)

var testSecret = []byte("0123456789abcdef0123456789abcdef")

func testNotice() Notice {
	return Notice{Holder: "inst7", Seq: 0x1f2e, CampaignID: "trail-runner", CreativeID: "tr-main", ImpID: "imp 1&x=ü",
		Day: "2026-11-02", Reserved: 2_500, Price: 2_700_000, Currency: "EUR", WindowEnd: t0.Add(10 * time.Minute).Unix(),
		Expiry: t0.Add(6 * time.Hour).Unix(), Phase: 3, Exchange: "ex1", User: "u-42"}
}

func parseArgs(t testing.TB, rawURL string) *fasthttp.Args {
	t.Helper()
	_, q, _ := strings.Cut(rawURL, "?")
	var a fasthttp.Args
	a.Parse(q)
	return &a
}

func TestNoticeURLShape(t *testing.T) {
	s, _ := NewSigner(testSecret)
	n := testNotice()
	win := string(s.AppendNoticeURL(nil, KindWin, "https://bid.example", &n))
	if !strings.HasPrefix(win, "https://bid.example/notice/win?b=inst7.1f2e&c=trail-runner&i=imp%201%26x%3D%C3%BC&") ||
		!strings.HasSuffix(win, "&price=${AUCTION_PRICE}") || !strings.Contains(win, "&u=u-42&s=") {
		t.Fatalf("win URL %s", win)
	}
	loss := string(s.AppendNoticeURL(nil, KindLoss, "https://bid.example", &n))
	if !strings.HasPrefix(loss, "https://bid.example/notice/loss?") || !strings.HasSuffix(loss, "&loss=${AUCTION_LOSS}&price=${AUCTION_MIN_TO_WIN}") {
		t.Fatalf("loss URL %s", loss)
	}
	if _, err := url.Parse(strings.ReplaceAll(win, "${AUCTION_PRICE}", "1.23")); err != nil {
		t.Fatal(err)
	}
	n.User = ""
	if u := string(s.AppendNoticeURL(nil, KindBill, "https://bid.example", &n)); strings.Contains(u, "&u=") {
		t.Fatalf("user key present without consent: %s", u)
	}
	if strings.Contains(win, "&vp=") {
		t.Fatalf("variant phase present where it equals the phase: %s", win)
	}
	if _, err := NewSigner([]byte("short")); !errors.Is(err, ErrWeakSecret) {
		t.Fatalf("short secret: %v", err)
	}
}

// TestNoticeURLs: the URLs of one notice built together equal the URLs built
// one by one, each verifies as its own kind only, and a URL relabelled with
// another kind is refused.
func TestNoticeURLs(t *testing.T) {
	s, _ := NewSigner(testSecret)
	n := testNotice()
	kinds := []Kind{KindWin, KindBill, KindLoss, KindClick, KindImp}
	ends := make([]int, len(kinds))
	all := s.AppendNoticeURLs([]byte("prefix:"), "https://bid.example", &n, kinds, ends)
	start := len("prefix:")
	for i, kind := range kinds {
		got := string(all[start:ends[i]])
		start = ends[i]
		if want := string(s.AppendNoticeURL(nil, kind, "https://bid.example", &n)); got != want {
			t.Fatalf("%s: built together %s\nalone %s", kind, got, want)
		}
		for _, other := range kinds {
			_, err := s.Verify(other, parseArgs(t, got), t0)
			if other == kind && err != nil {
				t.Errorf("%s URL does not verify: %v", kind, err)
			}
			if other != kind && !errors.Is(err, ErrForged) {
				t.Errorf("%s URL verifies as %s: %v", kind, other, err)
			}
		}
	}
	if start != len(all) {
		t.Fatalf("ends cover %d of %d bytes", start, len(all))
	}
}

func TestNoticeVerify(t *testing.T) {
	s, _ := NewSigner(testSecret)
	other, _ := NewSigner([]byte("another secret, quite different"))
	n := testNotice()
	signed := string(s.AppendNoticeURL(nil, KindWin, "https://bid.example", &n))
	// f verifies rawURL as kind at now and expects err (nil = valid).
	f := func(name, rawURL string, kind Kind, now time.Time, want error) {
		t.Helper()
		got, err := s.Verify(kind, parseArgs(t, rawURL), now)
		if !errors.Is(err, want) || (want == nil && err != nil) {
			t.Fatalf("%s: err %v, want %v", name, err, want)
		}
		if want == nil {
			n.Kind = kind
			if got.Clone() != n {
				t.Fatalf("%s: got %+v\nwant %+v", name, got, n)
			}
		}
	}
	replace := func(param, val string) string {
		a := parseArgs(t, signed)
		a.Set(param, val)
		return "https://bid.example/notice/win?" + a.String()
	}
	f("valid", signed, KindWin, t0, nil)
	f("valid with a substituted price", strings.Replace(signed, "${AUCTION_PRICE}", "2.10", 1), KindWin, t0, nil)
	f("replayed", signed, KindWin, t0.Add(time.Hour), nil)
	f("expired", signed, KindWin, t0.Add(6*time.Hour), ErrExpired)
	f("other kind", signed, KindLoss, t0, ErrForged)
	f("other secret", string(other.AppendNoticeURL(nil, KindWin, "https://bid.example", &n)), KindWin, t0, ErrForged)
	for _, p := range []struct{ param, val string }{
		{"b", "inst7.1f2f"}, {"b", "inst8.1f2e"}, {"c", "other-campaign"}, {"i", "imp 2"}, {"cr", "tr-alt"},
		{"d", "2026-11-03"}, {"r", "2501"}, {"p", "9900000"}, {"cur", "USD"}, {"e", "1893456000"},
		{"x", "1893456000"}, {"ph", "4"}, {"ex", "ex2"}, {"u", "u-43"},
	} {
		f("tampered "+p.param, replace(p.param, p.val), KindWin, t0, ErrForged)
	}
	f("user key added", strings.Replace(string(s.AppendNoticeURL(nil, KindWin, "", func() *Notice { m := n; m.User = ""; return &m }())),
		"&s=", "&u=someone&s=", 1), KindWin, t0, ErrForged)
	f("signature flipped", replace("s", "AAAAAAAAAAAAAAAAAAAAAA"), KindWin, t0, ErrForged)
	f("signature missing", replace("s", ""), KindWin, t0, ErrMalformed)
	f("signature too long", replace("s", "AAAAAAAAAAAAAAAAAAAAAAAA"), KindWin, t0, ErrMalformed)
	f("signature not base64", replace("s", "!!!!!!!!!!!!!!!!!!!!!!"), KindWin, t0, ErrMalformed)
	f("bid id without seq", replace("b", "inst7"), KindWin, t0, ErrMalformed)
	f("campaign missing", replace("c", ""), KindWin, t0, ErrMalformed)
	f("price not a number", replace("p", "1.5"), KindWin, t0, ErrMalformed)
	f("negative reservation", replace("r", "-1"), KindWin, t0, ErrMalformed)
	f("phase out of range", replace("ph", "256"), KindWin, t0, ErrMalformed)
	f("empty", "https://bid.example/notice/win", KindWin, t0, ErrMalformed)
	f("variant phase added", strings.Replace(signed, "&s=", "&vp=4&s=", 1), KindWin, t0, ErrForged)
}

// TestNoticeVariantPhase: a variant phase other than the phase travels,
// signed, and ShownPhase prefers it; one equal to the phase is left out.
func TestNoticeVariantPhase(t *testing.T) {
	s, _ := NewSigner(testSecret)
	n := testNotice()
	n.VariantPhase = 4
	signed := string(s.AppendNoticeURL(nil, KindClick, "https://bid.example", &n))
	got, err := s.Verify(KindClick, parseArgs(t, signed), t0)
	if err != nil || got.VariantPhase != 4 || got.Phase != 3 || got.ShownPhase() != 4 {
		t.Fatalf("verified %+v, %v; want phase 3, variant phase 4", got, err)
	}
	for _, tampered := range []string{strings.Replace(signed, "&vp=4", "&vp=2", 1), strings.Replace(signed, "&vp=4", "", 1)} {
		if _, err := s.Verify(KindClick, parseArgs(t, tampered), t0); !errors.Is(err, ErrForged) {
			t.Errorf("%s: %v, want forged", tampered, err)
		}
	}
	n.VariantPhase = n.Phase
	same := string(s.AppendNoticeURL(nil, KindClick, "https://bid.example", &n))
	if strings.Contains(same, "&vp=") {
		t.Fatalf("variant phase equal to the phase travels: %s", same)
	}
	if got, err := s.Verify(KindClick, parseArgs(t, same), t0); err != nil || got.ShownPhase() != 3 {
		t.Fatalf("verified %+v, %v; want shown phase 3", got, err)
	}
}

func TestPerImpression(t *testing.T) {
	f := func(reserved, price, clearing, want int64) {
		t.Helper()
		if got := perImpression(moneyOf(reserved), moneyOf(price), moneyOf(clearing)); int64(got) != want {
			t.Fatalf("perImpression(%d, %d, %d) = %d, want %d", reserved, price, clearing, got, want)
		}
	}
	f(2500, 2_700_000, 2_700_000, 2500) // at the bid
	f(2500, 2_700_000, 1_350_000, 1250) // half the bid
	f(2500, 2_700_000, 9_000_000, 2500) // above the bid: capped
	f(2500, 2_700_000, 0, 0)
	f(1<<40, 1<<50, 1<<49, 1<<39) // no overflow
	f(2500, 0, 100, 0)
}

func BenchmarkAppendNoticeURL(b *testing.B) {
	s, _ := NewSigner(testSecret)
	n := testNotice()
	n.ImpID = "1"
	buf := make([]byte, 0, 1024)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		buf = s.AppendNoticeURL(buf[:0], KindWin, "https://bid.example", &n)
	}
}

// BenchmarkAppendNoticeURLs is what a bid costs: its win, billing and loss
// URLs built together.
func BenchmarkAppendNoticeURLs(b *testing.B) {
	s, _ := NewSigner(testSecret)
	n := testNotice()
	n.ImpID = "1"
	buf := make([]byte, 0, 2048)
	kinds := []Kind{KindWin, KindBill, KindLoss}
	ends := make([]int, len(kinds))
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		buf = s.AppendNoticeURLs(buf[:0], "https://bid.example", &n, kinds, ends)
	}
}

func BenchmarkVerify(b *testing.B) {
	s, _ := NewSigner(testSecret)
	n := testNotice()
	args := parseArgs(b, string(s.AppendNoticeURL(nil, KindWin, "https://bid.example", &n)))
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, err := s.Verify(KindWin, args, t0); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkBidURLs compares the two ways of signing a bid's five URLs (its
// click and impression URLs in the markup, and its win, billing and loss
// notices): in two calls, each building and escaping the query again, or in
// one call that builds it once, which the bidder does.
func BenchmarkBidURLs(b *testing.B) {
	s, _ := NewSigner(testSecret)
	n := testNotice()
	n.ImpID = "1"
	buf := make([]byte, 0, 4096)
	ends := make([]int, 5)
	b.Run("two-calls", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			buf = s.AppendNoticeURLs(buf[:0], "https://bid.example", &n, []Kind{KindClick, KindImp}, ends[:2])
			buf = s.AppendNoticeURLs(buf, "https://bid.example", &n, []Kind{KindWin, KindBill, KindLoss}, ends[:3])
		}
	})
	b.Run("one-call", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			buf = s.AppendNoticeURLs(buf[:0], "https://bid.example", &n, []Kind{KindClick, KindImp, KindWin, KindBill, KindLoss}, ends)
		}
	})
}
