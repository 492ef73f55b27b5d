// Package bidder owns the exchange-facing side of Kairos: the fasthttp handlers,
// OpenRTB decoding and validation, the auction pipeline (screen → resolve user →
// one Redis round trip → match → price → assemble → encode) and the deadline.
//
// Hot path rules: per-request state comes from a sync.Pool and is reset before it
// goes back; nothing from a *fasthttp.RequestCtx outlives the request; the only
// I/O is the profile lookup, bounded by the request's deadline; campaigns are
// read from an atomically swapped snapshot. Decoding allocates (strings of the
// request point into the body buffer, the slices do not); matching, pricing and
// encoding append into pooled buffers.
package bidder
