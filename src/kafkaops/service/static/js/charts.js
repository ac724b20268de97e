// Time-series charts on the vendored uPlot (static/vendor/uplot, loaded as a classic script).
// Time axes are in UTC, like every other timestamp on the page.

const PALETTE = ['#38bdf8', '#f472b6', '#a3e635', '#fbbf24', '#c084fc', '#2dd4bf', '#fb923c',
  '#e2e8f0'];
const AXIS = { stroke: '#c7d2e3', grid: { stroke: '#26324d', width: 1 },
  ticks: { stroke: '#26324d', width: 1 } };

/** Align several [[tsSeconds, value], ...] series on the union of their timestamps. */
export function alignSeries(series) {
  const stamps = new Set();
  for (const s of series) for (const [t] of s.points) stamps.add(t);
  const xs = [...stamps].sort((a, b) => a - b);
  const index = new Map(xs.map((t, i) => [t, i]));
  const ys = series.map((s) => {
    const col = new Array(xs.length).fill(null);
    for (const [t, v] of s.points) col[index.get(t)] = v;
    return col;
  });
  return [xs, ...ys];
}

const pad = (n) => String(n).padStart(2, '0');

/** Time-axis labels in UTC, 24-hour: "19:40" ("19:40:15" when zoomed in), with the date under the first and at midnight. */
function utcTicks(u, splits) {
  let lastDay = null;
  const step = splits.length > 1 ? splits[1] - splits[0] : 3600;
  return splits.map((v) => {
    if (v === null || v === undefined) return '';
    const d = new Date(v * 1000);
    const day = `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}`;
    const hm = `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}` +
      (step < 60 ? `:${pad(d.getUTCSeconds())}` : '');
    const out = day !== lastDay ? `${hm}\n${day}` : hm;
    lastDay = day;
    return out;
  });
}

function utcStamp(v) {
  if (v === null || v === undefined) return '—';
  const d = new Date(v * 1000);
  return `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())} ` +
    `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}`;
}

export class TimeChart {
  /**
   * @param {HTMLElement} el
   * @param {{height?: number, yFormat?: (v:number)=>string, empty?: string}} opts
   */
  constructor(el, opts = {}) {
    this.el = el;
    this.height = opts.height || 170;
    this.yFormat = opts.yFormat || ((v) => String(v));
    this.emptyText = opts.empty || 'no history yet';
    /** Fixed top of the y axis (100 for percentages); null: fit the data. */
    this.yMax = opts.yMax ?? null;
    this.plot = null;
    this.signature = '';
    this.resizeObserver = new ResizeObserver(() => {
      if (this.plot) this.plot.setSize({ width: this.width(), height: this.height });
    });
    this.resizeObserver.observe(el);
  }

  width() { return Math.max(200, this.el.clientWidth || 400); }

  showEmpty(text) {
    if (this.plot) { this.plot.destroy(); this.plot = null; }
    this.signature = '';
    this.el.replaceChildren();
    const div = document.createElement('div');
    div.className = 'chart-empty';
    div.textContent = text || this.emptyText;
    this.el.append(div);
  }

  /**
   * @param {{label: string, points: [number, number|null][], dash?: boolean, color?: string}[]} series
   * x in epoch seconds.
   */
  update(series) {
    const uPlot = globalThis.uPlot;
    if (!uPlot) { this.showEmpty('chart library not loaded'); return; }
    const real = series.filter((s) => !s.dash);
    if (!real.length || real.every((s) => s.points.length === 0)) { this.showEmpty(); return; }
    const data = alignSeries(series);
    const signature = series.map((s) => `${s.label}|${s.dash ? 1 : 0}`).join('\n');
    if (this.plot && signature === this.signature) {
      this.plot.setData(data);
      return;
    }
    if (this.plot) this.plot.destroy();
    this.el.replaceChildren();
    this.signature = signature;
    const yFormat = this.yFormat;
    let colour = 0;
    const opts = {
      width: this.width(),
      height: this.height,
      cursor: { drag: { x: false, y: false } },
      legend: { live: true },
      scales: {
        x: { time: true },
        y: { range: (u, min, max) => [0, this.yMax ?? Math.max(max * 1.1, 1)] },
      },
      axes: [
        { ...AXIS, values: utcTicks, space: 70 },
        { ...AXIS, size: 64, values: (u, splits) => splits.map((v) => yFormat(v)) },
      ],
      series: [
        { label: 'time (UTC)', value: (u, v) => utcStamp(v) },
        ...series.map((s) => {
          const stroke = s.color || (s.dash ? '#f87171' : PALETTE[colour++ % PALETTE.length]);
          return {
            label: s.label,
            stroke,
            width: s.dash ? 1 : 2,
            dash: s.dash ? [6, 4] : undefined,
            points: { show: false },
            spanGaps: true,
            value: (u, v) => (v == null ? '—' : yFormat(v)),
          };
        }),
      ],
    };
    this.plot = new uPlot(opts, data, this.el);
  }
}
