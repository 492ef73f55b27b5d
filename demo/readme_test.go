package demo

import (
	"os"
	"strings"
	"testing"
)

// TestReadmeCurl: the curl the README shows is the one the bidder prints for
// the demo intent user, so pasting it from the README bids too.
func TestReadmeCurl(t *testing.T) {
	b, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	want := Curl("127.0.0.1:8080", "demo-intent")
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "curl ") && strings.Contains(line, "demo-intent") {
			if line != want {
				t.Fatalf("README's curl differs from what the bidder prints:\nREADME:  %s\nprinted: %s", line, want)
			}
			return
		}
	}
	t.Fatal("README shows no curl for demo-intent")
}
