/** Small dependency-free SVG charts for run reports (line and grouped-bar). */
export interface Series {
  name: string;
  points: [number, number][];
}

const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#17becf', '#7f7f7f'];
const W = 560;
const H = 300;
const M = { l: 56, r: 130, t: 34, b: 42 };

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function niceTicks(lo: number, hi: number, n = 5): number[] {
  if (!Number.isFinite(lo) || !Number.isFinite(hi)) return [0];
  if (hi === lo) {
    hi = lo + 1;
  }
  const raw = (hi - lo) / n;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => (hi - lo) / s <= n) ?? 10 * mag;
  const out: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + 1e-9; v += step) out.push(Number(v.toPrecision(10)));
  return out;
}

function frame(title: string, xLabel: string, yLabel: string, body: string[], legend: string[]): string {
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="11">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${W / 2 - M.r / 2}" y="18" text-anchor="middle" font-size="13" font-weight="bold">${esc(title)}</text>`,
    `<text x="${M.l + (W - M.l - M.r) / 2}" y="${H - 8}" text-anchor="middle">${esc(xLabel)}</text>`,
    `<text transform="translate(14 ${M.t + (H - M.t - M.b) / 2}) rotate(-90)" text-anchor="middle">${esc(yLabel)}</text>`,
    ...body,
    ...legend.map(
      (name, i) =>
        `<rect x="${W - M.r + 12}" y="${M.t + i * 18}" width="12" height="12" fill="${COLORS[i % COLORS.length]}"/><text x="${W - M.r + 30}" y="${M.t + 10 + i * 18}">${esc(name)}</text>`,
    ),
    '</svg>',
  ].join('\n');
}

export function lineChart(
  title: string,
  xLabel: string,
  yLabel: string,
  series: Series[],
  yRange?: [number, number],
): string {
  const pts = series.flatMap((s) => s.points);
  if (pts.length === 0)
    return frame(title, xLabel, yLabel, [`<text x="${W / 2}" y="${H / 2}" text-anchor="middle">no data</text>`], []);
  const xs = pts.map((p) => p[0]);
  const ys = pts.map((p) => p[1]);
  const [x0, x1] = [Math.min(...xs), Math.max(...xs) === Math.min(...xs) ? Math.min(...xs) + 1 : Math.max(...xs)];
  const [y0, y1] = yRange ?? [Math.min(0, ...ys), Math.max(...ys) === Math.min(0, ...ys) ? 1 : Math.max(...ys) * 1.05];
  const px = (x: number) => M.l + ((x - x0) / (x1 - x0)) * (W - M.l - M.r);
  const py = (y: number) => H - M.b - ((y - y0) / (y1 - y0 || 1)) * (H - M.t - M.b);
  const body: string[] = [];
  for (const t of niceTicks(y0, y1))
    body.push(
      `<line x1="${M.l}" x2="${W - M.r}" y1="${py(t)}" y2="${py(t)}" stroke="#ddd"/><text x="${M.l - 6}" y="${py(t) + 4}" text-anchor="end">${t}</text>`,
    );
  for (const t of niceTicks(x0, x1, 6))
    body.push(`<text x="${px(t)}" y="${H - M.b + 16}" text-anchor="middle">${t}</text>`);
  body.push(
    `<line x1="${M.l}" x2="${M.l}" y1="${M.t}" y2="${H - M.b}" stroke="#333"/><line x1="${M.l}" x2="${W - M.r}" y1="${H - M.b}" y2="${H - M.b}" stroke="#333"/>`,
  );
  series.forEach((s, i) => {
    const c = COLORS[i % COLORS.length];
    const d = s.points.map((p, j) => `${j ? 'L' : 'M'}${px(p[0]).toFixed(1)},${py(p[1]).toFixed(1)}`).join(' ');
    body.push(`<path d="${d}" fill="none" stroke="${c}" stroke-width="2"/>`);
    if (s.points.length <= 30)
      for (const p of s.points)
        body.push(`<circle cx="${px(p[0]).toFixed(1)}" cy="${py(p[1]).toFixed(1)}" r="3" fill="${c}"/>`);
  });
  return frame(
    title,
    xLabel,
    yLabel,
    body,
    series.map((s) => s.name),
  );
}

/** Bars grouped by category (x labels), one bar per series. */
export function barChart(
  title: string,
  xLabel: string,
  yLabel: string,
  categories: string[],
  series: { name: string; values: number[] }[],
): string {
  const ys = series.flatMap((s) => s.values);
  const y1 = Math.max(1e-9, ...ys) * 1.05;
  const py = (y: number) => H - M.b - (y / y1) * (H - M.t - M.b);
  const slot = (W - M.l - M.r) / Math.max(1, categories.length);
  const bw = (slot * 0.8) / Math.max(1, series.length);
  const body: string[] = [];
  for (const t of niceTicks(0, y1))
    body.push(
      `<line x1="${M.l}" x2="${W - M.r}" y1="${py(t)}" y2="${py(t)}" stroke="#ddd"/><text x="${M.l - 6}" y="${py(t) + 4}" text-anchor="end">${t}</text>`,
    );
  categories.forEach((c, i) =>
    body.push(`<text x="${M.l + slot * (i + 0.5)}" y="${H - M.b + 16}" text-anchor="middle">${esc(c)}</text>`),
  );
  series.forEach((s, j) =>
    s.values.forEach((v, i) => {
      body.push(
        `<rect x="${(M.l + slot * i + slot * 0.1 + bw * j).toFixed(1)}" y="${py(v).toFixed(1)}" width="${bw.toFixed(1)}" height="${(H - M.b - py(v)).toFixed(1)}" fill="${COLORS[j % COLORS.length]}"/>`,
      );
    }),
  );
  body.push(`<line x1="${M.l}" x2="${W - M.r}" y1="${H - M.b}" y2="${H - M.b}" stroke="#333"/>`);
  return frame(
    title,
    xLabel,
    yLabel,
    body,
    series.map((s) => s.name),
  );
}
