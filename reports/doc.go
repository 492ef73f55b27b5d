// Package reports owns win-rate reporting: counting requests, bids, no-bids,
// wins, losses, impressions, clicks and spend by campaign, creative variant,
// purchase phase, exchange, publisher, country, device, format and hour;
// flushing those counts to Redis; the bid landscape (win rate by bid price);
// the report queries and their admin API; and the analysts' dashboard.
//
// # Counting on the bid path
//
// A Counter aggregates in memory: 32 shards, each a mutex over a map from a
// dimension combination to its counters. Request, Bid, NoBid, Win, Impression,
// Loss and Click take a few hundred nanoseconds and do not allocate once their
// combination exists (a new combination clones its strings and allocates its
// entry); they never block on I/O. Strings in Dims may point into a request
// buffer: they are copied only into a new key, never kept. Entries idle for
// five flushes are dropped; past Config.MaxKeys new combinations are filed
// under publisher and variant "(other)" (kairos_reports_folded_total).
//
// A background loop (Start/Stop) flushes every second: it takes and zeroes the
// counts under each shard's lock and writes them to Redis in one pipeline of
// Lua scripts, each applying up to 4000 fields atomically and at most once.
// A failed write keeps its batch, with the ids that make the retry idempotent,
// and sends it first at the next flush, so a flush whose reply was lost is not
// counted twice and a failed one is not lost. Stop flushes what is left.
// Counts of all instances add up in Redis.
//
// # Units
//
// Amounts are int64 micros of the currency the caller counts in (Kairos counts
// in each campaign's budget currency; totals across campaigns of different
// currencies mix them). Bid and clearing prices are CPM (per thousand
// impressions). Spend is per impression: each win books
// money.CPMToImpression(clearing CPM). In JSON and CSV amounts are decimal
// currency units ("12.50"). A win is the first of the win, billing or
// impression notice of a bid, so Kairos treats it as the delivered impression:
// eCPM = spend × 1000 / wins, CTR = clicks / wins, win rate = wins / bids.
// Impressions counts billing notices, which not every exchange sends.
// Requests and no-bids carry no campaign or variant; when a report is grouped
// by campaign they appear in rows whose campaign is "".
//
// # Redis keys
//
// An hour's counts are spread over 8 parts, each with a hash tag of its own,
// {r:<unix hour>:<part>} (part = FNV-1a of the field mod 8), so that on a
// Redis Cluster the flushes of every instance spread over the nodes. A flush
// is one pipeline (split per node by the cluster client) of scripts, each
// touching one tag's keys only: one slot per script.
//
//	<prefix>{r:<hour>:<part>}:h  HASH  counts of that hour; field
//	        campaign␟variant␟exchange␟publisher␟country␟phase␟device␟format␟metric
//	        (␟ = 0x1f; phase, device and format as their codes), metric:
//	        q requests, b bids, bc Σ bid CPM, w wins, wl late wins,
//	        wc Σ clearing CPM, s spend, i impressions, k clicks,
//	        n:<reason> no-bids, l:<code> losses by OpenRTB loss reason.
//	<prefix>{r:<hour>:<part>}:l  HASH  bid landscape; field
//	        campaign␟phase␟bucket␟b|w (bids, wins). Buckets: 0.25 CPM steps
//	        below 5.00 (0-19), 1.00 steps below 20.00 (20-34), 20.00 and up (35).
//	<prefix>{r:<hour>:<part>}:f:<instance>.<incarnation>  ZSET  ids of the
//	        flush chunks one Counter applied to that tag, scored by flush
//	        sequence (last 1000 sequences; 24h TTL). The incarnation is random
//	        per Counter, so a restarted instance starts fresh markers.
//
// Counts written before the spread, under {r}:h:<hour> and {r}:l:<hour>, are
// still read and added in until their TTL has run out.
//
// Hour hashes expire Config.TTL (40 days) after their last write. The hour is
// the hour of the bid (Dims.Hour), also for its later notices.
//
// # Admin API
//
// Ranges: from and to are RFC 3339 or unix seconds, or since=24h before to;
// the default is the last 24 hours. Hours are whole: from rounds down to its
// hour, and an hour counts when it starts before to. Bad parameters answer 400
// with {"error": "...", "field": "<parameter>"}.
//
// GET /v1/reports/winrate?from=&to=&by=campaign,phase&format=json|csv — by is
// any of campaign, variant, phase, exchange, publisher, country, device,
// format, hour. CSV has a header line: the by columns, then requests, no_bids,
// bids, wins, late_wins, losses, impressions, clicks, win_rate, spend, ecpm,
// avg_clearing_cpm, avg_bid_cpm, ctr. JSON:
//
//	{
//	  "from": "2026-11-01T00:00:00Z", "to": "2026-11-02T00:00:00Z",
//	  "by": ["campaign", "phase"],
//	  "rows": [{
//	    "dims": {"campaign": "trail-runner-autumn", "phase": "intent"},
//	    "requests": 0, "no_bids": 0, "bids": 1200, "wins": 300, "late_wins": 0,
//	    "losses": 880, "impressions": 296, "clicks": 9,
//	    "win_rate": 0.25, "spend": 0.81, "ecpm": 2.70,
//	    "avg_clearing_cpm": 2.70, "avg_bid_cpm": 3.10, "ctr": 0.03
//	  }],
//	  "totals": {"dims": {}, "requests": 52000, "no_bids": 40000, "bids": 1200, ...}
//	}
//
// Hours are given as RFC 3339 ("hour": "2026-11-01T13:00:00Z"); phase,
// device and format by name.
//
// GET /v1/reports/landscape?campaign=&from=&to= — campaign empty for all:
//
//	{"from": "…", "to": "…", "campaign": "trail-runner-autumn", "buckets": [
//	  {"phase": "intent", "bucket": 10, "low_cpm": 2.50, "high_cpm": 2.75,
//	   "bids": 410, "wins": 130, "win_rate": 0.317073}]}
//
// (high_cpm is absent for the last, open bucket.)
//
// GET /v1/reports/nobids?from=&to= — no-bid reasons and OpenRTB loss reasons,
// most frequent first:
//
//	{"from": "…", "to": "…",
//	 "no_bids": [{"reason": "no_campaign", "count": 30000}],
//	 "losses": [{"code": 102, "reason": "lost_to_higher_bid", "count": 800}]}
//
// # Dashboard
//
// GET /dashboard is a page for people, with its scripts and styles embedded
// (no internet needed): win rate and bids per hour, spend against the pacing
// plan per campaign, win rate by bid price, spend per hour, top no-bid
// reasons and a campaign table, refreshed every 15 seconds from
// GET /dashboard/data (DashboardData as JSON). Sign-in: opening
// /dashboard?token=<admin token> once sets the HttpOnly, SameSite=Strict
// cookie kairos_token (Secure over TLS, 12 hours) and redirects (303) to
// /dashboard, so the token leaves the address bar. The dashboard's routes are
// public on the admin listener and check the cookie themselves.
package reports
