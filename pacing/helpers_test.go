package pacing

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/kairos-rtb/kairos/campaigns"
	"github.com/kairos-rtb/kairos/money"
	"github.com/kairos-rtb/kairos/storage"
	"github.com/redis/go-redis/v9"
)

// testRedis returns a client on the real Redis named by KAIROS_TEST_REDIS
// (default redis://127.0.0.1:6379), or on miniredis when it does not answer
// (a failure when CI is set), and a key prefix unique to the test, deleted at
// cleanup.
func testRedis(t testing.TB) (redis.UniversalClient, storage.Keys) {
	t.Helper()
	var b [6]byte
	_, _ = rand.Read(b[:])
	keys := storage.Keys{Prefix: "kairos-test:" + hex.EncodeToString(b[:]) + ":"}
	url := os.Getenv("KAIROS_TEST_REDIS")
	if url == "" {
		url = "redis://127.0.0.1:6379"
	}
	opt, err := redis.ParseURL(url)
	if err != nil {
		t.Fatalf("KAIROS_TEST_REDIS: %v", err)
	}
	rdb := redis.NewClient(opt)
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if err := rdb.Ping(ctx).Err(); err != nil {
		rdb.Close()
		if os.Getenv("CI") != "" {
			t.Fatalf("a real Redis is required and %s does not answer: %v", url, err)
		}
		t.Logf("no Redis at %s (%v); using miniredis", url, err)
		mr := miniredis.RunT(t)
		rdb = redis.NewClient(&redis.Options{Addr: mr.Addr()})
	}
	t.Cleanup(func() {
		ctx := context.Background()
		iter := rdb.Scan(ctx, 0, keys.Prefix+"*", 1000).Iterator()
		var del []string
		for iter.Next(ctx) {
			del = append(del, iter.Val())
		}
		if len(del) > 0 {
			rdb.Del(ctx, del...)
		}
		rdb.Close()
	})
	return rdb, keys
}

// secondClient opens another connection to rdb's server, as a second
// instance would; it is closed at cleanup.
func secondClient(t testing.TB, rdb redis.UniversalClient) redis.UniversalClient {
	t.Helper()
	opt := *rdb.(*redis.Client).Options()
	c := redis.NewClient(&opt)
	t.Cleanup(func() { c.Close() })
	return c
}

// testCampaign returns a valid active campaign.
func testCampaign(id, tz, mode string, daily, total money.Micros) campaigns.Campaign {
	return campaigns.Campaign{
		ID: id, Name: id, Advertiser: "Acme", ADomain: []string{"acme.example"}, Status: "active",
		Flight:       campaigns.Flight{Start: campaigns.Date{Y: 2020, M: 1, D: 1}, End: campaigns.Date{Y: 2035, M: 12, D: 31}, Timezone: tz},
		Budget:       campaigns.Budget{Daily: daily, Total: total, Currency: "USD"},
		Pacing:       mode,
		Bid:          campaigns.Bid{BaseCPM: 2 * money.Unit, MaxCPM: 8 * money.Unit},
		FrequencyCap: &campaigns.FrequencyCap{Impressions: 3, Window: campaigns.Duration(24 * time.Hour)},
		Creatives: []campaigns.Creative{{ID: "cr1", Formats: []string{"banner"},
			Sizes: []campaigns.Size{{W: 300, H: 250}}, LandingURL: "https://acme.example/landing"}},
	}
}

// fixedIndex is a CampaignSource over a settable index.
type fixedIndex struct {
	ix atomic.Pointer[campaigns.Index]
}

func newIndex(now time.Time, cs ...campaigns.Campaign) *fixedIndex {
	f := &fixedIndex{}
	f.ix.Store(campaigns.Compile(cs, now))
	return f
}

func (f *fixedIndex) Index() *campaigns.Index { return f.ix.Load() }

func (f *fixedIndex) get(t testing.TB, id string) *campaigns.Compiled {
	t.Helper()
	c, ok := f.Index().Get(id)
	if !ok {
		t.Fatalf("campaign %q not in index", id)
	}
	return c
}

// testPacer returns a Pacer (not started) on rdb/keys with a manual clock.
func testPacer(t testing.TB, rdb redis.UniversalClient, keys storage.Keys, src CampaignSource, clk Clock, cfg Config) *Pacer {
	t.Helper()
	p, err := New(cfg, Deps{Redis: rdb, Keys: keys, Campaigns: src, Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func figures(t testing.TB, l *Ledger, campaign, day string) Figures {
	t.Helper()
	fs, err := l.Figures(context.Background(), []FigureQuery{{CampaignID: campaign, Day: day}})
	if err != nil {
		t.Fatal(err)
	}
	return fs[0]
}

// leaseField reads one lease field's amount (-1 when absent).
func leaseField(t testing.TB, rdb redis.UniversalClient, l *Ledger, campaign, day, holder string) int64 {
	t.Helper()
	v, err := rdb.HGet(context.Background(), l.keys(campaign)[1], day+"|"+holder).Result()
	if err == redis.Nil {
		return -1
	}
	if err != nil {
		t.Fatal(err)
	}
	a, _, _ := strings.Cut(v, "|")
	var n int64
	for _, c := range a {
		n = n*10 + int64(c-'0')
	}
	return n
}

func moneyOf(v int64) money.Micros { return money.Micros(v) }

// asapRig starts a Pacer (instance i1, on its own key prefix) with one asap
// campaign c1 of the given daily and total budget, on a manual clock at t0.
func asapRig(t testing.TB, daily, total money.Micros) (*Pacer, *campaigns.Compiled, *ManualClock, redis.UniversalClient) {
	t.Helper()
	rdb, keys := testRedis(t)
	clk := NewManualClock(t0)
	src := newIndex(t0, testCampaign("c1", "UTC", "asap", daily, total))
	return testPacer(t, rdb, keys, src, clk, Config{Instance: "i1"}), src.get(t, "c1"), clk, rdb
}
