package segments

import "fmt"

// Phase is a user's purchase phase. The zero value is PhaseUnknown: no profile, or
// personal data may not be used.
type Phase uint8

// The purchase phases, in journey order.
const (
	PhaseUnknown Phase = iota
	PhaseAwareness
	PhaseConsideration
	PhaseIntent
	PhasePurchased
	// NumPhases is the number of phases, for arrays indexed by Phase.
	NumPhases
)

var phaseNames = [NumPhases]string{"unknown", "awareness", "consideration", "intent", "purchased"}

// String returns the phase's name as used in campaign files and reports.
func (p Phase) String() string {
	if p < NumPhases {
		return phaseNames[p]
	}
	return fmt.Sprintf("phase(%d)", uint8(p))
}

// ParsePhase returns the phase named s.
func ParsePhase(s string) (Phase, error) {
	for i, n := range phaseNames {
		if n == s {
			return Phase(i), nil
		}
	}
	return PhaseUnknown, fmt.Errorf("unknown phase %q (want one of unknown, awareness, consideration, intent, purchased)", s)
}

// PhaseNames returns the phase names in journey order.
func PhaseNames() []string { return phaseNames[:] }

// MarshalText encodes the phase as its name.
func (p Phase) MarshalText() ([]byte, error) {
	if p >= NumPhases {
		return nil, fmt.Errorf("invalid phase %d", uint8(p))
	}
	return []byte(phaseNames[p]), nil
}

// UnmarshalText decodes a phase name.
func (p *Phase) UnmarshalText(b []byte) error {
	for i, n := range phaseNames {
		if n == string(b) {
			*p = Phase(i)
			return nil
		}
	}
	_, err := ParsePhase(string(b))
	return err
}
