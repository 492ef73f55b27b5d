package quality

import (
	"testing"

	"github.com/prebid/openrtb/v20/openrtb2"
)

func TestSupplyChain(t *testing.T) {
	open := newScreener(t, Config{})
	strict := newScreener(t, Config{SellerAllowList: []string{"SSP.example", "exchange.example:pub-1"}})
	f := func(s *Screener, name, js string, want SChainStatus) {
		t.Helper()
		if got := s.SupplyChain(bidRequest(t, js)); got != want {
			t.Errorf("%s: SupplyChain = %+v, want %+v", name, got, want)
		}
	}
	const (
		complete   = `{"complete":1,"ver":"1.0","nodes":[{"asi":"exchange.example","sid":"pub-1","hp":1},{"asi":"ssp.example","sid":"77","hp":1}]}`
		incomplete = `{"complete":0,"ver":"1.0","nodes":[{"asi":"exchange.example","sid":"pub-1","hp":1}]}`
		noSID      = `{"complete":1,"ver":"1.0","nodes":[{"asi":"exchange.example","sid":"","hp":1}]}`
		stranger   = `{"complete":1,"ver":"1.0","nodes":[{"asi":"exchange.example","sid":"pub-2","hp":1}]}`
		empty      = `{"complete":1,"ver":"1.0","nodes":[]}`
	)
	for _, v := range []struct {
		name string
		wrap func(string) string
	}{
		{"2.6", func(sc string) string { return `{"id":"1","source":{"schain":` + sc + `}}` }},
		{"2.5", func(sc string) string {
			return `{"id":"1","source":{"ext":{"other":[1,{"a":"}"}],"schain":` + sc + `}}}`
		}},
	} {
		f(open, v.name+" complete", v.wrap(complete), SChainStatus{Present: true, Complete: true, AllowedSellers: true, Nodes: 2})
		f(strict, v.name+" complete, allowed", v.wrap(complete), SChainStatus{Present: true, Complete: true, AllowedSellers: true, Nodes: 2})
		f(open, v.name+" incomplete", v.wrap(incomplete), SChainStatus{Present: true, AllowedSellers: true, Nodes: 1})
		f(strict, v.name+" node without sid", v.wrap(noSID), SChainStatus{Present: true, Nodes: 1})
		f(strict, v.name+" seller not allowed", v.wrap(stranger), SChainStatus{Present: true, Complete: true, Nodes: 1})
		f(strict, v.name+" no nodes", v.wrap(empty), SChainStatus{Present: true})
		f(open, v.name+" no nodes, open", v.wrap(empty), SChainStatus{Present: true, AllowedSellers: true})
	}
	f(open, "none", `{"id":"1"}`, SChainStatus{AllowedSellers: true})
	f(strict, "none, strict", `{"id":"1","source":{"tid":"x"}}`, SChainStatus{})
	malformed := &openrtb2.BidRequest{Source: &openrtb2.Source{
		Ext: []byte(`{"schain":{"complete":1,"nodes":[{"asi":"ssp.example","sid":"1"},{]}}`)}}
	if got := strict.SupplyChain(malformed); got.Complete || got.AllowedSellers {
		t.Errorf("malformed 2.5 schain: %+v", got)
	}
	f(strict, "2.5 complete as a string", `{"id":"1","source":{"ext":{"schain":{"complete":"1","nodes":[{"asi":"ssp.example","sid":"9"}]}}}}`,
		SChainStatus{Present: true, Complete: true, AllowedSellers: true, Nodes: 1})
}
