// Package admin owns the admin listener: bearer-token authentication, routing,
// health, readiness and Prometheus metrics, and the mounting point for the
// campaign, segment, event and report APIs that other packages provide as
// fasthttp handlers. Nothing here is on the bid path.
package admin
