package bandit

import (
	"cmp"
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
)

// Report is what the bandit knows about one campaign's variants, for the
// reports API (GET /v1/reports/variants?campaign=…).
type Report struct {
	// Campaign is the campaign's id.
	Campaign string `json:"campaign"`
	// Variants lists every counted variant by phase, part and index.
	Variants []VariantStats `json:"variants"`
}

// VariantStats is one variant of a creative part in one phase, across all
// instances.
type VariantStats struct {
	// Phase and Part name the choice; Variant is the index in the part's list
	// (the digits after the part's letter in the crid).
	Phase   string `json:"phase"`
	Part    string `json:"part"`
	Variant int    `json:"variant"`
	// Impressions, Clicks and Purchases are the counts the bandit learnt from.
	Impressions int64 `json:"impressions"`
	Clicks      int64 `json:"clicks"`
	Purchases   int64 `json:"purchases"`
	// CTR is clicks per impression (0 without impressions).
	CTR float64 `json:"ctr"`
	// Share is the variant's share of its part's impressions in the phase.
	Share float64 `json:"share"`
	// PosteriorCTR is the posterior mean click rate, prior included.
	PosteriorCTR float64 `json:"posterior_ctr"`
	// ProbBest is the posterior probability that the variant is the part's
	// best: about the share of choices Thompson sampling gives it now, before
	// the exploration share.
	ProbBest float64 `json:"prob_best"`
}

// reportDraws is how many posterior draws estimate ProbBest.
const reportDraws = 4000

// Report reads a campaign's variant counts from Redis.
func (b *Bandit) Report(ctx context.Context, campaignID string) (Report, error) {
	fields, err := b.rdb.Client.HGetAll(ctx, armsKey(b.rdb.Keys.Prefix, campaignID)).Result()
	if err != nil {
		return Report{}, fmt.Errorf("bandit report of %q: %w", campaignID, err)
	}
	rep := Report{Campaign: campaignID, Variants: []VariantStats{}}
	r := rand.New(rand.NewPCG(1, 2)) // a fixed seed: the same counts give the same report
	for k, vs := range countsByPart(fields) {
		set := b.cfg.newArmSet(vs)
		best := make([]int, len(vs))
		for range reportDraws {
			best[b.thompson(r, &set, len(vs))]++
		}
		var total int64
		for _, v := range vs {
			total += v.imps
		}
		for i, v := range vs {
			st := VariantStats{Phase: k.phase.String(), Part: k.part, Variant: i,
				Impressions: v.imps, Clicks: v.clicks, Purchases: v.purchases,
				PosteriorCTR: set.arms[i].click.mean, ProbBest: float64(best[i]) / reportDraws}
			if v.imps > 0 {
				st.CTR = float64(v.clicks) / float64(v.imps)
			}
			if total > 0 {
				st.Share = float64(v.imps) / float64(total)
			}
			rep.Variants = append(rep.Variants, st)
		}
	}
	slices.SortFunc(rep.Variants, func(a, c VariantStats) int {
		return cmp.Or(cmp.Compare(phaseOrder(a.Phase), phaseOrder(c.Phase)),
			cmp.Compare(a.Part, c.Part), cmp.Compare(a.Variant, c.Variant))
	})
	return rep, nil
}

func phaseOrder(name string) int {
	for i, n := range phaseNamesInOrder {
		if n == name {
			return i
		}
	}
	return len(phaseNamesInOrder)
}
