package segments

import (
	"os"
	"strings"
	"testing"
	"time"
)

// TestReadmeExamples: the event and the import line the README shows are
// accepted as they are.
func TestReadmeExamples(t *testing.T) {
	b, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	var event, profile string
	for _, line := range strings.Split(string(b), "\n") {
		if i := strings.Index(line, "`{\"type\":"); i >= 0 && event == "" {
			event = strings.Trim(line[i:], "`,")
		}
		if strings.HasPrefix(line, `{"user":"u-1"`) && profile == "" {
			profile = line
		}
	}
	var d lineDecoder
	if err := d.decode([]byte(profile), time.Now(), 720*time.Hour); err != nil || d.user != "u-1" || d.phase != PhaseIntent {
		t.Fatalf("README import line %q: user %q phase %v, %v", profile, d.user, d.phase, err)
	}
	if event == "" {
		t.Fatal("README shows no event example")
	}
	evs, err := decodeEvents([]byte(event), 1<<20)
	if err != nil || len(evs) != 1 || evs[0].User != "u-1" || evs[0].Time.IsZero() {
		t.Fatalf("README event %s: %+v, %v", event, evs, err)
	}
}
