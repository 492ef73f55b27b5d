// Package holdout owns incrementality measurement: which of a campaign's
// eligible users are held out, the ghost bids Kairos computes for them but does
// not send, the attribution of purchases to the exposed and held-out groups,
// and the lift report with its confidence intervals.
//
// # Design
//
// Assignment is a stable hash of a salt, the user id and the campaign id: the
// same user is in the same group of a campaign on every instance and every
// request, independently across campaigns and of the creative choice. Users
// without an id (or whose data may not be used) are in no group and are never
// recorded.
//
// The groups are compared by intent to treat: a user enters the study of a
// campaign the first time the campaign is the one Kairos would bid for them,
// at the same point of the auction for both groups; the exposed group is then
// bid for (and may lose the auction, or have its creative refused), the held-out
// group gets a ghost bid that is recorded and not sent. So the groups differ
// only by the assignment, and the lift is the effect of bidding for the user,
// diluted by the auctions not won; it is unbiased, where comparing the users
// who saw an ad with those who did not would not be.
//
// A purchase event of a user counts as a conversion for every campaign whose
// study the user is in, once per user and campaign, when it falls between the
// user's first eligible bid and Window after their last one. The report gives
// each group's users, converters and conversion rate, and the lift.
//
// # Statistics
//
// Each group's conversion rate has a Wilson score interval. The absolute lift
// (exposed rate − held-out rate) has Newcombe's hybrid score interval, and the
// relative lift (exposed rate / held-out rate − 1) the MOVER-R interval of
// Donner and Zou (2012), both built from the two Wilson intervals (the method
// of variance estimates recovery). Both behave well for rare conversions and
// unequal groups, where the Wald and log (Katz) intervals do not; the tests
// check their coverage over many seeded simulations. The relative lift is
// absent while the exposed group is empty or the held-out group has no
// conversion.
//
// # Hot path
//
// Assign hashes two strings and neither allocates nor blocks. Record appends
// the event to a sharded in-memory buffer that is reused between flushes (no
// allocation once warm, except the first event of a new campaign); an event
// already recorded for the user, campaign and group in the same hour is only
// counted as a bid. A full buffer drops events and counts them
// (kairos_holdout_dropped_total). Sync (every Interval in the background)
// writes them to Redis.
//
// # Redis keys
//
//	<prefix>{u:<user>}:ho  HASH  campaign → group|first|last|converted|writer,
//	        group e (exposed) or g (ghost), first and last eligible bid (unix
//	        seconds), converted 0 or 1, writer the flush that created the entry
//	        (so a retried flush recognises its own work); expires Window + 24h
//	        after the last bid. In the user's slot: delete it with the profile.
//	<prefix>{ho:<campaign>}:n  HASH  e:users g:users e:conv g:conv e:bids
//	        g:bids e:cpm g:cpm (cpm: Σ bid CPM in micros); expires TTL after
//	        the last change.
//
// A recorded entry and the campaign counters sit in different slots, so they
// are written in two steps; counter increments that fail are retried at the
// next Sync (an increment applied whose reply was lost counts twice).
package holdout
