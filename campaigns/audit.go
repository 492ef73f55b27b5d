package campaigns

import (
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"time"
)

// AuditEntry records one change to a campaign: what changed, when, and with
// which admin token.
type AuditEntry struct {
	Time     time.Time `json:"time"`
	Token    string    `json:"token"`
	Action   string    `json:"action"`
	Campaign string    `json:"campaign"`
	Version  int64     `json:"version,omitempty"`
	Changes  []string  `json:"changes,omitempty"`
}

// Diff lists the fields that differ between old and new as
// "path: old → new" lines, sorted by path. A nil old means a new campaign.
func Diff(old, new *Campaign) []string {
	var a, b map[string]any
	if old != nil {
		a = flatten(old)
	}
	if new != nil {
		b = flatten(new)
	}
	keys := map[string]bool{}
	for k := range a {
		keys[k] = true
	}
	for k := range b {
		keys[k] = true
	}
	var out []string
	for k := range keys {
		if k == "version" {
			continue
		}
		av, aok := a[k]
		bv, bok := b[k]
		switch {
		case !aok:
			out = append(out, fmt.Sprintf("%s: %s", k, show(bv)))
		case !bok:
			out = append(out, fmt.Sprintf("%s: %s → (removed)", k, show(av)))
		case !reflect.DeepEqual(av, bv):
			out = append(out, fmt.Sprintf("%s: %s → %s", k, show(av), show(bv)))
		}
	}
	sort.Strings(out)
	return out
}

func show(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// flatten turns a campaign into path → leaf value, lists kept whole.
func flatten(c *Campaign) map[string]any {
	b, _ := json.Marshal(c)
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	out := map[string]any{}
	var walk func(prefix string, v any)
	walk = func(prefix string, v any) {
		if mm, ok := v.(map[string]any); ok {
			for k, child := range mm {
				walk(strings.TrimPrefix(prefix+"."+k, "."), child)
			}
			return
		}
		if list, ok := v.([]any); ok && prefix == "creatives" {
			for i, child := range list {
				walk(fmt.Sprintf("creatives[%d]", i), child)
			}
			return
		}
		if l, ok := v.([]any); v == nil || (ok && len(l) == 0) {
			return
		}
		out[prefix] = v
	}
	walk("", m)
	return out
}
