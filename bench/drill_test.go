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
			w.Bids, w.Late = 0, 1
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
