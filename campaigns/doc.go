// Package campaigns owns the campaign model: the YAML campaign file, its
// validation (errors name file, campaign and field), storage in Redis, and the
// compiled in-memory Index the bid path matches against.
//
// The Index is immutable once built and is swapped in whole by the Watcher
// (atomic.Pointer), so the bid path reads it without locks. Index methods used
// per request do not allocate when given a scratch buffer; parsing, storing and
// compiling allocate freely.
package campaigns
