/**
 * Small inline-SVG charts for the HTML report, with no dependencies and no
 * scripts: overlaid histograms with a target line, line charts of search
 * convergence, and the 16 × 32 success map of a chip's 512 neurons.
 *
 * @module
 */

/**
 * Escapes text for XML and HTML content and attributes.
 *
 * @example
 * ```ts
 * import { escapeXml } from "./svg.ts";
 * import assert from "node:assert/strict";
 * assert.equal(escapeXml('a<b & "c"'), "a&lt;b &amp; &quot;c&quot;");
 * ```
 */
export function escapeXml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => _ENTITIES[c]!);
}

const _ENTITIES: Readonly<Record<string, string>> = {
  "&": "&amp;",
  "<": "&lt;",
  ">": "&gt;",
  '"': "&quot;",
  "'": "&#39;",
};

/**
 * A number with about `digits` significant digits, without exponent noise
 * for everyday magnitudes.
 *
 * @example
 * ```ts
 * import { formatNumber } from "./svg.ts";
 * import assert from "node:assert/strict";
 * assert.equal(formatNumber(3.14159), "3.14");
 * assert.equal(formatNumber(null), "–");
 * ```
 */
export function formatNumber(value: number | null | undefined, digits = 3): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return "–";
  if (value === 0) return "0";
  const a = Math.abs(value);
  if (a >= 1e5 || a < 1e-3) return value.toExponential(digits - 1);
  return String(Number(value.toPrecision(digits)));
}

function _quantile(sorted: readonly number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.floor(q * (sorted.length - 1))))]!;
}

function _ticks(lo: number, hi: number, count = 5): number[] {
  const span = hi - lo;
  if (!(span > 0)) return [lo];
  const raw = span / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? raw;
  const out: number[] = [];
  for (let t = Math.ceil(lo / step) * step; t <= hi + 1e-9 * span; t += step) {
    out.push(Number(t.toPrecision(12)));
  }
  return out;
}

/** Tick marks below an x axis at `baseline`, labelled `labelOffset` px below it. */
function _xTickMarks(
  ticks: readonly number[],
  x: (v: number) => number,
  baseline: number,
  labelOffset: number,
): string[] {
  return ticks.flatMap((tick) => [
    `<line x1="${x(tick).toFixed(1)}" x2="${x(tick).toFixed(1)}" y1="${baseline}" y2="${
      baseline + 4
    }" stroke="#555"/>`,
    `<text x="${x(tick).toFixed(1)}" y="${baseline + labelOffset}" text-anchor="middle">${
      formatNumber(tick, 4)
    }</text>`,
  ]);
}

/**
 * The CSS every page lifcal writes starts with (`report.html`,
 * `convergence.html`): type, headings, tables, notes and the plot grid.
 *
 * @example
 * ```ts
 * import { PAGE_STYLE } from "./svg.ts";
 * import assert from "node:assert/strict";
 * assert.match(PAGE_STYLE, /table \{ border-collapse: collapse/);
 * ```
 */
export const PAGE_STYLE = `
body { font: 14px/1.45 system-ui, sans-serif; margin: 24px auto; max-width: 1150px; color: #222; padding: 0 12px; }
h1 { font-size: 24px; } h2 { font-size: 19px; margin-top: 34px; border-bottom: 1px solid #ddd; }
h3 { font-size: 15px; margin: 18px 0 4px; }
table { border-collapse: collapse; margin: 8px 0; } td, th { border: 1px solid #ddd; padding: 3px 8px; text-align: right; }
th { background: #f3f3f3; } td:first-child, th:first-child { text-align: left; }
.note { color: #555; max-width: 900px; } .grid { display: flex; flex-wrap: wrap; gap: 10px 18px; }
`;

/** One data set of a histogram. */
export interface HistogramSeries {
  /** Legend text. */
  readonly label: string;
  /** The values (non-finite ones are skipped and counted). */
  readonly values: readonly (number | null)[];
  /** Fill colour. */
  readonly color: string;
}

