// The Kairos dashboard: fetches /dashboard/data with the session cookie,
// draws it with KChart, and refreshes itself.
'use strict';

(() => {
  const REFRESH_MS = 15000;
  const state = { range: localStorage.getItem('kairos.range') || '24h', campaign: '', data: null };
  const $ = (id) => document.getElementById(id);

  const fmt = {
    int: (v) => (v >= 1e6 ? (v / 1e6).toFixed(v >= 1e7 ? 0 : 1) + 'M' : v >= 1e4 ? (v / 1e3).toFixed(v >= 1e5 ? 0 : 1) + 'k' : Math.round(v).toLocaleString('en-US')),
    money: (v) => (v >= 1e4 ? fmt.int(v) : Number(v).toFixed(2)),
    pct: (v) => (v * 100).toFixed(v >= 0.1 || v === 0 ? 0 : 1) + '%',
    pct1: (v) => (v * 100).toFixed(1) + '%',
  };

  function hourLabel(iso, multiDay) {
    const d = new Date(iso);
    const hh = String(d.getHours()).padStart(2, '0') + ':00';
    return multiDay ? d.toLocaleDateString('en-GB', { day: '2-digit', month: 'short' }) + ' ' + hh : hh;
  }

  function kpis(t) {
    const items = [
      ['Requests', fmt.int(t.requests)], ['Bids', fmt.int(t.bids)], ['Wins', fmt.int(t.wins)],
      ['Win rate', fmt.pct1(t.win_rate)], ['Spend', fmt.money(t.spend)], ['eCPM', fmt.money(t.ecpm)],
      ['Avg clearing', fmt.money(t.avg_clearing_cpm)], ['CTR', fmt.pct1(t.ctr)],
    ];
    const host = $('kpis');
    host.textContent = '';
    for (const [name, value] of items) {
      const div = document.createElement('div');
      div.className = 'kpi';
      const v = document.createElement('strong');
      v.textContent = value;
      const n = document.createElement('span');
      n.textContent = name;
      div.append(v, n);
      host.append(div);
    }
  }

  function table(rows) {
    const host = $('campaigns');
    host.textContent = '';
    if (!rows.length) {
      host.textContent = 'No campaign has bid in this range.';
      return;
    }
    const cols = [['Campaign', (r) => r.dims.campaign], ['Bids', (r) => fmt.int(r.bids)], ['Wins', (r) => fmt.int(r.wins)],
      ['Win rate', (r) => fmt.pct1(r.win_rate)], ['Spend', (r) => fmt.money(r.spend)], ['eCPM', (r) => fmt.money(r.ecpm)],
      ['Avg clearing', (r) => fmt.money(r.avg_clearing_cpm)], ['Avg bid', (r) => fmt.money(r.avg_bid_cpm)],
      ['Losses', (r) => fmt.int(r.losses)], ['Clicks', (r) => fmt.int(r.clicks)], ['CTR', (r) => fmt.pct1(r.ctr)]];
    const t = document.createElement('table');
    const head = t.createTHead().insertRow();
    for (const [name] of cols) head.append(Object.assign(document.createElement('th'), { textContent: name }));
    const body = t.createTBody();
    for (const r of rows) {
      const tr = body.insertRow();
      for (const [, get] of cols) tr.insertCell().textContent = get(r);
    }
    host.append(t);
  }

  function campaigns(list) {
    const sel = $('campaign');
    const keep = state.campaign;
    while (sel.options.length > 1) sel.remove(1);
    for (const c of new Set(list.concat(keep ? [keep] : []))) sel.add(new Option(c, c));
    sel.value = keep;
  }

  function render() {
    const d = state.data;
    if (!d) return;
    kpis(d.totals);
    const multiDay = d.hours.length > 26;
    const labels = d.hours.map((h) => hourLabel(h.dims.hour, multiDay));
    KChart.combo($('chart-winrate'), {
      labels,
      bars: { values: d.hours.map((h) => h.bids), fmt: fmt.int, name: 'bids' },
      line: { values: d.hours.map((h) => h.win_rate), fmt: fmt.pct, name: 'win rate' },
    });
    KChart.bullets($('chart-pacing'), d.pacing.map((p) => ({
      label: p.campaign, value: +p.spent_today, target: +p.planned, max: +p.daily, fmt: fmt.money,
      note: 'participation ' + fmt.pct(p.participation),
    })), 'No pacing state (no active campaign on this instance)');
    KChart.bars($('chart-landscape'), {
      labels: d.landscape.map((b) => Number(b.low_cpm).toFixed(2)),
      values: d.landscape.map((b) => b.win_rate),
      fmt: fmt.pct,
      tips: d.landscape.map((b) => `${Number(b.low_cpm).toFixed(2)}–${b.high_cpm ? Number(b.high_cpm).toFixed(2) : '∞'} CPM: ` +
        `${fmt.int(b.bids)} bids, ${fmt.int(b.wins)} wins, win rate ${fmt.pct1(b.win_rate)}`),
      cls: () => 'alt',
      emptyText: 'No bids in this range',
    });
    KChart.bars($('chart-spend'), {
      labels, values: d.hours.map((h) => +h.spend), fmt: fmt.money,
      tips: d.hours.map((h, i) => `${labels[i]}: spend ${fmt.money(+h.spend)}, eCPM ${fmt.money(+h.ecpm)}`),
      emptyText: 'No spend in this range',
    });
    KChart.hbars($('chart-nobids'), {
      labels: d.no_bids.map((r) => r.reason.replace(/_/g, ' ')), values: d.no_bids.map((r) => r.count), fmt: fmt.int,
      emptyText: 'No no-bids in this range',
    });
    table(d.by_campaign);
  }

  async function load() {
    const q = new URLSearchParams({ range: state.range });
    if (state.campaign) q.set('campaign', state.campaign);
    try {
      const res = await fetch('/dashboard/data?' + q, { credentials: 'same-origin', cache: 'no-store' });
      if (res.status === 401) {
        location.reload(); // shows the sign-in page
        return;
      }
      if (!res.ok) throw new Error((await res.json().catch(() => ({}))).error || res.statusText);
      state.data = await res.json();
      campaigns(state.data.campaigns);
      render();
      $('status').textContent = 'updated ' + new Date().toLocaleTimeString('en-GB');
      $('status').className = 'status';
    } catch (e) {
      $('status').textContent = 'update failed: ' + e.message;
      $('status').className = 'status bad';
    }
  }

  function markRange() {
    for (const b of document.querySelectorAll('#ranges button')) b.classList.toggle('on', b.dataset.range === state.range);
  }

  $('ranges').addEventListener('click', (e) => {
    const r = e.target.dataset && e.target.dataset.range;
    if (!r) return;
    state.range = r;
    localStorage.setItem('kairos.range', r);
    markRange();
    load();
  });
  $('campaign').addEventListener('change', (e) => {
    state.campaign = e.target.value;
    load();
  });
  let resizeTimer = 0;
  window.addEventListener('resize', () => {
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(render, 150);
  });
  markRange();
  load();
  setInterval(load, REFRESH_MS);
})();
