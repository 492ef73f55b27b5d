package bench

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"strconv"
)

// Profile is one line of a Kairos segment import file.
type Profile struct {
	// User is the user id (an exchange buyeruid, user.id or device IFA).
	User string `json:"user"`
	// Phase is awareness, consideration, intent or purchased.
	Phase string `json:"phase"`
	// Interests are interest keywords.
	Interests []string `json:"interests,omitempty"`
	// Product is the product last viewed.
	Product *Product `json:"product,omitempty"`
	// Purchased lists product ids already bought.
	Purchased []string `json:"purchased,omitempty"`
	// TTL is how long the profile lives, as a Go duration.
	TTL string `json:"ttl,omitempty"`
}

// Product is a product a profile refers to.
type Product struct {
	// ID is the product id (SKU).
	ID string `json:"id"`
	// Name is the product name.
	Name string `json:"name"`
	// Price is the price as a decimal string.
	Price string `json:"price"`
}

// UserID returns the id of the i-th synthetic profile ("u-1", "u-2", ...), so a
// generator can draw known users without reading the profile file back.
func UserID(i int) string { return "u-" + strconv.Itoa(i) }

var (
	profileInterests = []string{
		"running-shoes", "trail-running", "hiking", "cycling", "yoga", "camping",
		"fitness-trackers", "swimming", "climbing", "skiing",
	}
	profileProducts = []Product{
		{"sku-1", "Trail Runner 2", "89.00"},
		{"sku-2", "Road Racer Pro", "129.00"},
		{"sku-3", "Summit Hiking Boot", "149.00"},
		{"sku-4", "Featherlight Rain Jacket", "99.00"},
		{"sku-5", "Pulse Fitness Watch", "199.00"},
		{"sku-6", "Alpine Tent 2P", "249.00"},
		{"sku-7", "Aero Cycling Helmet", "79.00"},
		{"sku-8", "Studio Yoga Mat", "39.00"},
		{"sku-9", "Trail Socks 3-pack", "19.00"},
		{"sku-10", "Hydration Vest 5L", "69.00"},
	}
)

// phaseFor spreads phases over a funnel: 35% awareness, 30% consideration, 20%
// intent, 15% purchased.
func phaseFor(x float64) string {
	switch {
	case x < 0.35:
		return "awareness"
	case x < 0.65:
		return "consideration"
	case x < 0.85:
		return "intent"
	}
	return "purchased"
}

// SyntheticProfile returns profile i (1-based) of a seeded synthetic set. The
// same seed and i always give the same profile.
func SyntheticProfile(seed uint64, i int) Profile {
	rng := rand.New(rand.NewPCG(seed, uint64(i)))
	p := Profile{User: UserID(i), Phase: phaseFor(rng.Float64()), TTL: "720h"}
	for range 1 + rng.IntN(3) {
		in := profileInterests[rng.IntN(len(profileInterests))]
		if !slices.Contains(p.Interests, in) {
			p.Interests = append(p.Interests, in)
		}
	}
	if p.Phase != "awareness" {
		prod := profileProducts[rng.IntN(len(profileProducts))]
		p.Product = &prod
	}
	if p.Phase == "purchased" && p.Product != nil {
		p.Purchased = append(p.Purchased, p.Product.ID)
	}
	if rng.IntN(5) == 0 { // some users bought something else before
		p.Purchased = append(p.Purchased, profileProducts[rng.IntN(len(profileProducts))].ID)
	}
	return p
}

// WriteProfiles writes n synthetic profiles (users u-1 … u-n) as JSON lines.
func WriteProfiles(w io.Writer, n int, seed uint64) error {
	bw := bufio.NewWriter(w)
	enc := json.NewEncoder(bw)
	for i := 1; i <= n; i++ {
		if err := enc.Encode(SyntheticProfile(seed, i)); err != nil {
			return fmt.Errorf("write profile %d: %w", i, err)
		}
	}
	return bw.Flush()
}

// ReadProfileIDs reads the user ids of a JSON-lines profile file.
func ReadProfileIDs(r io.Reader) ([]string, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	var ids []string
	line := 0
	for sc.Scan() {
		line++
		if len(sc.Bytes()) == 0 {
			continue
		}
		var p struct {
			User string `json:"user"`
		}
		if err := json.Unmarshal(sc.Bytes(), &p); err != nil {
			return nil, fmt.Errorf("profile line %d: %w", line, err)
		}
		if p.User == "" {
			return nil, fmt.Errorf("profile line %d: no user", line)
		}
		ids = append(ids, p.User)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read profiles: %w", err)
	}
	return ids, nil
}
