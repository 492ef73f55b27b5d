package segments

import "time"

// Product is a product a user viewed, as shown in creatives.
type Product struct {
	ID    string `json:"id"`
	Name  string `json:"name,omitempty"`
	Price string `json:"price,omitempty"`
}

// Profile is what Kairos knows about one user.
type Profile struct {
	User      string    `json:"user"`
	Phase     Phase     `json:"-"`
	Since     time.Time `json:"since,omitempty"`
	Interests []string  `json:"interests,omitempty"`
	Product   Product   `json:"product,omitempty"`
	Purchased []string  `json:"purchased,omitempty"`
}

// HasPurchased reports whether the user bought the product with id sku.
func (p *Profile) HasPurchased(sku string) bool {
	for _, s := range p.Purchased {
		if s == sku {
			return true
		}
	}
	return false
}