/**
 * Overlaid histograms on a common axis (0.5 %–99.5 % of all values; the
 * values outside are counted in the legend) with an optional target line.
 *
 * @example
 * ```ts
 * import { histogramSvg } from "./svg.ts";
 * import assert from "node:assert/strict";
 * const svg = histogramSvg({ series: [{ label: "after", values: [1, 2, 2, 3], color: "#36c" }],
 *   target: 2, unit: "CADC LSB" });
 * assert.match(svg, /^<svg/);
 * assert.match(svg, /target 2/);
 * ```
 */
export function histogramSvg(options: {
  readonly series: readonly HistogramSeries[];
  readonly target?: number | null;
  readonly unit: string;
  readonly width?: number;
  readonly height?: number;
  readonly bins?: number;
}): string {
  const w = options.width ?? 520;
  const h = options.height ?? 230;
  const bins = options.bins ?? 50;
  const m = { l: 44, r: 12, t: 12, b: 58 };
  const all = options.series.flatMap((s) =>
    s.values.filter((v): v is number => v !== null && Number.isFinite(v))
  ).sort((a, b) => a - b);
  if (all.length === 0) {
    return `<svg width="${w}" height="${h}" viewBox="0 0 ${w} ${h}" role="img"><text x="${
      w / 2
    }" y="${h / 2}" text-anchor="middle">no data</text></svg>`;
  }
  let lo = _quantile(all, 0.005);
  let hi = _quantile(all, 0.995);
  const t = options.target;
  if (t !== undefined && t !== null && Number.isFinite(t)) {
    lo = Math.min(lo, t);
    hi = Math.max(hi, t);
  }
  if (!(hi > lo)) {
    lo -= 0.5;
    hi += 0.5;
  }
  const pad = (hi - lo) * 0.02;
  lo -= pad;
  hi += pad;
  const width = (hi - lo) / bins;
  const counts = options.series.map((s) => {
    const c = new Array<number>(bins).fill(0);
    let outside = 0;
    let missing = 0;
    for (const v of s.values) {
      if (v === null || !Number.isFinite(v)) missing++;
      else if (v < lo || v > hi) outside++;
      else c[Math.min(bins - 1, Math.floor((v - lo) / width))]!++;
    }
    return { c, outside, missing };
  });
  const ymax = Math.max(1, ...counts.flatMap((x) => x.c));
  const pw = w - m.l - m.r;
  const ph = h - m.t - m.b;
  const x = (v: number) => m.l + ((v - lo) / (hi - lo)) * pw;
  const y = (n: number) => m.t + ph - (n / ymax) * ph;
  const parts: string[] = [
    `<svg width="${w}" height="${h}" viewBox="0 0 ${w} ${h}" role="img" font-size="11">`,
    `<rect x="${m.l}" y="${m.t}" width="${pw}" height="${ph}" fill="#fafafa" stroke="#ccc"/>`,
  ];
  options.series.forEach((s, k) => {
    const d = counts[k]!.c.map((n, i) =>
      `M${x(lo + i * width).toFixed(1)} ${y(0).toFixed(1)}V${y(n).toFixed(1)}H${
        x(lo + (i + 1) * width).toFixed(1)
      }V${y(0).toFixed(1)}Z`
    ).join("");
    parts.push(
      `<path d="${d}" fill="${s.color}" fill-opacity="0.55" stroke="${s.color}" stroke-width="0.5"/>`,
    );
  });
  parts.push(..._xTickMarks(_ticks(lo, hi), x, m.t + ph, 15));
  parts.push(
    `<text x="${m.l - 4}" y="${m.t + 9}" text-anchor="end">${ymax}</text>`,
    `<text x="${m.l - 4}" y="${m.t + ph}" text-anchor="end">0</text>`,
    `<text x="${m.l + pw / 2}" y="${m.t + ph + 28}" text-anchor="middle">${
      escapeXml(options.unit)
    } (neurons per bin)</text>`,
  );
  if (t !== undefined && t !== null && Number.isFinite(t)) {
    parts.push(
      `<line x1="${x(t).toFixed(1)}" x2="${x(t).toFixed(1)}" y1="${m.t}" y2="${
        m.t + ph
      }" stroke="#d22" stroke-width="2" stroke-dasharray="5 3"/>`,
      `<text x="${(x(t) + 4).toFixed(1)}" y="${m.t + 11}" fill="#d22">target ${
        formatNumber(t, 4)
      }</text>`,
    );
  }
  let lx = m.l;
  options.series.forEach((s, k) => {
    const { outside, missing } = counts[k]!;
    const note = [outside ? `${outside} off scale` : "", missing ? `${missing} not measurable` : ""]
      .filter((n) => n).join(", ");
    const label = `${s.label}${note ? ` (${note})` : ""}`;
    parts.push(
      `<rect x="${lx}" y="${
        h - 16
      }" width="10" height="10" fill="${s.color}" fill-opacity="0.55"/>`,
      `<text x="${lx + 14}" y="${h - 7}">${escapeXml(label)}</text>`,
    );
    lx += 24 + label.length * 6;
  });
  parts.push("</svg>");
  return parts.join("");
}

