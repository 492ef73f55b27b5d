// Package pacing owns budgets and pacing shared by many bidder instances: the
// spend ledger in Redis, per-instance budget leases, bid reservations, the
// participation controller (asap, even, ahead), signed win/billing/loss/click
// notices, and the frequency-cap count on wins.
//
// # Money and days
//
// Budgets are int64 micros in the campaign's currency. A "day" is the
// calendar day in the campaign's flight time zone (23 or 25 hours across DST
// changes); spend is booked to the day of the lease the bid was reserved from,
// even when its notice arrives after midnight.
//
// # How a bid spends
//
//  1. Pacer.Allow: the controller's participation rate lets the campaign into
//     this auction or not (one atomic load).
//  2. Pacer.Reserve: the cost of one impression (money.CPMToImpression of the
//     bid CPM) is taken from this instance's local lease with a CAS loop. When
//     the lease runs low the background loop leases more from Redis with a
//     Lua script; lease size follows the campaign's reservation rate
//     (RefillHorizon of spend), at least MinLease, at most the unleased rest
//     of today's budget / (2 × ExpectedInstances), and idle leases go back.
//  3. The bid carries signed nurl, burl and lurl (Signer.AppendNoticeURL).
//  4. A win, billing or impression notice, at any instance, settles the bid
//     once (Ledger.Settle): spend += clearing price (capped at the bid price),
//     and the reservation leaves its lease, so its unspent rest returns to the
//     shared budget. The first of them settles; the others only count (the
//     first billing notice is the impression in reports). A loss notice
//     releases the reservation, unless the bid was settled before. Without
//     any notice, the owner releases it when ReserveWindow (+ SweepLag) is
//     over.
//
// # Participation
//
// Every TickInterval each instance sets each campaign's participation from
// the ledger's spend today (all instances). asap campaigns always take part.
// even and ahead campaigns follow a plan of cumulative spend along the
// mode's target curve of the day's traffic share: what is left of the day's
// budget when the day begins (or the budget or mode changes) is spread over
// the rest of the day, and deviations from the plan are made up over the
// next ten minutes of traffic. The traffic curve (requests per five minutes
// of the day) is learned by each instance from the requests it sees, from
// its first request on; hours not yet seen count as the average of those
// seen.
//
// # Redis keys
//
// All keys of a campaign share the hash tag {b:<campaign>}, so every script
// runs on one Redis Cluster slot:
//
//	<prefix>{b:<c>}:ledger   hash: init (ledger incarnation), tspent, tleased, tlate,
//	                         d:<day>:spent, d:<day>:leased, d:<day>:late
//	<prefix>{b:<c>}:leases   hash: "<day>|<holder>" → "<micros>|<expiresAtMs>"
//	<prefix>{b:<c>}:rw       hash: <holder> → highest seq its sweep has released
//	<prefix>{b:<c>}:n:<holder>.<seq>  marker of a bid with a notice,
//	                         "<state>:<kinds>". state: s settled in window, l
//	                         settled late, rs settled after a loss; r released
//	                         by a loss, L loss after the window. kinds: the
//	                         notices it has had, w win, b billing (burl or
//	                         pixel), l loss, each counted once.
//	                         Win markers live until the URL expires (NoticeTTL),
//	                         loss markers until the window ends + Grace.
//
// A holder is an instance name (Config.Instance), suffixed "-<n>" when the
// instance lost its lease to a reclaim and goes on under a new name. A bid's
// id is "<holder>.<seq in hex>", unique within its campaign.
//
// # The guarantee
//
// The lease script grants only while, for the day and in total,
// spent + leased ≤ budget, and it is the only way budget leaves the shared
// pool. A reservation is part of its lease until exactly one of: a notice
// settles it inside its window (spend += clearing ≤ reservation, lease −=
// reservation, atomically, in one script), a loss notice releases it, or its
// owner's sweep releases it after the window. Hence, at every moment,
//
//	spent_in_window + leased ≤ budget   (daily, and total)
//
// and the only spend that can exceed a budget is late spend: a notice that
// settles after its reservation left the lease (after ReserveWindow, after a
// loss notice for the same bid, or after the lease was reclaimed). The
// worst-case overspend of a day is therefore the sum of the clearing prices of
// that day's late notices, each at most its bid price per impression; it is
// recorded as d:<day>:late and tlate (late_today in the admin API and
// metrics), and every late notice is counted (kairos_notices_total
// {outcome="late"}). With no late notices, spend never exceeds the budget.
//
// Conditions: instance clocks agree within SweepLag; Grace ≥ ReserveWindow +
// SweepLag, so a dead instance's lease (reclaimed by another instance's lease
// call once LeaseTTL + Grace have passed since its last heartbeat) outlives
// every window of its bids, whose in-window notices still settle against it;
// an instance whose heartbeat lapsed stops reserving (its lease may be gone).
// Conservative leaks (budget unusable, never overspent) happen when a
// settlement's Redis call fails for longer than the notice URL lives (a
// background retry queue covers shorter outages), or a sweep runs more than
// Grace late; such leftovers go back when the lease does.
//
// Redis restarted empty: the ledger hash's init field names its incarnation.
// An instance that has leased before and finds init missing or different marks
// the campaign ledger_lost and stops bidding on it (Reserve returns
// ReasonLedgerLost) until an operator restores the figures (Pacer.Restore,
// POST /v1/pacing/<id>/restore, kairosctl budget restore: given figures, or
// the instance's last view of the ledger with what was leased counted as
// spent; every instance notices the restore within a SweepInterval, a second
// by default, and resumes, also one that had not yet noticed the loss or
// whose ledger was never lost; a restore older than the incarnation an
// instance leased from, as an old snapshot would bring back, is not adopted)
// or accepts the
// ledger as it stands on one instance (Pacer.ClearLost, POST
// /v1/pacing/<id>/clear-lost, which restarts the day's spend from zero).
// An instance started after the loss cannot tell and starts from zero.
//
// # Notices
//
// URLs are <KAIROS_PUBLIC_URL>/notice/<win|bill|loss|click|imp>?b=&c=&i=&cr=&d=&r=&p=&cur=&e=&x=&ph=&ex=[&u=][&vp=]&s=
// followed by &price=${AUCTION_PRICE} or &loss=${AUCTION_LOSS}&price=${AUCTION_MIN_TO_WIN},
// left literally for the exchange; vp (the variant's phase) is there only
// where it differs from ph. s is HMAC-SHA256 (KAIROS_NOTICE_SECRET), truncated to 128
// bits, over the kind and every parameter before it (length-prefixed); the
// macros are not signed. Verification is constant-time; malformed → 400,
// forged → 403, expired → 410, nothing recorded. Replays are answered 204 and
// counted once: win, billing and loss once each per bid. p is the bid CPM in the response currency cur, r the
// reservation per impression in the campaign currency; the clearing price is
// converted as r × clearing / p, i.e. at the exchange rate of the bid, so the
// notice path needs no rates and never settles above the reservation.
// ${AUCTION_PRICE} is read as a clear-text decimal CPM; an exchange that
// encrypts it gets its own PriceDecoder. u, an opaque user key for the
// frequency cap, is present only when the bid was personalised with consent.
//
// # Allocation and blocking
//
// Allow, ObserveRequest and Reserve do not allocate and never wait on I/O;
// Reserve holds a per-campaign mutex for a few instructions (its queue append
// grows amortised). AppendNoticeURL and Signer.Verify do not allocate. The
// notice handlers call Redis (bounded by NoticesConfig.Timeout). Leasing,
// heartbeats, sweeps and the controller run in the Pacer's own goroutines,
// stopped by Stop.
package pacing
