/**
 * Inline SVG line charts for the HTML report: no scripts, no external assets. Each series is
 * one `<path class="line" data-series=... data-points=N>` (broken at non-finite values, reduced
 * to a min/max envelope per pixel column when there are more points than pixels).
 *
 * @module
 */

/** One line: `[x, y]` points in x order; `y = null` (or non-finite) breaks the line. */
export interface Series {
  /** Legend name (a metric key). */
  name: string;
  /** The points. */
  points: [x: number, y: number | null][];
}

/** Options of {@link lineChart}. */
export interface ChartOptions {
  /** Title above the chart. */
  title: string;
  /** Width in px; default 640. */
  width?: number;
  /** Height in px; default 220. */
  height?: number;
  /** Label of the x axis; default "step". */
  xLabel?: string;
}

/** The line colours, in order (colour-blind friendly). */
export const PALETTE: readonly string[] = [
  "#1f77b4",
  "#d62728",
  "#2ca02c",
  "#ff7f0e",
  "#9467bd",
  "#8c564b",
  "#e377c2",
  "#17becf",
  "#7f7f7f",
  "#bcbd22",
];

/** Escapes text for HTML/SVG content and attribute values. */
export function escapeHtml(s: string): string {
  return s.replace(
    /[&<>"']/g,
    (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]!,
  );
}

/** About `count` round tick values covering [min, max]. */
export function niceTicks(min: number, max: number, count = 5): number[] {
  if (!(max > min)) return [min];
  const raw = (max - min) / Math.max(1, count);
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag;
  const out: number[] = [];
  for (let v = Math.ceil(min / step) * step; v <= max + step * 1e-9; v += step) {
    out.push(Math.abs(v) < step * 1e-9 ? 0 : v);
  }
  return out;
}

/** Formats a tick or value label compactly (`0.0001` as `1e-4`, `12000` as `12k`). */
export function formatNumber(v: number): string {
  if (v === 0) return "0";
  const a = Math.abs(v);
  if (a >= 1e6) return `${+(v / 1e6).toPrecision(3)}M`;
  if (a >= 1e4) return `${+(v / 1e3).toPrecision(3)}k`;
  if (a < 1e-2) return v.toExponential(1).replace(".0e", "e");
  return String(+v.toPrecision(3));
}

const fin = (y: number | null): y is number => y !== null && Number.isFinite(y);

/** Splits a series at its non-finite points into runs of finite points. */
function segments(points: [number, number | null][]): [number, number][][] {
  const out: [number, number][][] = [];
  let cur: [number, number][] = [];
  for (const [x, y] of points) {
    if (fin(y) && Number.isFinite(x)) cur.push([x, y]);
    else if (cur.length) {
      out.push(cur);
      cur = [];
    }
  }
  if (cur.length) out.push(cur);
  return out;
}

/** Keeps the first, min, max and last point of each pixel column, in x order. */
function envelope(seg: [number, number][], toPx: (x: number) => number): [number, number][] {
  const out: [number, number][] = [];
  let i = 0;
  while (i < seg.length) {
    const col = Math.floor(toPx(seg[i][0]));
    let j = i, lo = i, hi = i;
    while (j < seg.length && Math.floor(toPx(seg[j][0])) === col) {
      if (seg[j][1] < seg[lo][1]) lo = j;
      if (seg[j][1] > seg[hi][1]) hi = j;
      j++;
    }
    for (const k of [...new Set([i, lo, hi, j - 1])].sort((a, b) => a - b)) out.push(seg[k]);
    i = j;
  }
  return out;
}

/**
 * Renders a `<figure>` with an inline SVG line chart of `series` and an HTML legend. Returns a
 * note instead of an SVG when no series has a finite point.
 */
export function lineChart(series: Series[], opts: ChartOptions): string {
  const W = opts.width ?? 640, H = opts.height ?? 220;
  const m = { l: 56, r: 12, t: 10, b: 34 };
  const pw = W - m.l - m.r, ph = H - m.t - m.b;
  const title = `<figcaption>${escapeHtml(opts.title)}</figcaption>`;
  const all = series.flatMap((s) => s.points.filter(([x, y]) => fin(y) && Number.isFinite(x)));
  if (!all.length) {
    return `<figure class="chart">${title}<p class="empty">no finite values</p></figure>`;
  }
  let x0 = Infinity, x1 = -Infinity, y0 = Infinity, y1 = -Infinity;
  for (const [x, y] of all) {
    x0 = Math.min(x0, x);
    x1 = Math.max(x1, x);
    y0 = Math.min(y0, y as number);
    y1 = Math.max(y1, y as number);
  }
  if (x1 === x0) [x0, x1] = [x0 - 1, x1 + 1];
  if (y1 === y0) {
    const d = Math.abs(y0) * 0.1 || 1;
    [y0, y1] = [y0 - d, y1 + d];
  } else {
    const d = (y1 - y0) * 0.05;
    [y0, y1] = [y0 - d, y1 + d];
  }
  const px = (x: number) => m.l + ((x - x0) / (x1 - x0)) * pw;
  const py = (y: number) => m.t + (1 - (y - y0) / (y1 - y0)) * ph;
  const r = (v: number) => String(Math.round(v * 10) / 10);
  const parts: string[] = [];
  parts.push(`<rect x="${m.l}" y="${m.t}" width="${pw}" height="${ph}" class="plot"/>`);
  for (const t of niceTicks(y0, y1, 4)) {
    const y = r(py(t));
    parts.push(
      `<line class="grid" x1="${m.l}" x2="${m.l + pw}" y1="${y}" y2="${y}"/>`,
      `<text class="tick" x="${m.l - 6}" y="${y}" text-anchor="end" dominant-baseline="middle">${
        formatNumber(t)
      }</text>`,
    );
  }
  for (const t of niceTicks(x0, x1, 6)) {
    const x = r(px(t));
    parts.push(
      `<line class="grid" x1="${x}" x2="${x}" y1="${m.t}" y2="${m.t + ph}"/>`,
      `<text class="tick" x="${x}" y="${m.t + ph + 14}" text-anchor="middle">${
        formatNumber(t)
      }</text>`,
    );
  }
  parts.push(
    `<text class="axis" x="${m.l + pw / 2}" y="${H - 4}" text-anchor="middle">${
      escapeHtml(opts.xLabel ?? "step")
    }</text>`,
  );
  const legend: string[] = [];
  series.forEach((s, i) => {
    const color = PALETTE[i % PALETTE.length];
    const segs = segments(s.points);
    const n = segs.reduce((a, g) => a + g.length, 0);
    const bad = s.points.filter(([, y]) => !fin(y)).length;
    const d: string[] = [];
    for (const seg of segs) {
      const pts = seg.length > pw * 2 ? envelope(seg, px) : seg;
      pts.forEach(([x, y], k) => d.push(`${k ? "L" : "M"}${r(px(x))} ${r(py(y))}`));
      if (seg.length === 1) {
        parts.push(
          `<circle class="dot" cx="${r(px(seg[0][0]))}" cy="${
            r(py(seg[0][1]))
          }" r="2.5" fill="${color}"/>`,
        );
      }
    }
    const name = escapeHtml(s.name);
    parts.push(
      `<path class="line" data-series="${name}" data-points="${n}" stroke="${color}" d="${
        d.join("")
      }"><title>${name}</title></path>`,
    );
    const last = segs.at(-1)?.at(-1);
    legend.push(
      `<li><span class="swatch" style="background:${color}"></span>${name}${
        last ? ` <span class="last">${formatNumber(last[1])}</span>` : ""
      }${bad ? ` <span class="bad">(${bad} non-finite)</span>` : ""}</li>`,
    );
  });
  return `<figure class="chart">${title}<svg viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" ` +
    `role="img" aria-label="${escapeHtml(opts.title)}">${parts.join("")}</svg>` +
    `<ul class="legend">${legend.join("")}</ul></figure>`;
}
