// Package money owns Kairos's representation of amounts: int64 micros (1e-6 of a
// currency unit) inside, decimal text or float64 only at the edges (YAML, JSON,
// OpenRTB prices). It is also the one place where CPM prices become per-impression
// costs and where static currency rates convert between currencies.
//
// Everything here is allocation-free on the hot path except parsing.
package money
