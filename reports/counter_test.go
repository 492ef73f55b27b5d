package reports

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kairos-rtb/kairos/money"
	"github.com/kairos-rtb/kairos/storage"
	"github.com/kairos-rtb/kairos/storage/storagetest"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
)

func TestBucketOf(t *testing.T) {
	f := func(cpm string, want int) {
		t.Helper()
		m, err := money.Parse(cpm)
		if err != nil {
			t.Fatal(err)
		}
		if got := bucketOf(m); got != want {
			t.Fatalf("bucketOf(%s) = %d, want %d", cpm, got, want)
		}
		low, high := BucketBounds(want)
		if m >= 0 && (m < low || (high != 0 && m >= high)) {
			t.Fatalf("BucketBounds(%d) = [%s, %s) does not hold %s", want, low, high, cpm)
		}
	}
	f("0", 0)
	f("0.249999", 0)
	f("0.25", 1)
	f("2.60", 10)
	f("4.99", 19)
	f("5", 20)
	f("5.99", 20)
	f("19.99", 34)
	f("20", 35)
	f("999", 35)
	f("-1", 0)
	if NumBuckets != 36 {
		t.Fatalf("NumBuckets = %d", NumBuckets)
	}
}

func TestCanon(t *testing.T) {
	f := func(in string, max int, want string) {
		t.Helper()
		if got := canon(in, max); got != want {
			t.Fatalf("canon(%q, %d) = %q, want %q", in, max, got, want)
		}
	}
	f("news.example", 96, "news.example")
	f("a\x1fb\nc", 96, "a?b?c")
	f("abcdef", 3, "abc")
	f("aé", 2, "a") // never cuts a rune in half
	f("", 8, "")
}

func TestFieldRoundTrip(t *testing.T) {
	k := key{campaign: "c-1", variant: "v", exchange: "x/seat", publisher: "p.example", country: "DEU", phase: 3, device: 2, format: 1}
	field := string(appendField(nil, &k)) + "n:no_campaign"
	f, ok := parseField(field)
	if !ok || f.strs != [5]string{"c-1", "v", "x/seat", "p.example", "DEU"} || f.phase != 3 || f.device != 2 || f.format != 1 || f.metric != "n:no_campaign" {
		t.Fatalf("parseField(%q) = %+v, %v", field, f, ok)
	}
	for _, bad := range []string{"", "a\x1fb", "a\x1fb\x1fc\x1fd\x1fe\x1fx\x1f1\x1f1\x1fq"} {
		if _, ok := parseField(bad); ok {
			t.Fatalf("parseField(%q) accepted", bad)
		}
	}
}

