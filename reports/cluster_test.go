package reports

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/kairos-rtb/kairos/storage/storagetest"
)

// On a real Redis Cluster: two instances and a restart count exactly, a
// retried flush counts once, and the counts spread over every master.
func TestClusterExactTwoInstances(t *testing.T) {
	r := storagetest.OpenCluster(t)
	checkExactTwoInstances(t, r)

	storagetest.CheckSpread(t, r, r.Keys.Prefix+"{r:*}:h")
}

func TestClusterRetryAfterLostReply(t *testing.T) {
	checkRetryAfterLostReply(t, storagetest.OpenCluster(t))
}

// TestLegacyKeysRead: counts stored under the single {r} tag before the
// spread are still reported, added to the new ones.
func TestLegacyKeysRead(t *testing.T) {
	r := storagetest.Open(t, false)
	ctx := context.Background()
	c := NewCounter(r, Config{}, nil, nil)
	h0 := hourOf(time.Now())
	auctions := simulate(5, 500, h0, 1)
	var want tally
	for i := range auctions {
		want.add(&auctions[i])
		count(c, c, &auctions[i])
	}
	if err := c.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	// Move one part's hash to the legacy key, as an old version wrote it.
	if err := r.Client.Rename(ctx, hourKey(r.Keys.Prefix, h0, 0), legacyHourKey(r.Keys.Prefix, h0)).Err(); err != nil {
		t.Fatal(err)
	}
	checkTally(t, totalsOf(t, NewReader(r, Config{}), h0, h0+1), want)
}

func TestPartOfSpreads(t *testing.T) {
	var n [keySpread]int
	for i := range 8000 {
		n[partOf("campaign-"+strconv.Itoa(i)+"\x1fw")]++
	}
	for p, c := range n {
		if c < 700 || c > 1300 {
			t.Fatalf("part %d holds %d of 8000 fields: %v", p, c, n)
		}
	}
}
