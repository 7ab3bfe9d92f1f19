/**
 * Two small chart helpers that return inline SVG markup, so a model card is one file with no
 * scripts, fonts or images to fetch. Every text that reaches the markup goes through `escapeXml`.
 */

export const PALETTE = ['#1b6ca8', '#d1495b', '#3a7d44', '#edae49', '#6c4f8a', '#00798c'];

export function escapeXml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');
}

/** Round numbers (1, 2 or 5 times a power of ten) spanning [min, max]. */
export function niceTicks(min: number, max: number, count = 5): number[] {
  if (!Number.isFinite(min) || !Number.isFinite(max)) return [];
  if (min === max) return [min];
  const rough = (max - min) / Math.max(1, count);
  const power = 10 ** Math.floor(Math.log10(rough));
  const step = [1, 2, 5, 10].map((m) => m * power).find((s) => s >= rough) ?? 10 * power;
  const ticks: number[] = [];
  for (let t = Math.ceil(min / step) * step; t <= max + step * 1e-9; t += step) ticks.push(Number(t.toPrecision(12)));
  return ticks;
}

export function formatNumber(value: number): string {
  if (!Number.isFinite(value)) return String(value);
  if (Number.isInteger(value)) return value.toLocaleString('en-GB');
  const abs = Math.abs(value);
  if (abs >= 100) return value.toFixed(0);
  if (abs >= 1) return value.toFixed(2);
  if (abs >= 0.001) return value.toFixed(3);
  return value.toExponential(2);
}

type Point = [number, number];

export interface LineSeries {
  label: string;
  points: Point[];
  dashed?: boolean;
  /** Draw a dot at each point: for few, discrete points such as k = 1, 5, 10. */
  markers?: boolean;
}

export interface LineChartOptions {
  title: string;
  xLabel: string;
  yLabel: string;
  series: LineSeries[];
  /** A shaded range, e.g. a forecast interval. */
  band?: { label: string; lower: Point[]; upper: Point[] };
  /** Fixed axes, e.g. [0, 1] for rates; otherwise fitted to the data. */
  xDomain?: [number, number];
  yDomain?: [number, number];
  /** Names for x = 0, 1, 2, ... (e.g. week starts); shown instead of numeric ticks. */
  xCategories?: string[];
  width?: number;
  height?: number;
}

const MARGIN = { top: 34, right: 16, bottom: 48, left: 56 };
const LEGEND_LINE = 15;

interface Frame {
  x: (v: number) => number;
  y: (v: number) => number;
  innerWidth: number;
  innerHeight: number;
}

function domainOf(values: number[], fixed: [number, number] | undefined, padZero: boolean): [number, number] {
  if (fixed) return fixed;
  let min = Math.min(...values);
  let max = Math.max(...values);
  if (!Number.isFinite(min) || !Number.isFinite(max)) return [0, 1];
  if (padZero) min = Math.min(0, min);
  if (min === max) {
    min -= 1;
    max += 1;
  }
  return [min, max];
}

function svgOpen(title: string, width: number, height: number): string {
  return (
    `<svg viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" role="img" aria-label="${escapeXml(title)}" font-family="system-ui, sans-serif" font-size="11">` +
    `<title>${escapeXml(title)}</title>` +
    `<text x="${width / 2}" y="18" text-anchor="middle" font-size="13" font-weight="600">${escapeXml(title)}</text>`
  );
}

function legend(items: { label: string; color: string; dashed?: boolean; area?: boolean }[], x: number, y: number): string {
  return items
    .map((item, i) => {
      const top = y + i * LEGEND_LINE;
      const swatch = item.area
        ? `<rect x="${x}" y="${top - 6}" width="18" height="10" fill="${item.color}" fill-opacity="0.2"/>`
        : `<line x1="${x}" y1="${top}" x2="${x + 18}" y2="${top}" stroke="${item.color}" stroke-width="2"${item.dashed ? ' stroke-dasharray="4 3"' : ''}/>`;
      return `${swatch}<text x="${x + 23}" y="${top + 4}">${escapeXml(item.label)}</text>`;
    })
    .join('');
}

function axes(frame: Frame, xTicks: { value: number; label: string }[], yTicks: number[], xLabel: string, yLabel: string, height: number): string {
  const bottom = MARGIN.top + frame.innerHeight;
  const parts: string[] = [];
  // Grid lines first, so the axes and the data are drawn over them.
  for (const tick of yTicks) {
    const y = frame.y(tick).toFixed(1);
    parts.push(`<line x1="${MARGIN.left}" y1="${y}" x2="${MARGIN.left + frame.innerWidth}" y2="${y}" stroke="#e3e3e3"/>`);
    parts.push(`<text x="${MARGIN.left - 6}" y="${y}" text-anchor="end" dominant-baseline="middle">${escapeXml(formatNumber(tick))}</text>`);
  }
  parts.push(
    `<line x1="${MARGIN.left}" y1="${bottom}" x2="${MARGIN.left + frame.innerWidth}" y2="${bottom}" stroke="#444"/>`,
    `<line x1="${MARGIN.left}" y1="${MARGIN.top}" x2="${MARGIN.left}" y2="${bottom}" stroke="#444"/>`,
  );
  for (const tick of xTicks) {
    const x = frame.x(tick.value).toFixed(1);
    parts.push(`<line x1="${x}" y1="${bottom}" x2="${x}" y2="${bottom + 4}" stroke="#444"/>`);
    parts.push(`<text x="${x}" y="${bottom + 16}" text-anchor="middle">${escapeXml(tick.label)}</text>`);
  }
  parts.push(`<text x="${MARGIN.left + frame.innerWidth / 2}" y="${height - 8}" text-anchor="middle">${escapeXml(xLabel)}</text>`);
  parts.push(`<text transform="translate(14 ${MARGIN.top + frame.innerHeight / 2}) rotate(-90)" text-anchor="middle">${escapeXml(yLabel)}</text>`);
  return parts.join('');
}