// totalsOf reads the whole report as one row.
func totalsOf(t *testing.T, rd *Reader, h0, h1 int64) Row {
	t.Helper()
	rows, err := rd.WinRate(context.Background(), HourTime(h0), HourTime(h1), nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 1 {
		t.Fatalf("%d rows without grouping", len(rows))
	}
	return rows[0]
}

func checkTally(t *testing.T, got Row, want tally) {
	t.Helper()
	if got.Requests != want.requests || got.NoBids != want.noBids || got.Bids != want.bids || got.Wins != want.wins ||
		got.Losses != want.losses || got.Impressions != want.imps || got.Clicks != want.clicks || got.Spend != want.spend ||
		got.clearCPM != want.clearCPM {
		t.Fatalf("report totals differ from what was sent:\n got requests=%d no_bids=%d bids=%d wins=%d losses=%d imps=%d clicks=%d spend=%s clearing=%d\nwant requests=%d no_bids=%d bids=%d wins=%d losses=%d imps=%d clicks=%d spend=%s clearing=%d",
			got.Requests, got.NoBids, got.Bids, got.Wins, got.Losses, got.Impressions, got.Clicks, got.Spend, got.clearCPM,
			want.requests, want.noBids, want.bids, want.wins, want.losses, want.imps, want.clicks, want.spend, want.clearCPM)
	}
	if money.ImpressionToCPM(got.Spend) != money.Micros(want.clearCPM) {
		t.Fatalf("spend %s × 1000 != Σ clearing CPM %d", got.Spend, want.clearCPM)
	}
}

func TestCounterConcurrent(t *testing.T) {
	r := storagetest.Open(t, false)
	c := NewCounter(r, Config{}, prometheus.NewRegistry(), zap.NewNop())
	h0 := hourOf(time.Now()) - 3
	auctions := simulate(1, 20000, h0, 3)
	var want tally
	for i := range auctions {
		want.add(&auctions[i])
	}
	var wg sync.WaitGroup
	const workers = 8
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < len(auctions); i += workers {
				count(c, c, &auctions[i])
			}
		}()
	}
	// Flush while counting: counts taken in one flush must not reappear.
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	for running := true; running; {
		select {
		case <-done:
			running = false
		default:
		}
		if err := c.Flush(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	checkTally(t, totalsOf(t, NewReader(r, Config{}), h0, h0+3), want)
}

// TestFlushFailureKeepsCounts closes the embedded Redis under the counter:
// the flush fails, counts wait (new ones too), and once Redis is back every
// count arrives exactly once.
func TestFlushFailureKeepsCounts(t *testing.T) {
	r, err := storage.Open(context.Background(), storage.Config{Prefix: "kt:fail:"})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	c := NewCounter(r, Config{FlushTimeout: time.Second}, nil, nil)
	h0 := hourOf(time.Now())
	auctions := simulate(2, 3000, h0, 1)
	var want tally
	for i := range auctions[:1500] {
		want.add(&auctions[i])
		count(c, c, &auctions[i])
	}
	r.Embedded.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := c.Flush(ctx); err == nil {
		t.Fatal("flush to a closed Redis succeeded")
	}
	if c.pending == nil || c.pending.fields == 0 {
		t.Fatal("failed flush kept no pending batch")
	}
	for i := range auctions[1500:] {
		a := &auctions[1500+i]
		want.add(a)
		count(c, c, a)
	}
	if err := c.Flush(ctx); err == nil {
		t.Fatal("second flush to a closed Redis succeeded")
	}
	if err := r.Embedded.Restart(); err != nil {
		t.Fatal(err)
	}
	if err := c.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if c.pending != nil {
		t.Fatal("pending batch left after a good flush")
	}
	checkTally(t, totalsOf(t, NewReader(r, Config{}), h0, h0+1), want)
}

// TestRetryAfterLostReply: a flush that Redis applied but whose reply was lost
// (here: the batch is kept as if the reply never came) is not applied again,
// also when only some of its chunks had been applied.
func TestRetryAfterLostReply(t *testing.T) {
	checkRetryAfterLostReply(t, storagetest.Open(t, false))
}

func checkRetryAfterLostReply(t *testing.T, r *storage.Redis) {
	c := NewCounter(r, Config{}, nil, nil)
	h0 := hourOf(time.Now())
	auctions := simulate(3, 4000, h0, 1)
	var want tally
	for i := range auctions {
		want.add(&auctions[i])
		count(c, c, &auctions[i])
	}
	ctx := context.Background()
	c.chunkFields = 50
	small := c.collect()
	if len(small.chunks) < 3 {
		t.Fatalf("only %d chunks", len(small.chunks))
	}
	half := &batch{seq: small.seq, chunks: small.chunks[:len(small.chunks)/2]}
	if err := c.write(ctx, half); err != nil {
		t.Fatal(err)
	}
	c.pending = small // as if the reply of the whole batch was lost
	if err := c.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if err := c.write(ctx, small); err != nil { // and once more for good measure
		t.Fatal(err)
	}
	checkTally(t, totalsOf(t, NewReader(r, Config{}), h0, h0+1), want)
}

func TestEvictionAndFolding(t *testing.T) {
	r := storagetest.Open(t, false)
	c := NewCounter(r, Config{MaxKeys: numShards * 2}, nil, nil)
	h := hourOf(time.Now())
	pubs := []string{"a.example", "b.example", "c.example", "d.example", "e.example", "f.example"}
	// Same shard for every publisher is not guaranteed, so count many and
	// check that some were folded while totals stay exact.
	n := 0
	for i := 0; i < 200; i++ {
		for _, p := range pubs {
			d := Dims{Campaign: "c", Publisher: p + string(rune('a'+i%26)) + string(rune('a'+i/26)), Hour: h}
			c.Bid(&d, money.Unit)
			n++
		}
	}
	ctx := context.Background()
	if err := c.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	rows, err := NewReader(r, Config{}).WinRate(ctx, HourTime(h), HourTime(h+1), []string{DimPublisher})
	if err != nil {
		t.Fatal(err)
	}
	var bids int64
	folded := false
	for _, row := range rows {
		bids += row.Bids
		folded = folded || row.Dims[DimPublisher] == other
	}
	if bids != int64(n) || !folded || len(rows) > numShards*2+1 {
		t.Fatalf("bids %d (want %d), folded %v, %d rows", bids, n, folded, len(rows))
	}
	keys := func() int {
		k := 0
		for i := range c.shards {
			k += len(c.shards[i].m)
		}
		return k
	}
	if keys() == 0 {
		t.Fatal("keys dropped right after a flush")
	}
	for i := 0; i < evictAfter; i++ {
		if err := c.Flush(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if k := keys(); k != 0 {
		t.Fatalf("%d idle keys kept after %d empty flushes", k, evictAfter)
	}
}

func TestInternReasons(t *testing.T) {
	c := NewCounter(nil, Config{}, nil, nil)
	buf := []byte("no_campaign")
	r1 := c.intern(string(buf))
	copy(buf, "XXXXXXXXXXX")
	if r1 != "no_campaign" {
		t.Fatalf("interned reason changed with the caller's buffer: %q", r1)
	}
	for i := 0; i < maxReasons+5; i++ {
		c.intern("r" + string(rune('A'+i)))
	}
	if got := c.intern("yet-another"); got != "other" {
		t.Fatalf("reason past the limit = %q, want other", got)
	}
}

// TestCallerBuffersNotKept counts with strings that point into a buffer the
// caller then overwrites, as the bidder does with request bodies.
func TestCallerBuffersNotKept(t *testing.T) {
	r := storagetest.Open(t, false)
	c := NewCounter(r, Config{}, nil, nil)
	h := hourOf(time.Now())
	buf := []byte("camp-one|pub.example")
	d := Dims{Campaign: unsafeString(buf[:8]), Publisher: unsafeString(buf[9:]), Hour: h}
	c.Bid(&d, money.Unit)
	copy(buf, "XXXXXXXXXXXXXXXXXXXX")
	if err := c.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	rows, err := NewReader(r, Config{}).WinRate(context.Background(), HourTime(h), HourTime(h+1), []string{DimCampaign, DimPublisher})
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 1 || rows[0].Dims[DimCampaign] != "camp-one" || rows[0].Dims[DimPublisher] != "pub.example" {
		t.Fatalf("rows = %+v", rows)
	}
}

func TestConfigValidate(t *testing.T) {
	f := func(c Config, wantErr string) {
		t.Helper()
		err := c.Validate()
		if (err == nil) != (wantErr == "") || (err != nil && !strings.Contains(err.Error(), wantErr)) {
			t.Fatalf("Validate(%+v) = %v, want %q", c, err, wantErr)
		}
	}
	f(Config{}, "")
	f(Config{Instance: "bidder1", FlushInterval: time.Second, TTL: 48 * time.Hour}, "")
	f(Config{Instance: "Bidder 1"}, "KAIROS_INSTANCE")
	f(Config{FlushInterval: time.Millisecond}, "KAIROS_REPORTS_FLUSH")
	f(Config{TTL: time.Minute}, "KAIROS_REPORTS_TTL")
	f(Config{MaxKeys: -1}, "KAIROS_REPORTS_MAX_KEYS")
}