/** One line of a line chart. */
export interface LineSeries {
  /** Legend text. */
  readonly label: string;
  /** Y values at x = 1, 2, …; null leaves a gap. */
  readonly points: readonly (number | null)[];
  /** Stroke colour. */
  readonly color: string;
}

/**
 * A line chart with a logarithmic y axis (values below `floor` are drawn at
 * `floor`), x = 1, 2, … (search steps).
 *
 * @example
 * ```ts
 * import { lineChartSvg } from "./svg.ts";
 * import assert from "node:assert/strict";
 * const svg = lineChartSvg({ lines: [{ label: "#1", points: [40, 10, 2, 0.5], color: "#36c" }],
 *   title: "v_leak", yLabel: "median |error| (CADC LSB)" });
 * assert.match(svg, /<polyline/);
 * ```
 */
export function lineChartSvg(options: {
  readonly lines: readonly LineSeries[];
  readonly title: string;
  readonly yLabel: string;
  readonly floor?: number;
  readonly width?: number;
  readonly height?: number;
}): string {
  const w = options.width ?? 380;
  const h = options.height ?? 220;
  const m = { l: 48, r: 10, t: 22, b: 34 };
  const floor = options.floor ?? 0.01;
  const values = options.lines.flatMap((l) =>
    l.points.filter((v): v is number => v !== null && Number.isFinite(v))
  );
  const steps = Math.max(2, ...options.lines.map((l) => l.points.length));
  const ylo = Math.floor(Math.log10(Math.max(floor, Math.min(floor * 10, ...values))));
  const yhi = Math.max(ylo + 1, Math.ceil(Math.log10(Math.max(floor * 10, ...values))));
  const pw = w - m.l - m.r;
  const ph = h - m.t - m.b;
  const x = (i: number) => m.l + (i / (steps - 1)) * pw;
  const y = (v: number) => m.t + ph - ((Math.log10(Math.max(floor, v)) - ylo) / (yhi - ylo)) * ph;
  const parts: string[] = [
    `<svg width="${w}" height="${h}" viewBox="0 0 ${w} ${h}" role="img" font-size="10">`,
    `<text x="${m.l}" y="14" font-size="12" font-weight="bold">${escapeXml(options.title)}</text>`,
    `<rect x="${m.l}" y="${m.t}" width="${pw}" height="${ph}" fill="#fafafa" stroke="#ccc"/>`,
  ];
  for (let e = ylo; e <= yhi; e++) {
    parts.push(
      `<line x1="${m.l}" x2="${m.l + pw}" y1="${y(10 ** e).toFixed(1)}" y2="${
        y(10 ** e).toFixed(1)
      }" stroke="#e4e4e4"/>`,
      `<text x="${m.l - 3}" y="${(y(10 ** e) + 3).toFixed(1)}" text-anchor="end">${
        formatNumber(10 ** e)
      }</text>`,
    );
  }
  for (const tick of _ticks(1, steps, Math.min(steps - 1, 8))) {
    if (!Number.isInteger(tick)) continue;
    parts.push(
      `<text x="${x(tick - 1).toFixed(1)}" y="${
        m.t + ph + 12
      }" text-anchor="middle">${tick}</text>`,
    );
  }
  parts.push(
    `<text x="${m.l + pw / 2}" y="${h - 8}" text-anchor="middle">step · ${
      escapeXml(options.yLabel)
    }</text>`,
  );
  for (const line of options.lines) {
    let segment: string[] = [];
    const flush = () => {
      if (segment.length > 1) {
        parts.push(
          `<polyline points="${
            segment.join(" ")
          }" fill="none" stroke="${line.color}" stroke-width="1.5"><title>${
            escapeXml(line.label)
          }</title></polyline>`,
        );
      } else if (segment.length === 1) {
        const [px, py] = segment[0]!.split(",");
        parts.push(`<circle cx="${px}" cy="${py}" r="2" fill="${line.color}"/>`);
      }
      segment = [];
    };
    line.points.forEach((v, i) => {
      if (v === null || !Number.isFinite(v)) flush();
      else segment.push(`${x(i).toFixed(1)},${y(v).toFixed(1)}`);
    });
    flush();
  }
  parts.push("</svg>");
  return parts.join("");
}

