// Package bench owns Kairos's load generator and exchange simulator: a seeded
// OpenRTB 2.6 request corpus (or a replayed folder of requests), an attacker that
// drives one or more bid endpoints open loop at a target rate or closed loop at
// maximum throughput, a simulated exchange auction that fires win, billing and
// loss notices, the aggregated results (HdrHistogram latencies, bid rate, no-bid
// reasons, wins and spend) with their JSON form and comparison, and the
// decode-only baseline server that serves as the speed reference.
//
// The package follows vegeta's shape: a library plus the thin kairos-bench CLI.
// It tells the truth about latency: in open-loop mode every request has a
// scheduled send time fixed by the Pacer before the attack starts, and latency is
// measured from that scheduled time, so a slow server cannot hold back the
// requests that would have exposed it (no coordinated omission).
//
// Hot path (Attacker workers): a worker owns its fasthttp request, response and
// buffers and reuses them, so a request without an auction does not allocate;
// results go into per-shard Metrics under a mutex that is rarely contended.
// Decoding bid responses and firing notices allocate; notices are sent from a
// bounded pool and dropped (and counted) rather than ever blocking a worker.
//
// Time and randomness are injected (Clock, seeds) so the pacer, generator and
// auction are testable without sleeping.
package bench
