package segments

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// EventType is a kind of first-party behaviour event.
type EventType uint8

// The event types; each is a signal for one phase.
const (
	// EventPageView: the user visited the site (awareness).
	EventPageView EventType = iota + 1
	// EventProductView: the user looked at a product (consideration).
	EventProductView
	// EventAddToCart: the user put a product in the cart (intent).
	EventAddToCart
	// EventCheckout: the user started checking out (intent).
	EventCheckout
	// EventPurchase: the user bought a product (purchased).
	EventPurchase
)

var eventNames = [...]string{"", "page_view", "product_view", "add_to_cart", "checkout", "purchase"}

// String returns the event type's wire name.
func (t EventType) String() string {
	if int(t) < len(eventNames) && t > 0 {
		return eventNames[t]
	}
	return fmt.Sprintf("event(%d)", uint8(t))
}

// ParseEventType returns the event type named s.
func ParseEventType(s string) (EventType, error) {
	for i, n := range eventNames {
		if i > 0 && n == s {
			return EventType(i), nil
		}
	}
	return 0, fieldErr("type", "unknown event type %q (want page_view, product_view, add_to_cart, checkout or purchase)", s)
}

// MarshalText encodes the event type as its wire name.
func (t EventType) MarshalText() ([]byte, error) { return []byte(t.String()), nil }

// UnmarshalText decodes an event type's wire name.
func (t *EventType) UnmarshalText(b []byte) error {
	v, err := ParseEventType(string(b))
	*t = v
	return err
}

// phase is the phase the event is a signal for.
func (t EventType) phase() Phase {
	switch t {
	case EventPageView:
		return PhaseAwareness
	case EventProductView:
		return PhaseConsideration
	case EventAddToCart, EventCheckout:
		return PhaseIntent
	case EventPurchase:
		return PhasePurchased
	}
	return PhaseUnknown
}

// Event is one first-party behaviour event.
type Event struct {
	Type EventType `json:"type"`
	User string    `json:"user"`
	// Product is the product concerned; required for purchase to be recorded
	// in the purchased list, optional otherwise (ignored for page_view).
	Product Product `json:"product,omitzero"`
	// Time is when it happened; zero means now. It, not arrival order, decides
	// the outcome.
	Time time.Time `json:"ts,omitzero"`
}

// maxSkew is how far in the future an event's time may lie.
const maxSkew = 5 * time.Minute

// check validates e, defaulting its time to now.
func (e *Event) check(now time.Time) error {
	if e.Type < EventPageView || e.Type > EventPurchase {
		return fieldErr("type", "unknown event type %d", e.Type)
	}
	if err := checkUser(e.User); err != nil {
		return err
	}
	if err := checkProduct(&e.Product); err != nil {
		return err
	}
	if e.Time.IsZero() {
		e.Time = now
	}
	if e.Time.UnixMilli() <= 0 {
		return fieldErr("ts", "before 1970")
	}
	if e.Time.After(now.Add(maxSkew)) {
		return fieldErr("ts", "%s is in the future", e.Time.Format(time.RFC3339))
	}
	return nil
}

// apply records e in r. Recording is a merge of maxima and sets, so applying
// the same events in any order, any number of times, gives the same record.
func (r *record) apply(e *Event) {
	ms := e.Time.UnixMilli()
	r.setPhase(e.Type.phase(), ms)
	switch e.Type {
	case EventProductView, EventAddToCart, EventCheckout:
		r.seeProduct(e.Product, ms)
	case EventPurchase:
		r.buy(e.Product.ID, ms)
	}
}

// casScript replaces KEYS[1] with ARGV[2] if it still holds ARGV[1] ("" = absent),
// with a TTL of at least ARGV[3] ms; it returns 1 on success, 0 on a conflict.
var casScript = redis.NewScript(`
local cur = redis.call('GET', KEYS[1]) or ''
if cur ~= ARGV[1] then return 0 end
local ttl = tonumber(ARGV[3])
local pt = redis.call('PTTL', KEYS[1])
if pt > ttl then ttl = pt end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ttl)
return 1
`)

// applyChunk is how many users one Apply round reads and writes in a pipeline.
const applyChunk = 500

