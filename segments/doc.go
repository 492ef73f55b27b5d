// Package segments owns purchase-phase profiles: their Redis schema, the
// batched and cached lookup at bid time, bulk import, first-party events that
// move users between phases, frequency counters, the user id resolution, and
// the admin HTTP handlers. Whether a profile may be used at all is the consent
// package's decision, made before any lookup.
//
// # Hot path
//
// ResolveUser and a Lookup.Get answered from the local cache do not
// allocate (but for the one hit per entry that starts a refresh, below). A
// cache miss waits for one pipelined Redis round trip shared with
// other concurrent misses, and never longer than its context's deadline; it
// allocates for the Redis reply and the new cache entry. Get never blocks on a
// full queue: it fails with ErrOverloaded. Everything else (Store, Import,
// Apply, the handlers) is off the bid path.
//
// # Redis schema
//
// Keys start with the configured prefix (storage.Keys, default "kairos:") and
// carry the hash tag {u:<id>}, so one user's keys share a Redis Cluster slot and
// are read in one pipeline.
//
//	<prefix>{u:<id>}:p    STRING  the profile, compact binary (below); TTL from the
//	                              import line's "ttl" (default 720h); events
//	                              extend it to at least the default.
//	<prefix>{u:<id>}:fc   HASH    frequency counters: field "<campaign>:<bucket>",
//	                              bucket = unix seconds / window seconds, value =
//	                              impressions. Only the current bucket of each
//	                              campaign is kept; the key's TTL is extended to at
//	                              least the window on every increment.
//	<prefix>{u:<id>}:…   keys of the Store's Hook (holdout study entries,
//	                              the creative bandit's last clicks), deleted
//	                              with the profile.
//	<prefix>segments:invalidate   PUB/SUB channel: user ids (newline-separated, or
//	                              "*" for all) whose profile or counters changed;
//	                              every Lookup drops them from its cache.
//
// A lookup is one pipeline per batch of users: GET <p> and HGETALL <fc> for each.
//
// The profile value (version 1) is binary so that reading it needs no parser:
// a version byte (1); the unix milliseconds (uvarint, 0 = none) of the latest
// signal for awareness, consideration, intent and purchased; the product's
// unix ms; product id, name and price; the interests; the purchases as
// (sku, unix ms), newest first. Strings are a uvarint length and the bytes,
// lists a uvarint count and their items. GET /v1/segments/{user} shows it as JSON.
//
// # Phases
//
// A profile records the time of the latest signal for each phase: page_view →
// awareness, product_view → consideration, add_to_cart and checkout → intent,
// purchase → purchased (an import line's or Put's phase is a signal at its
// "since", default now). The phase is derived when the profile is read, so
// decay needs no background job and events may arrive late, twice or out of
// order without changing the outcome:
//
//   - a purchase ends a journey: intent and consideration signals not later
//     than the latest purchase no longer count;
//   - intent while the latest intent signal is younger than Decay.Intent (7d);
//   - else purchased while the latest purchase is younger than Decay.Purchased (90d);
//   - else consideration while the latest product_view or intent signal is
//     younger than Decay.Consideration (30d);
//   - else awareness while any signal exists (Decay.Awareness, off by default,
//     returns it to unknown);
//   - else unknown.
//
// So intent decays to consideration after 7 days and to awareness after 30
// more; purchased decays to awareness after 90 days; a purchaser who adds
// something to the cart is in intent again. Events are merged into the stored
// record (maxima of times, union of purchases) and written back with a
// compare-and-set script, retried on conflict.
//
// # Caching
//
// The cache holds the profile and the frequency counters together for
// Config.CacheTTL (10s), "no profile" for Config.NegativeTTL (10s). Every
// change made through Kairos — Put, Delete, Import, Apply, IncrFrequency — is
// published on the invalidation channel, and an answer fetched before an
// invalidation is never cached after it. Should a message be lost (a pub/sub
// reconnect), the TTL bounds the staleness.
//
// Refresh-ahead: a hit in the last quarter of an entry's TTL is answered from
// the cache as any hit and also queues one background refresh of the user
// (at most one per entry) with the misses, sharing their pipelines; its answer
// replaces the entry with a fresh TTL, so hot users never wait for Redis and
// entries fetched together do not expire together. A refresh is dropped
// rather than queued when the lookup queue is half full, a failed one leaves
// the entry to expire as before, and one whose entry was invalidated (or
// evicted) meanwhile is discarded (kairos_segments_refreshes_total).
package segments