/**
 * A chip's 512 neurons as a 16 × 32 grid (neuron n in row ⌊n/32⌋, column
 * n mod 32): green where the calibration succeeded, red where it failed.
 * Only failures are drawn over a green ground, so the map stays small.
 *
 * @example
 * ```ts
 * import { successMapSvg } from "./svg.ts";
 * import assert from "node:assert/strict";
 * const ok = new Array(512).fill(true);
 * ok[33] = false;
 * assert.equal(successMapSvg(ok).match(/fill="#d33"/g)!.length, 1);
 * ```
 */
export function successMapSvg(success: readonly boolean[], cell = 7): string {
  const cols = 32;
  const rows = Math.ceil(success.length / cols);
  const w = cols * cell;
  const h = rows * cell;
  const parts = [
    `<svg width="${w}" height="${h}" viewBox="0 0 ${w} ${h}" role="img">`,
    `<rect width="${w}" height="${h}" fill="#3a3"/>`,
  ];
  success.forEach((ok, n) => {
    if (!ok) {
      parts.push(
        `<rect x="${(n % cols) * cell}" y="${
          Math.floor(n / cols) * cell
        }" width="${cell}" height="${cell}" fill="#d33"><title>neuron ${n}</title></rect>`,
      );
    }
  });
  let grid = "";
  for (let c = 1; c < cols; c++) grid += `M${c * cell} 0V${h}`;
  for (let r = 1; r < rows; r++) grid += `M0 ${r * cell}H${w}`;
  parts.push(`<path d="${grid}" stroke="#fff" stroke-opacity="0.35" stroke-width="0.5"/>`);
  parts.push("</svg>");
  return parts.join("");
}

/** One line of an {@linkcode xyChartSvg}. */
export interface XySeries {
  /** Legend text. */
  readonly label: string;
  /** The points (x, y); a null or non-finite y leaves a gap. */
  readonly points: readonly (readonly [number, number | null])[];
  /** Stroke colour. */
  readonly color: string;
  /** Draw the line dashed. */
  readonly dashed?: boolean;
  /** An extra point drawn as an open circle (e.g. where a search settled). */
  readonly marker?: readonly [number, number | null] | undefined;
}

/**
 * A line chart of (x, y) points with a logarithmic y axis (values below
 * `floor` are drawn at `floor`), a linear x axis from 0, axis labels and a
 * legend below.
 *
 * @example
 * ```ts
 * import { xyChartSvg } from "./svg.ts";
 * import assert from "node:assert/strict";
 * const svg = xyChartSvg({ title: "leak", xLabel: "measurements", yLabel: "CADC LSB",
 *   lines: [{ label: "binary", color: "#36c", points: [[1, 40], [2, 9], [3, 0.7]] },
 *     { label: "binary p90", color: "#36c", dashed: true, points: [[1, 60], [2, 20], [3, 1.5]] }] });
 * assert.match(svg, /<polyline/);
 * assert.match(svg, /stroke-dasharray/);
 * assert.match(svg, />measurements</);
 * ```
 */
