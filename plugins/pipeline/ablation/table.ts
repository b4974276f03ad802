/** One finished run of one variant: its final held-out numbers. */
export interface VariantRun {
  variant: string;
  seed: number;
  easy: number;
  hard: number;
  /** Tool calls per solution on the hard split. */
  toolCalls: number;
  seconds: number;
}

export interface Stat {
  mean: number;
  std: number;
  n: number;
}

export interface AblationRow {
  variant: string;
  easy: Stat;
  hard: Stat;
  toolCalls: Stat;
  /** Differences of the means to the full recipe's (undefined for the full recipe itself). */
  delta?: { easy: number; hard: number; toolCalls: number };
  seconds: number;
}

/** Mean and sample (n - 1) standard deviation; std is 0 for a single value. */
export function stat(xs: readonly number[]): Stat {
  const n = xs.length;
  if (n === 0) return { mean: NaN, std: NaN, n: 0 };
  const mean = xs.reduce((a, b) => a + b, 0) / n;
  const std = n > 1 ? Math.sqrt(xs.reduce((a, x) => a + (x - mean) ** 2, 0) / (n - 1)) : 0;
  return { mean, std, n };
}

/** Rows in variant order (the full recipe first), each with its difference to `full`. */
export function ablationRows(runs: readonly VariantRun[], order: readonly string[], full: string): AblationRow[] {
  const rows = order.map((variant) => {
    const rs = runs.filter((r) => r.variant === variant);
    return {
      variant,
      easy: stat(rs.map((r) => r.easy)),
      hard: stat(rs.map((r) => r.hard)),
      toolCalls: stat(rs.map((r) => r.toolCalls)),
      seconds: rs.reduce((a, r) => a + r.seconds, 0),
    } as AblationRow;
  });
  const base = rows.find((r) => r.variant === full);
  for (const r of rows) {
    if (!base || r.variant === full) continue;
    r.delta = {
      easy: r.easy.mean - base.easy.mean,
      hard: r.hard.mean - base.hard.mean,
      toolCalls: r.toolCalls.mean - base.toolCalls.mean,
    };
  }
  return rows;
}

const pct = (s: Stat) =>
  s.n > 1 ? `${(100 * s.mean).toFixed(1)} ± ${(100 * s.std).toFixed(1)}` : `${(100 * s.mean).toFixed(1)}`;
const num = (s: Stat) => (s.n > 1 ? `${s.mean.toFixed(2)} ± ${s.std.toFixed(2)}` : s.mean.toFixed(2));
const signed = (x: number, digits: number, scale = 1) => `${x >= 0 ? '+' : ''}${(x * scale).toFixed(digits)}`;

export function ablationMarkdown(rows: readonly AblationRow[]): string {
  const lines = [
    '| Variant | Easy acc. (%) | Hard acc. (%) | Tool calls / solution (hard) | Δ easy | Δ hard | Δ tool calls | Seeds | Wall time (s) |',
    '|---|---|---|---|---|---|---|---|---|',
  ];
  for (const r of rows) {
    const d = r.delta;
    lines.push(
      `| ${r.variant} | ${pct(r.easy)} | ${pct(r.hard)} | ${num(r.toolCalls)} | ${d ? signed(d.easy, 1, 100) : '—'} | ${d ? signed(d.hard, 1, 100) : '—'} | ${d ? signed(d.toolCalls, 2) : '—'} | ${r.easy.n} | ${Math.round(r.seconds)} |`,
    );
  }
  return lines.join('\n');
}

export function ablationCsv(rows: readonly AblationRow[]): string {
  const head =
    'variant,seeds,easy_mean,easy_std,hard_mean,hard_std,tool_calls_mean,tool_calls_std,delta_easy,delta_hard,delta_tool_calls,seconds';
  const f = (x: number | undefined) => (x === undefined || Number.isNaN(x) ? '' : String(Number(x.toFixed(6))));
  return (
    [
      head,
      ...rows.map((r) =>
        [
          r.variant,
          r.easy.n,
          f(r.easy.mean),
          f(r.easy.std),
          f(r.hard.mean),
          f(r.hard.std),
          f(r.toolCalls.mean),
          f(r.toolCalls.std),
          f(r.delta?.easy),
          f(r.delta?.hard),
          f(r.delta?.toolCalls),
          f(r.seconds),
        ].join(','),
      ),
    ].join('\n') + '\n'
  );
}
