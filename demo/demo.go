package demo

import (
	"bytes"
	_ "embed"
	"fmt"
	"io"

	"github.com/kairos-rtb/kairos/campaigns"
)

//go:embed campaigns.yaml
var campaignsYAML []byte

//go:embed profiles.jsonl
var profilesJSONL []byte

// Campaigns returns the demo campaigns, parsed and validated.
func Campaigns() ([]campaigns.Campaign, error) {
	return campaigns.Parse("demo/campaigns.yaml", bytes.NewReader(campaignsYAML))
}

// Profiles returns the demo profiles as import JSON lines.
func Profiles() io.Reader { return bytes.NewReader(profilesJSONL) }

// Users are the demo user ids, one per purchase phase.
var Users = [...]string{"demo-awareness", "demo-consideration", "demo-intent", "demo-purchased"}

// BidRequest returns a small OpenRTB 2.6 banner request from a German news site
// for the given user id.
func BidRequest(id, user string) string {
	return fmt.Sprintf(`{"id":%q,"at":1,"tmax":100,"cur":["USD"],`+
		`"imp":[{"id":"1","banner":{"w":300,"h":250},"bidfloor":0.5,"bidfloorcur":"USD"}],`+
		`"site":{"domain":"news.example","page":"https://news.example/sport/running","keywords":"running,trail"},`+
		`"device":{"ua":"Mozilla/5.0 (X11; Linux x86_64)","ip":"203.0.113.7","devicetype":2,"geo":{"country":"DEU"}},`+
		`"user":{"buyeruid":%q}}`, id, user)
}

// Curl returns a ready-to-paste curl command that posts BidRequest to addr.
func Curl(addr, user string) string {
	return fmt.Sprintf("curl -s -H 'Content-Type: application/json' -H 'X-Kairos-Debug: 1' -d '%s' http://%s/openrtb2/bid",
		BidRequest("demo-"+user, user), addr)
}
