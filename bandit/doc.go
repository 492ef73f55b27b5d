// Package bandit owns creative learning: Thompson sampling over the variants
// of a creative part, per campaign and purchase phase, on click and purchase
// feedback, with the posteriors shared by every instance through Redis. A
// Bandit is a creatives.Chooser and replaces HashChooser behind that
// interface.
//
// # Model
//
// Each variant of a part (campaign, part, phase, variant index) has a Beta
// posterior on its click rate per impression, and, once purchases are reported
// for the part, one on its purchase rate. Choose samples every variant's
// posterior and shows the variant with the highest sample (click sample plus
// PurchaseWeight × purchase sample), so a variant is shown as often as it is
// likely to be the best. The prior of every variant is informative: the part's
// pooled click rate (shrunk towards PriorCTR while data is thin), worth
// PriorClicks pseudo-clicks. A new variant added beside mature ones therefore
// starts at their level with a real but bounded uncertainty: it is tried
// enough to prove itself (not starved) without taking the part's traffic
// until it has (not over-explored), as a flat Beta(1,1) prior would. On top,
// a share Explore of choices is uniform, so every variant keeps at least
// Explore/n of the impressions and a changing audience is noticed.
//
// Feedback is the crid a bid carried (creatives.Variant.AppendCrid): an
// impression (the win notice) or a click credits each part variant the crid
// names; a purchase credits the variants of the user's last click of the
// campaign within ClickWindow, once per click. Variants are identified by
// their index in the part's list for the phase (or in its default list):
// appending variants keeps what was learnt, reordering or removing them
// scrambles it. Creatives of one campaign share a part's statistics by index,
// since Chooser does not name the creative.
//
// # Sharing and batching
//
// Counts are kept locally and merged into Redis every Interval (a pipeline of
// HINCRBY), and in the same round trip each campaign's totals are read back
// and turned into a new immutable snapshot of precomputed posteriors, swapped
// atomically. A failed increment is kept and sent again with the next batch;
// an increment Redis applied but whose reply was lost counts twice, which the
// model tolerates (unlike reports, whose counts must be exact). Campaigns are
// read back once Choose has asked for them, until they are idle for Idle.
//
// # Hot path
//
// Choose reads the snapshot without locks and does not allocate: two map
// lookups, one uniform draw and, per variant, one Beta draw (two Gamma draws
// by Marsaglia and Tsang). Its generators come from a sync.Pool, each seeded
// from Config.Seed; ChooseRand takes the caller's generator and is
// reproducible. The first Choose of a campaign not yet in the snapshot takes
// a mutex and wakes the background loop. Impression and Click allocate only
// for a variant not yet counted since the last flush, and a Click with a user
// for the record of that click; Purchase runs a script in Redis.
//
// # Redis keys
//
//	<prefix>{b:<campaign>}:arms  HASH  field <phase>|<part>|<index>|<metric>,
//	        metric i impressions, k clicks, p purchases; expires TTL after
//	        the last write.
//	<prefix>{u:<user>}:bv  HASH  field campaign → <unix>|<phase>|<crid> of the
//	        user's last click; expires ClickWindow after it. A user's data
//	        sits in the user's slot; delete it with the user's profile.
package bandit
