package segments

import (
	"encoding/json"
	"testing"

	"github.com/prebid/openrtb/v20/openrtb2"
)

func bidRequest(tb testing.TB, js string) *openrtb2.BidRequest {
	tb.Helper()
	var req openrtb2.BidRequest
	if err := json.Unmarshal([]byte(js), &req); err != nil {
		tb.Fatalf("%s: %v", js, err)
	}
	return &req
}

func TestResolveUser(t *testing.T) {
	f := func(js, want string) {
		t.Helper()
		if got := ResolveUser(bidRequest(t, js)); got != want {
			t.Errorf("ResolveUser(%s) = %q, want %q", js, got, want)
		}
	}
	f(`{"id":"1"}`, "")
	f(`{"id":"1","user":{"buyeruid":"b","id":"u"},"device":{"ifa":"i"}}`, "b")
	f(`{"id":"1","user":{"id":"u"},"device":{"ifa":"i"}}`, "u")
	f(`{"id":"1","user":{},"device":{"ifa":"i"}}`, "i")
	f(`{"id":"1","device":{"ifa":"i","lmt":0}}`, "i")
	f(`{"id":"1","device":{"ifa":"i","lmt":1}}`, "")
	f(`{"id":"1","device":{"ifa":"00000000-0000-0000-0000-000000000000"}}`, "")
	f(`{"id":"1","user":{"buyeruid":"0"},"device":{"ifa":"i"}}`, "i")
	f(`{"id":"1","user":{"eids":[{"source":"a","uids":[{"id":""},{"id":"e1"}]}]},"device":{"ifa":"i","lmt":1}}`, "e1")
	f(`{"id":"1","user":{"ext":{"eids":[{"source":"a","uids":[{"atype":1,"id":"x1"}]}]}}}`, "x1")
	f(`{"id":"1","user":{"ext":{"eids":[{"uids":[]},{"source":"b","uids":[{"id":"x\u0032"}]}]}}}`, "x2")
	f(`{"id":"1","user":{"ext":{"eids":"bad"}}}`, "")
	f(`{"id":"1","user":{"id":"has space"}}`, "")
}

func BenchmarkResolveUser(b *testing.B) {
	req := bidRequest(b, `{"id":"1","device":{"ifa":"6D92078A-8246-4BA4-AE5B-76104861E7DC","lmt":0},"user":{"eids":[{"source":"a","uids":[{"id":"e"}]}]}}`)
	b.ReportAllocs()
	for b.Loop() {
		if ResolveUser(req) == "" {
			b.Fatal("no user")
		}
	}
}
