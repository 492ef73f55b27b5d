// kchart: the few SVG charts the Kairos dashboard needs, with no dependencies.
// Every chart clears its host element and draws to its current width. Data
// marks carry class "pt" and data-v (their value); <title> children are the
// hover tooltips. Colours come from dashboard.css.
'use strict';

const KChart = (() => {
  const NS = 'http://www.w3.org/2000/svg';

  function el(tag, attrs, parent, text) {
    const e = document.createElementNS(NS, tag);
    for (const k in attrs) e.setAttribute(k, attrs[k]);
    if (text != null) e.textContent = text;
    if (parent) parent.appendChild(e);
    return e;
  }

  function mark(tag, attrs, parent, value, tip) {
    const e = el(tag, Object.assign({ 'data-v': value }, attrs), parent);
    e.classList.add('pt');
    if (tip) el('title', {}, e, tip);
    return e;
  }

  function frame(host, height) {
    host.textContent = '';
    const w = Math.max(host.clientWidth || 560, 280);
    const svg = el('svg', { viewBox: `0 0 ${w} ${height}`, width: w, height, class: 'kchart', role: 'img' }, host);
    return { svg, w, h: height };
  }

  function empty(host, msg) {
    const { svg, w } = frame(host, 80);
    el('text', { x: w / 2, y: 44, 'text-anchor': 'middle', class: 'empty' }, svg, msg || 'No data in this range');
  }

  // scale returns a rounded axis top and its ticks for values up to max.
  function scale(max, n) {
    if (!(max > 0)) max = 1;
    const raw = max / n;
    const mag = Math.pow(10, Math.floor(Math.log10(raw)));
    const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw * 0.999);
    const top = Math.ceil(max / step - 1e-9) * step;
    const ticks = [];
    for (let i = 0; i * step <= top + step / 2; i++) ticks.push(i * step);
    return { top, ticks };
  }

  // grid draws horizontal grid lines with labels on the left or right.
  function axis(svg, box, sc, fmt, side) {
    for (const t of sc.ticks) {
      const y = box.y + box.h - (t / sc.top) * box.h;
      if (side === 'left') el('line', { x1: box.x, x2: box.x + box.w, y1: y, y2: y, class: 'gridline' }, svg);
      const x = side === 'left' ? box.x - 6 : box.x + box.w + 6;
      el('text', { x, y: y + 4, 'text-anchor': side === 'left' ? 'end' : 'start', class: 'tick ' + side }, svg, fmt(t));
    }
  }

  // xlabels writes at most about one label per 70 px under the slots.
  function xlabels(svg, box, labels, slot) {
    const every = Math.max(1, Math.ceil(labels.length / Math.max(1, Math.floor(box.w / 70))));
    labels.forEach((l, i) => {
      if (i % every) return;
      el('text', { x: box.x + slot * (i + 0.5), y: box.y + box.h + 18, 'text-anchor': 'middle', class: 'tick' }, svg, l);
    });
  }

  // combo: bars on the right axis and a line on the left, over shared labels.
  // o = {labels, bars: {values, fmt, name}, line: {values, fmt, name, max}}
  function combo(host, o) {
    const n = o.labels.length;
    if (!n || !o.bars.values.some((v) => v > 0)) return empty(host);
    const { svg, w, h } = frame(host, 250);
    const box = { x: 52, y: 22, w: w - 52 - 52, h: h - 22 - 30 };
    const slot = box.w / n;
    const bs = scale(Math.max(...o.bars.values), 4);
    const ls = scale(o.line.max || Math.max(...o.line.values), 4);
    axis(svg, box, ls, o.line.fmt, 'left');
    axis(svg, box, bs, o.bars.fmt, 'right');
    o.bars.values.forEach((v, i) => {
      const bh = (v / bs.top) * box.h;
      mark('rect', { x: box.x + slot * i + slot * 0.15, y: box.y + box.h - bh, width: Math.max(1, slot * 0.7), height: bh, class: 'bar soft' },
        svg, v, `${o.labels[i]} · ${o.bars.name} ${o.bars.fmt(v)}`);
    });
    const pts = o.line.values.map((v, i) => [box.x + slot * (i + 0.5), box.y + box.h - (v / ls.top) * box.h]);
    const shown = pts.filter((_, i) => o.bars.values[i] > 0);
    el('path', { d: 'M' + shown.map((p) => p.join(',')).join('L'), class: 'line' }, svg);
    pts.forEach((p, i) => {
      if (o.bars.values[i] > 0) {
        mark('circle', { cx: p[0], cy: p[1], r: 3, class: 'dot' }, svg, o.line.values[i], `${o.labels[i]} · ${o.line.name} ${o.line.fmt(o.line.values[i])}`);
      }
    });
    xlabels(svg, box, o.labels, slot);
    legend(svg, box.x + box.w, [['line', o.line.name], ['bar soft', o.bars.name]]);
  }

  // legend writes keys right-aligned above the plot.
  function legend(svg, right, items) {
    let at = right;
    for (const [cls, name] of items.slice().reverse()) {
      at -= name.length * 6.2 + 4;
      el('text', { x: at, y: 10, class: 'legend' }, svg, name);
      at -= 14;
      el('rect', { x: at, y: 2, width: 10, height: 8, rx: 2, class: cls + ' key' }, svg);
      at -= 14;
    }
  }

  // bars: vertical bars over labels. o = {labels, values, fmt, tips, max}
  function bars(host, o) {
    if (!o.values.length || !o.values.some((v) => v > 0)) return empty(host, o.emptyText);
    const { svg, w, h } = frame(host, 240);
    const box = { x: 52, y: 12, w: w - 52 - 12, h: h - 12 - 30 };
    const slot = box.w / o.values.length;
    const sc = scale(o.max || Math.max(...o.values), 4);
    axis(svg, box, sc, o.fmt, 'left');
    o.values.forEach((v, i) => {
      const bh = (v / sc.top) * box.h;
      mark('rect', { x: box.x + slot * i + slot * 0.12, y: box.y + box.h - bh, width: Math.max(1, slot * 0.76), height: bh, class: 'bar ' + (o.cls ? o.cls(i) : '') },
        svg, v, o.tips ? o.tips[i] : `${o.labels[i]}: ${o.fmt(v)}`);
    });
    xlabels(svg, box, o.labels, slot);
  }

  // hbars: one horizontal bar per label, largest first as given.
  function hbars(host, o) {
    if (!o.values.length) return empty(host, o.emptyText);
    const row = 26;
    const { svg, w } = frame(host, o.values.length * row + 8);
    const lw = Math.min(170, w * 0.38);
    const max = Math.max(...o.values) || 1;
    const bw = w - lw - 70;
    o.values.forEach((v, i) => {
      const y = 4 + i * row;
      el('text', { x: lw - 8, y: y + 15, 'text-anchor': 'end', class: 'label' }, svg, o.labels[i]);
      mark('rect', { x: lw, y: y + 3, width: Math.max(2, (v / max) * bw), height: row - 8, rx: 3, class: 'bar' }, svg, v, `${o.labels[i]}: ${o.fmt(v)}`);
      el('text', { x: lw + (v / max) * bw + 6, y: y + 15, class: 'value' }, svg, o.fmt(v));
    });
  }

  // bullets: per row a track (the budget), a fill (what was spent) and a tick
  // (the plan). rows = [{label, value, target, max, fmt}]
  function bullets(host, rows, emptyText) {
    if (!rows.length) return empty(host, emptyText);
    const row = 52;
    const { svg, w } = frame(host, rows.length * row + 8);
    const lw = Math.min(170, w * 0.38);
    const bw = w - lw - 16;
    rows.forEach((r, i) => {
      const y = 4 + i * row;
      const max = Math.max(r.max, r.value, r.target) || 1;
      const x = (v) => lw + (v / max) * bw;
      el('text', { x: lw - 8, y: y + 19, 'text-anchor': 'end', class: 'label' }, svg, r.label);
      el('rect', { x: lw, y: y + 6, width: bw, height: 18, rx: 3, class: 'track' }, svg);
      const over = r.value > r.target * 1.1 && r.target > 0;
      mark('rect', { x: lw, y: y + 6, width: Math.max(1, x(r.value) - lw), height: 18, rx: 3, class: 'fill' + (over ? ' over' : '') },
        svg, r.value, `${r.label}: spent ${r.fmt(r.value)} of ${r.fmt(r.max)}, planned ${r.fmt(r.target)} by now`);
      el('line', { x1: x(r.target), x2: x(r.target), y1: y + 1, y2: y + 29, class: 'target' }, svg);
      el('text', { x: lw, y: y + 42, class: 'small' }, svg,
        `${r.fmt(r.value)} spent · ${r.fmt(r.target)} planned · ${r.fmt(r.max)} daily` + (r.note ? ' · ' + r.note : ''));
    });
  }

  return { combo, bars, hbars, bullets, empty };
})();
