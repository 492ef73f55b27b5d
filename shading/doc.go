// Package shading owns bid shading for first-price auctions: per campaign,
// purchase phase and publisher it estimates the probability of winning at each
// price from Kairos's own bids, wins and losses, and lowers a bid to the price
// that maximises the expected surplus (value − price) × P(win | price).
//
// # Estimate
//
// What a bid reveals about the best competing bid C is censored: a win at b
// says C < b (a second-price win at clearing c says C < c), a loss says C ≥ b,
// and a loss notice with the minimum bid to win m says C = m. Prices are
// counted on a log grid (160 cells from 0.01 to 100 CPM, about 6% apart), and
// the distribution of C is the nonparametric maximum likelihood estimate for
// such data (Turnbull's self-consistency iterations, warm-started at each
// refresh). P(win | g) = P(C < g) is read at the grid prices g. Counts decay
// with HalfLife so the estimate follows the market. Only losses to a higher
// bid (OpenRTB loss reason 102) or without a reason say anything about C;
// other losses (floor, expiry, creative) are ignored.
//
// # Decision and guard rails
//
// Price returns the value (the unshaded price) when the auction is not first
// price (at=2 and fixed-price deals are not shaded), and when the data are
// thin: fewer than MinObservations at the publisher and at the campaign and
// phase over all publishers (the publisher's curve is used when it has
// enough, else the pooled one). Otherwise it scans the grid prices between
// the floor and the value for the highest expected surplus, among prices
// where Kairos has bid at or below (at least MinSupport bids: the estimate
// is not extrapolated below what was tried) and that keep at least
// 1 − MaxWinLoss of the wins the value would get, so that shading saves money
// without starving delivery (MaxWinLoss = 1 maximises surplus alone). The
// result is never above the value nor below the floor.
//
// Exploration: a share Explore of decisions moves the price by up to ±Dither
// (only downwards while unshaded), so the curve is learnt around, and below,
// the prices in use; the supported range grows downwards step by step.
//
// # Hot path
//
// Price reads an immutable snapshot (atomic.Pointer) refreshed in the
// background every Refresh: one or two map lookups and a scan of at most 160
// cells, no locks, no allocation; its randomness is a number the caller
// draws. Win and Loss take a shard mutex and allocate only for a new key
// (about 2.5 KB; at most MaxKeys publisher keys, beyond which only the pooled
// campaign and phase curve learns). State is per instance and in memory:
// every instance learns from the notices it receives, which are a random
// sample of all bids.
//
// Prices are CPM in micros of one currency per campaign (its budget
// currency); convert the floor and the minimum bid to win before the call.
package shading
