// A small SVG line chart: x linear (training step), y log10 with 1-2-5
// ticks in plain numbers, the best (lowest) point starred where it is.
'use strict';

const chart = {
  draw(svg, points, {title, unit = '', yMin, yMax}) {
    const W = svg.clientWidth || 480, H = svg.clientHeight || 240;
    const m = {l: 48, r: 12, t: 22, b: 30};
    svg.setAttribute('viewBox', `0 0 ${W} ${H}`);
    svg.dataset.points = String(points.length);
    const ns = 'http://www.w3.org/2000/svg';
    svg.replaceChildren();
    const el = (name, attrs, text) => {
      const e = document.createElementNS(ns, name);
      for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
      if (text !== undefined) e.textContent = text;
      svg.append(e);
      return e;
    };
    el('text', {x: m.l, y: 14, 'font-weight': 600}, title);
    if (!points.length) {
      el('text', {x: W / 2, y: H / 2, 'text-anchor': 'middle'}, 'waiting for data…');
      return;
    }
    const ys = points.map((p) => p[1]).filter((v) => v > 0);
    const lo = yMin ?? Math.min(...ys), hi = yMax ?? Math.max(...ys);
    // Ticks 1-2-5 per decade, or denser when the data span less than ~1.5
    // decades; the axis runs from the tick at or below the lowest point to
    // the tick at or above the highest.
    const steps = Math.log10(hi / lo) >= 1.5 ? [1, 2, 5] : [1, 1.5, 2, 3, 4, 5, 7];
    const ticks = [];
    for (let d = Math.floor(Math.log10(lo)) - 1; d <= Math.ceil(Math.log10(hi)) + 1; d++) {
      for (const k of steps) ticks.push(+(k * 10 ** d).toPrecision(3));
    }
    const below = ticks.filter((t) => t <= lo * (1 + 1e-9)), above = ticks.filter((t) => t >= hi * (1 - 1e-9));
    const l0 = Math.log10(below.length ? below[below.length - 1] : lo);
    const l1 = Math.max(Math.log10(above.length ? above[0] : hi), l0 + 0.1);
    const xs = points.map((p) => p[0]);
    const x0 = Math.min(0, ...xs), x1 = Math.max(...xs, 1);
    const X = (x) => m.l + (x - x0) / (x1 - x0) * (W - m.l - m.r);
    const Y = (y) => H - m.b - (Math.log10(Math.max(y, 10 ** l0)) - l0) / (l1 - l0) * (H - m.t - m.b);
    for (const v of ticks) {
      if (Math.log10(v) < l0 - 1e-9 || Math.log10(v) > l1 + 1e-9) continue;
      el('line', {x1: m.l, x2: W - m.r, y1: Y(v), y2: Y(v), class: 'grid'});
      el('text', {x: m.l - 6, y: Y(v) + 4, 'text-anchor': 'end'}, `${v}${unit}`);
    }
    el('line', {x1: m.l, x2: W - m.r, y1: H - m.b, y2: H - m.b, class: 'axis'});
    for (let i = 0; i <= 4; i++) {
      const x = x0 + (x1 - x0) * i / 4;
      el('text', {x: X(x), y: H - m.b + 16, 'text-anchor': 'middle'}, String(Math.round(x)));
    }
    el('text', {x: W - m.r, y: H - 4, 'text-anchor': 'end'}, 'step');
    el('polyline', {points: points.map((p) => `${X(p[0])},${Y(p[1])}`).join(' '), fill: 'none',
                    stroke: '#2563eb', 'stroke-width': 1.5});
    if (points.length <= 60) for (const p of points) el('circle', {cx: X(p[0]), cy: Y(p[1]), r: 2.5, fill: '#2563eb'});
    const best = points.reduce((a, b) => (b[1] < a[1] ? b : a));
    el('text', {x: X(best[0]), y: Y(best[1]) + 5, 'text-anchor': 'middle', fill: '#b45309', 'font-size': 16,
                class: 'best'}, '★');
    // The label beside the star, below it near the top, left of it near the right edge.
    const nearTop = Y(best[1]) < m.t + 24, nearRight = X(best[0]) > W - m.r - 110;
    el('text', {x: nearRight ? X(best[0]) - 10 : X(best[0]) + 10, y: Y(best[1]) + (nearTop ? 18 : -8),
                'text-anchor': nearRight ? 'end' : 'start', fill: '#b45309'},
       `best ${+best[1].toPrecision(3)}${unit} at step ${best[0]}`);
  },
};
