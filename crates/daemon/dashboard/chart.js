// A small SVG line chart of her stress and energy over her last cycles (from
// GET /api/persona/{id}/regulation). Built with createElementNS, never from markup.

const NS = 'http://www.w3.org/2000/svg';
const W = 600;
const H = 160;
const PAD = { left: 44, right: 8, top: 10, bottom: 22 };

function svg(tag, attrs = {}, ...children) {
  const el = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v);
  for (const c of children) el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return el;
}

/** Coordinates of one series, 0..1 on the y axis, evenly spaced by cycle order. */
function coords(values) {
  const n = values.length;
  const x = (i) => PAD.left + (n === 1 ? (W - PAD.left - PAD.right) / 2 : (i * (W - PAD.left - PAD.right)) / (n - 1));
  const y = (v) => PAD.top + (1 - Math.max(0, Math.min(1, Number(v) || 0))) * (H - PAD.top - PAD.bottom);
  return values.map((v, i) => [x(i).toFixed(1), y(v).toFixed(1)]);
}

/** A series as a line, with a dot on its latest point (a single cycle is a dot alone). */
function series(values, kind) {
  const points = coords(values);
  const [cx, cy] = points[points.length - 1];
  return [svg('polyline', { points: points.map((p) => p.join(',')).join(' '), class: kind }),
    svg('circle', { cx, cy, r: 3.5, class: kind })];
}

/**
 * The chart for `cycles` ([{cycle, at, stress, level, energy}], oldest first), with a legend
 * and a text summary for screen readers. Stress is the stress-response mode's strength.
 */
export function regulationChart(cycles) {
  const first = cycles[0];
  const last = cycles[cycles.length - 1];
  const label = `Stress and energy over her last ${cycles.length} cycles: stress ${Math.round(last.stress * 100)}%, ` +
    `energy ${Math.round(last.energy * 100)}% now.`;
  const chart = svg('svg', { viewBox: `0 0 ${W} ${H}`, class: 'regulation-chart', role: 'img', 'aria-label': label });
  for (const v of [0, 0.5, 1]) {
    const y = PAD.top + (1 - v) * (H - PAD.top - PAD.bottom);
    chart.append(svg('line', { x1: PAD.left, x2: W - PAD.right, y1: y, y2: y, class: 'grid' }),
      svg('text', { x: PAD.left - 6, y: y + 4, 'text-anchor': 'end', class: 'axis' }, `${v * 100}%`));
  }
  chart.append(
    ...series(cycles.map((c) => c.energy), 'energy'),
    ...series(cycles.map((c) => c.stress), 'stress'),
    svg('text', { x: PAD.left, y: H - 4, class: 'axis' }, `cycle ${first.cycle}`),
    svg('text', { x: W - PAD.right, y: H - 4, 'text-anchor': 'end', class: 'axis' }, `cycle ${last.cycle}`),
  );
  return chart;
}