export function xyChartSvg(options: {
  readonly lines: readonly XySeries[];
  readonly title: string;
  readonly xLabel: string;
  readonly yLabel: string;
  readonly floor?: number;
  readonly width?: number;
  readonly height?: number;
}): string {
  const w = options.width ?? 440;
  const legendRows = Math.ceil(options.lines.length / 2);
  const h = (options.height ?? 250) + 14 * legendRows;
  const m = { l: 56, r: 14, t: 22, b: 38 + 14 * legendRows };
  const floor = options.floor ?? 1e-3;
  const finite = (v: number | null | undefined): v is number =>
    v !== null && v !== undefined && Number.isFinite(v);
  const all = options.lines.flatMap((l) => [...l.points, ...(l.marker ? [l.marker] : [])]);
  const ys = all.map((p) => p[1]).filter(finite);
  const xs = all.filter((p) => finite(p[1])).map((p) => p[0]).filter(finite);
  const xhi = Math.max(1e-12, ...xs);
  const ylo = Math.floor(Math.log10(Math.max(floor, Math.min(...ys, floor * 10))));
  const yhi = Math.max(ylo + 1, Math.ceil(Math.log10(Math.max(floor * 10, ...ys))));
  const pw = w - m.l - m.r;
  const ph = h - m.t - m.b;
  const x = (v: number) => m.l + (v / xhi) * pw;
  const y = (v: number) => m.t + ph - ((Math.log10(Math.max(floor, v)) - ylo) / (yhi - ylo)) * ph;
  const parts: string[] = [
    `<svg width="${w}" height="${h}" viewBox="0 0 ${w} ${h}" role="img" font-size="10">`,
    `<text x="${m.l}" y="14" font-size="12" font-weight="bold">${escapeXml(options.title)}</text>`,
    `<rect x="${m.l}" y="${m.t}" width="${pw}" height="${ph}" fill="#fafafa" stroke="#ccc"/>`,
  ];
  for (let e = ylo; e <= yhi; e++) {
    const yy = y(10 ** e).toFixed(1);
    parts.push(
      `<line x1="${m.l}" x2="${m.l + pw}" y1="${yy}" y2="${yy}" stroke="#e4e4e4"/>`,
      `<text x="${m.l - 3}" y="${(Number(yy) + 3).toFixed(1)}" text-anchor="end">${
        formatNumber(10 ** e)
      }</text>`,
    );
  }
  parts.push(..._xTickMarks(_ticks(0, xhi, 6), x, m.t + ph, 14));
  parts.push(
    `<text x="${m.l + pw / 2}" y="${m.t + ph + 28}" text-anchor="middle">${
      escapeXml(options.xLabel)
    }</text>`,
    `<text transform="translate(12 ${m.t + ph / 2}) rotate(-90)" text-anchor="middle">${
      escapeXml(options.yLabel)
    }</text>`,
  );
  for (const line of options.lines) {
    const dash = line.dashed ? ' stroke-dasharray="5 3"' : "";
    let segment: string[] = [];
    const flush = () => {
      if (segment.length > 1) {
        parts.push(
          `<polyline points="${
            segment.join(" ")
          }" fill="none" stroke="${line.color}" stroke-width="1.6"${dash}><title>${
            escapeXml(line.label)
          }</title></polyline>`,
        );
      } else if (segment.length === 1) {
        const [px, py] = segment[0]!.split(",");
        parts.push(`<circle cx="${px}" cy="${py}" r="2" fill="${line.color}"/>`);
      }
      segment = [];
    };
    for (const [px, py] of line.points) {
      if (!finite(py) || !finite(px)) flush();
      else segment.push(`${x(px).toFixed(1)},${y(py).toFixed(1)}`);
    }
    flush();
    if (line.marker && finite(line.marker[1])) {
      parts.push(
        `<circle cx="${x(line.marker[0]).toFixed(1)}" cy="${
          y(line.marker[1]).toFixed(1)
        }" r="3.5" fill="none" stroke="${line.color}" stroke-width="1.5"><title>${
          escapeXml(`${line.label}: result ${formatNumber(line.marker[1])}`)
        }</title></circle>`,
      );
    }
  }
  options.lines.forEach((line, k) => {
    const lx = m.l + (k % 2) * (pw / 2);
    const ly = m.t + ph + 42 + 14 * Math.floor(k / 2);
    parts.push(
      `<line x1="${lx}" x2="${lx + 22}" y1="${ly - 3}" y2="${
        ly - 3
      }" stroke="${line.color}" stroke-width="1.6"${
        line.dashed ? ' stroke-dasharray="5 3"' : ""
      }/>`,
      `<text x="${lx + 26}" y="${ly}">${escapeXml(line.label)}</text>`,
    );
  });
  parts.push("</svg>");
  return parts.join("");
}
