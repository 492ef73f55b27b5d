package creatives

import "github.com/kairos-rtb/kairos/segments"

// Chooser picks one of n equally eligible variants of a creative part for a
// user. Implementations must be safe for concurrent use, must not block, and
// should not allocate; a result outside [0,n) is taken modulo n. The learning
// issue replaces HashChooser with a bandit behind this interface.
type Chooser interface {
	Choose(user, campaignID, part string, phase segments.Phase, n int) int
}

// HashChooser is the default Chooser: deterministic per (user, campaign, part),
// so a user keeps seeing the same variant, spread evenly across users. Users
// without an id all get the same variant.
type HashChooser struct{}

var _ Chooser = HashChooser{}

// Choose hashes user, campaign and part with FNV-1a and a final mix.
func (HashChooser) Choose(user, campaignID, part string, _ segments.Phase, n int) int {
	if n <= 1 {
		return 0
	}
	h := fnvString(fnvOffset, user)
	h = fnvByte(h, 0xff)
	h = fnvString(h, campaignID)
	h = fnvByte(h, 0xff)
	h = fnvString(h, part)
	return int(mix64(h) % uint64(n))
}

const (
	fnvOffset = 14695981039346656037
	fnvPrime  = 1099511628211
)

func fnvString(h uint64, s string) uint64 {
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= fnvPrime
	}
	return h
}

func fnvByte(h uint64, b byte) uint64 { return (h ^ uint64(b)) * fnvPrime }

// mix64 is the SplitMix64 finaliser; FNV's low bits alone spread poorly for
// small moduli.
func mix64(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}
