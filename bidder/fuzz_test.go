package bidder

import (
	"os"
	"testing"

	"github.com/kairos-rtb/kairos/demo"
	"github.com/prebid/openrtb/v20/openrtb2"
)

// FuzzDecode feeds arbitrary bodies through decode, validation and the whole
// handler: nothing may panic, and every answer must be 200, 204 or 400.
func FuzzDecode(f *testing.F) {
	files, _ := os.ReadDir(fixtureDir)
	for _, e := range files {
		if b, err := os.ReadFile(fixtureDir + "/" + e.Name()); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte(demo.BidRequest("f", "demo-intent")))
	f.Add([]byte(`{"id":"x","imp":[{"id":"1","native":{"request":{"assets":[]}}}]}`))
	f.Add([]byte(`{"id":"x","imp":[{"id":"1","banner":{"w":"300","h":true}}]}`))
	s := demoServer(f)
	f.Fuzz(func(t *testing.T, body []byte) {
		var r openrtb2.BidRequest
		_ = Decode(body, &r)
		status, _, _ := do(s, string(body))
		if status != 200 && status != 204 && status != 400 {
			t.Fatalf("status %d for %q", status, body)
		}
	})
}
