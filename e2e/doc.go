// Package e2e holds end-to-end simulation tests of Kairos run as real, separate
// processes: TestMain builds the kairos binary once, each test starts several
// instances on free 127.0.0.1 ports against the real Redis (KAIROS_TEST_REDIS,
// default redis://127.0.0.1:6379) under a key prefix of its own, applies
// campaigns through one instance's admin API, and drives them with the bench
// package's load generator and exchange simulator, whose notices go to random
// live instances. The tests check budgets (no overspend across instances, one
// of them killed), even pacing over a time-compressed day, exact reports
// across a graceful restart, and graceful stop under load, and log a short
// table of what they measured.
//
// The package has no code besides its tests. Tests that need a real Redis skip
// without one (and fail when CI is set); the 24-hour pacing run is skipped
// with -short, which runs three simulated hours instead. The instances run
// without overload shedding, so that a busy machine cannot change the counts.
package e2e
