package segments

import "time"

// Product is a product a user viewed, as shown in creatives.
type Product struct {
	ID    string `json:"id"`
	Name  string `json:"name,omitempty"`
	Price string `json:"price,omitempty"`
}

// Profile is what Kairos knows about one user. A Profile filled by Lookup.Get is
// valid until its Result is reset or reused; its slices are the Result's own and
// must be treated as read-only.
type Profile struct {
	User string `json:"user"`
	// Phase is derived when the profile is read: the recorded signals with the
	// configured decay applied at that moment.
	Phase Phase `json:"phase"`
	// Since is when the user entered Phase, as far as the recorded signals tell:
	// the latest signal holding the user there, or the moment a stronger phase
	// decayed into it.
	Since     time.Time `json:"since,omitzero"`
	Interests []string  `json:"interests,omitempty"`
	// Product is the product of the latest product_view, add_to_cart or checkout
	// (or the imported one).
	Product Product `json:"product,omitzero"`
	// Purchased are the ids of bought products, most recent first.
	Purchased []string `json:"purchased,omitempty"`
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
