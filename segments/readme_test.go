package segments

import (
	"os"
	"strings"
	"testing"
)

// TestReadmeExamples: the event and the import line the README shows are
// accepted as they are.
func TestReadmeExamples(t *testing.T) {
	b, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	var event string
	for _, line := range strings.Split(string(b), "\n") {
		if i := strings.Index(line, "`{\"type\":"); i >= 0 {
			event = strings.Trim(line[i:], "`,")
			break
		}
	}
	if event == "" {
		t.Fatal("README shows no event example")
	}
	evs, err := decodeEvents([]byte(event), 1<<20)
	if err != nil || len(evs) != 1 || evs[0].User != "u-1" || evs[0].Time.IsZero() {
		t.Fatalf("README event %s: %+v, %v", event, evs, err)
	}
}
