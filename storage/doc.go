// Package storage owns Kairos's connection to Redis: parsing KAIROS_REDIS_URL
// (single node, TLS, or a cluster given by several addr= parameters), the
// embedded in-memory Redis used by the demo, and the key prefix every other
// package builds its keys from.
//
// Nothing here is on the bid path except Keys, whose methods append to a caller's
// buffer without allocating.
package storage