// Apply records events and moves their users between phases (see the package
// documentation for the state machine). Each user's profile is read, merged
// with the events in Go and written back with a compare-and-set script, retried
// on a concurrent change, so concurrent Apply calls never lose an event. Users
// without a profile get one with Config.DefaultTTL; a profile's TTL is extended
// to at least that. All events are validated first: an invalid one (errors.Is
// ErrInvalid; the error names its index) rejects the whole call. Once every
// profile is written, each purchase goes to the hook (SetHook); its failures
// are returned, and the caller's retry is safe as both steps are idempotent.
func (s *Store) Apply(ctx context.Context, events ...Event) error {
	now := s.now()
	for i := range events {
		if err := events[i].check(now); err != nil {
			return fmt.Errorf("event %d: %w", i, err)
		}
	}
	// Group by user, keeping first-seen order.
	byUser := make(map[string][]int, len(events))
	users := make([]string, 0, len(events))
	for i := range events {
		u := events[i].User
		if _, ok := byUser[u]; !ok {
			users = append(users, u)
		}
		byUser[u] = append(byUser[u], i)
	}
	for len(users) > 0 {
		n := min(len(users), applyChunk)
		if err := s.applyUsers(ctx, users[:n], byUser, events); err != nil {
			return err
		}
		users = users[n:]
	}
	return s.purchased(ctx, events)
}

// purchased hands every purchase event to the hook.
func (s *Store) purchased(ctx context.Context, events []Event) error {
	if s.hook == nil {
		return nil
	}
	var errs []error
	for i := range events {
		if e := &events[i]; e.Type == EventPurchase {
			if err := s.hook.Purchase(ctx, e.User, e.Time); err != nil {
				errs = append(errs, fmt.Errorf("event %d: attribute the purchase of %q: %w", i, e.User, err))
			}
		}
	}
	return errors.Join(errs...)
}

func (s *Store) applyUsers(ctx context.Context, users []string, byUser map[string][]int, events []Event) error {
	const attempts = 10
	keys := make([]string, len(users))
	for i, u := range users {
		keys[i] = s.keys.User(u, "p")
	}
	var (
		rec     record
		changed []byte
	)
	for attempt := 0; attempt < attempts && len(users) > 0; attempt++ {
		pipe := s.rdb.Pipeline()
		gets := make([]*redis.StringCmd, len(users))
		for i := range users {
			gets[i] = pipe.Get(ctx, keys[i])
		}
		if _, err := pipe.Exec(ctx); err != nil && err != redis.Nil {
			return fmt.Errorf("apply events: read profiles: %w", err)
		}
		pipe = s.rdb.Pipeline()
		cas := make([]*redis.Cmd, len(users))
		changed = changed[:0]
		ttl := s.cfg.DefaultTTL.Milliseconds()
		for i, u := range users {
			old := gets[i].Val() // "" when absent
			rec.reset()
			if old != "" {
				if err := decodeRecord(old, &rec); err != nil {
					return fmt.Errorf("apply events: profile of %q: %w", u, err)
				}
			}
			for _, j := range byUser[u] {
				rec.apply(&events[j])
			}
			val := string(appendRecord(nil, &rec))
			if val == old {
				continue // nothing new: duplicates of recorded events
			}
			cas[i] = casScript.Eval(ctx, pipe, []string{keys[i]}, old, val, ttl)
			changed = append(append(changed, u...), '\n')
		}
		if len(changed) == 0 {
			return nil
		}
		publishUsers(ctx, pipe, s.channel, changed[:len(changed)-1])
		if _, err := pipe.Exec(ctx); err != nil {
			return fmt.Errorf("apply events: write profiles: %w", err)
		}
		// Retry the users whose profile changed between read and write.
		retry, retryKeys := users[:0:0], keys[:0:0]
		for i := range users {
			if cas[i] != nil && cas[i].Val() == int64(0) {
				retry, retryKeys = append(retry, users[i]), append(retryKeys, keys[i])
			}
		}
		users, keys = retry, retryKeys
	}
	if len(users) > 0 {
		return fmt.Errorf("apply events for %q: %w", users[0], errConflict)
	}
	return nil
}
