// Package demo holds the demo data that `go run ./cmd/kairos` seeds into its
// embedded Redis: three campaigns and four users, one per purchase phase, plus
// the sample bid request the server prints as a ready-to-paste curl.
package demo
