package bench

import (
	"strings"
	"testing"
	"time"
)

func TestDrillTable(t *testing.T) {
	t0 := time.Unix(1000, 0)
	at := func(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }
	// Baseline: half the requests bid. The fault stops bidding from 10s to
	// 12s; it ends at 11s, bidding is back at 12s.
	var ws []Window
	for s := 0.0; s < 16; s += 0.5 {
		w := Window{Start: at(s), Requests: 100, Bids: 50}
		if s >= 10 && s < 12 {
			w.Bids, w.Late, w.LateSent, w.LateServer = 0, 1, 1, 1
		}
		ws = append(ws, w)
	}
	evs, err := ReadDrillEvents(strings.NewReader("1000 start baseline\n1008 end baseline\n1008 spend baseline 900 1000 0\n" +
		"1008 start fault\n1011 end fault\n1016 spend fault 1200 1000 200\n1016 attack fault extra.jsonl\n"))
	if err != nil {
		t.Fatal(err)
	}
	extra := func(string) ([]Window, error) { return []Window{{Requests: 7, Status5xx: 2}}, nil }
	rows, err := DrillTable(ws, evs, extra)
	if err != nil {
		t.Fatal(err)
	}
	f := func(r DrillRow, fault string, requests, late, fivexx uint64, resumed time.Duration, pass bool) {
		t.Helper()
		if r.Fault != fault || r.Requests != requests || r.Late != late || r.Status5xx != fivexx || r.Resumed != resumed || r.Pass() != pass {
			t.Fatalf("row %+v, want %s requests %d late %d 5xx %d resumed %v pass %v", r, fault, requests, late, fivexx, resumed, pass)
		}
	}
	f(rows[0], "baseline", 1600, 0, 0, 0, true)
	f(rows[1], "fault", 1607, 4, 2, time.Second, false)
	if rows[1].Spent != 1200 || rows[1].Budget != 1000 || rows[1].LateSpend != 200 {
		t.Fatalf("spend %+v", rows[1])
	}
}

// TestDrillLateFromSend: answers late only because the load generator fell
// behind, or stalled while they waited to be read, do not fail a row; answers
// late from their send beyond that do.
func TestDrillLateFromSend(t *testing.T) {
	t0 := time.Unix(1000, 0)
	ws := []Window{
		{Start: t0, Requests: 100, Bids: 50},
		{Start: t0.Add(time.Second), Requests: 100, Bids: 50, Late: 30, GenLag: 250 * time.Millisecond},
		{Start: t0.Add(2 * time.Second), Requests: 100, Bids: 50, Late: 5, LateSent: 2, LateServer: 2, GenLag: 40 * time.Millisecond},
		{Start: t0.Add(3 * time.Second), Requests: 100, Bids: 50, Late: 3, LateSent: 3, GenLag: 20 * time.Millisecond},
	}
	evs, err := ReadDrillEvents(strings.NewReader("1000 start baseline\n1001 end baseline\n1001 start lag\n1001 end lag\n" +
		"1002 start slow\n1002 end slow\n1003 start stall\n1003 end stall\n"))
	if err != nil {
		t.Fatal(err)
	}
	rows, err := DrillTable(ws, evs, nil)
	if err != nil {
		t.Fatal(err)
	}
	if r := rows[1]; r.Late != 30 || r.LateSent != 0 || r.GenLag != 250*time.Millisecond || !r.Pass() {
		t.Fatalf("generator lag only: %+v pass %v, want a pass", r, r.Pass())
	}
	if r := rows[2]; r.LateSent != 2 || r.LateServer != 2 || r.Pass() {
		t.Fatalf("late from send: %+v pass %v, want a failure", r, r.Pass())
	}
	if r := rows[3]; r.LateSent != 3 || r.LateServer != 0 || !r.Pass() {
		t.Fatalf("late only while the generator stalled: %+v pass %v, want a pass", r, r.Pass())
	}
	var b strings.Builder
	if err := WriteDrillTable(&b, rows); err != nil || !strings.Contains(b.String(), "| lag | 100 | 50 | 0 (0) | 30 (250ms) |") {
		t.Fatalf("table:\n%s", b.String())
	}
}