function path(points: Point[], frame: Frame): string {
  return points.map(([x, y], i) => `${i === 0 ? 'M' : 'L'}${frame.x(x).toFixed(1)},${frame.y(y).toFixed(1)}`).join(' ');
}

export function lineChart(options: LineChartOptions): string {
  const { title, xLabel, yLabel, series, band, xCategories, width = 420, height = 280 } = options;
  const all = [...series.flatMap((s) => s.points), ...(band ? [...band.lower, ...band.upper] : [])];
  const xDomain = domainOf(all.map((p) => p[0]), options.xDomain, false);
  const yDomain = domainOf(all.map((p) => p[1]), options.yDomain, true);
  const innerWidth = width - MARGIN.left - MARGIN.right;
  const innerHeight = height - MARGIN.top - MARGIN.bottom;
  const frame: Frame = {
    innerWidth,
    innerHeight,
    x: (v) => MARGIN.left + ((v - xDomain[0]) / (xDomain[1] - xDomain[0])) * innerWidth,
    y: (v) => MARGIN.top + innerHeight - ((v - yDomain[0]) / (yDomain[1] - yDomain[0])) * innerHeight,
  };
  const xTicks = xCategories
    ? xCategories.map((label, i) => ({ value: i, label })).filter((_, i, list) => i % Math.ceil(list.length / 6) === 0)
    : niceTicks(xDomain[0], xDomain[1]).map((value) => ({ value, label: formatNumber(value) }));

  const legendItems: { label: string; color: string; dashed?: boolean; area?: boolean }[] = [];
  const parts = [axes(frame, xTicks, niceTicks(yDomain[0], yDomain[1]), xLabel, yLabel, height)];
  if (band && band.lower.length > 0) {
    const outline = [...band.upper, ...[...band.lower].reverse()];
    parts.push(`<path d="${path(outline, frame)} Z" fill="${PALETTE[0]}" fill-opacity="0.2" stroke="none"/>`);
    legendItems.push({ label: band.label, color: PALETTE[0]!, area: true });
  }
  series.forEach((s, i) => {
    const color = PALETTE[i % PALETTE.length]!;
    if (s.points.length > 0) {
      parts.push(`<path d="${path(s.points, frame)}" fill="none" stroke="${color}" stroke-width="2"${s.dashed ? ' stroke-dasharray="4 3"' : ''}/>`);
    }
    if (s.markers) {
      for (const [x, y] of s.points) parts.push(`<circle cx="${frame.x(x).toFixed(1)}" cy="${frame.y(y).toFixed(1)}" r="3" fill="${color}"/>`);
    }
    legendItems.push({ label: s.label, color, dashed: s.dashed });
  });
  // The legend goes below the plot, where it cannot hide a curve.
  const legendHeight = legendItems.length * LEGEND_LINE + 6;
  return [svgOpen(title, width, height + legendHeight), ...parts, legend(legendItems, MARGIN.left, height + 8), '</svg>'].join('');
}

export interface BarChartOptions {
  title: string;
  yLabel: string;
  categories: string[];
  values: number[];
  width?: number;
  height?: number;
}

export function barChart(options: BarChartOptions): string {
  const { title, yLabel, categories, values, width = 420, height = 260 } = options;
  const yDomain = domainOf(values, undefined, true);
  const innerWidth = width - MARGIN.left - MARGIN.right;
  const innerHeight = height - MARGIN.top - MARGIN.bottom;
  const slot = innerWidth / Math.max(1, categories.length);
  const frame: Frame = {
    innerWidth,
    innerHeight,
    x: (i) => MARGIN.left + slot * (i + 0.5),
    y: (v) => MARGIN.top + innerHeight - ((v - yDomain[0]) / (yDomain[1] - yDomain[0])) * innerHeight,
  };
  const parts = [
    svgOpen(title, width, height),
    axes(frame, categories.map((label, value) => ({ value, label })), niceTicks(yDomain[0], yDomain[1]), '', yLabel, height),
  ];
  values.forEach((value, i) => {
    const top = frame.y(Math.max(0, value));
    const bottom = frame.y(Math.min(0, value));
    const x = frame.x(i) - slot * 0.35;
    parts.push(
      `<rect x="${x.toFixed(1)}" y="${top.toFixed(1)}" width="${(slot * 0.7).toFixed(1)}" height="${Math.max(0, bottom - top).toFixed(1)}" fill="${PALETTE[i % PALETTE.length]}">` +
        `<title>${escapeXml(`${categories[i] ?? ''}: ${formatNumber(value)}`)}</title></rect>`,
    );
    parts.push(`<text x="${frame.x(i).toFixed(1)}" y="${(top - 4).toFixed(1)}" text-anchor="middle">${escapeXml(formatNumber(value))}</text>`);
  });
  parts.push('</svg>');
  return parts.join('');
}
