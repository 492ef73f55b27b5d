package bidder

import (
	"github.com/kairos-rtb/kairos/campaigns"
	"github.com/kairos-rtb/kairos/creatives"
	"github.com/kairos-rtb/kairos/segments"
)

// Assembler builds a bid's markup (adm) for one creative, impression and user;
// creatives.Assembler implements it. An error means this creative cannot serve
// this impression for this user (the bidder then tries the next candidate).
type Assembler interface {
	Assemble(dst []byte, c *campaigns.Compiled, cr *campaigns.CompiledCreative, p *segments.Profile,
		imp *creatives.Imp) ([]byte, creatives.Variant, error)
}

var _ Assembler = (*creatives.Assembler)(nil)
