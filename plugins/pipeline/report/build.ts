import { parseStageKey, SETUP_ITERATION, type MetricRecord, type RunDir, type RunState } from '../../../core/index.js';
import { ANSWERS, EVAL_SUMMARY, plot, QUESTIONS, REPORT } from '../artifacts.js';
import type { EvalSummary } from '../evaluation.js';
import type { CuratedRow } from '../stages/curate.js';
import type { GeneratedQuestion } from '../stages/generate.js';
import type { ReportOptions } from '../stages/report.js';
import { barChart, lineChart, type Series } from './svg.js';
import { toolIsolationSection } from './tools.js';

export type { ReportOptions };

const pct = (x: number | undefined) => (x === undefined || Number.isNaN(x) ? '–' : `${(100 * x).toFixed(1)}%`);
const num = (x: number | undefined, d = 2) => (x === undefined || Number.isNaN(x) ? '–' : x.toFixed(d));
const avg = (xs: number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : NaN);

function table(head: string[], rows: (string | number)[][]): string {
  return [
    `| ${head.join(' | ')} |`,
    `|${head.map(() => '---').join('|')}|`,
    ...rows.map((r) => `| ${r.join(' | ')} |`),
  ].join('\n');
}

/** Last record per (stage, iteration, step): a resumed stage re-logs the steps it redid. */
function dedupe(records: MetricRecord[]): MetricRecord[] {
  const m = new Map<string, MetricRecord>();
  for (const r of records) m.set(`${r.stage}|${r.iteration}|${r.step ?? ''}|${r.split ?? ''}`, r);
  return [...m.values()];
}

/** Writes `report.md` and `plots/*.svg` from what the run left in its folder. Returns the markdown. */
export async function buildReport(runDir: RunDir, o: ReportOptions): Promise<string> {
  const state = await runDir.loadState();
  const records = await runDir.readMetrics<MetricRecord>();
  const metrics = dedupe(records);
  const iters = [
    ...new Set(state.done.map((k) => parseStageKey(k)?.iteration ?? SETUP_ITERATION).filter((i) => i > 0)),
  ].sort((a, b) => a - b);
  const evals: { iteration: number; label: string; s: Record<string, EvalSummary> }[] = [];
  const base = await runDir.artifacts(o.baseline, SETUP_ITERATION).readJson<Record<string, EvalSummary>>(EVAL_SUMMARY);
  if (base) evals.push({ iteration: 0, label: 'bootstrap (iteration 0)', s: base });
  for (const i of iters) {
    const s = await runDir.artifacts(o.evaluate, i).readJson<Record<string, EvalSummary>>(EVAL_SUMMARY);
    if (s) evals.push({ iteration: i, label: `iteration ${i}`, s });
  }
  const splits = [...new Set(evals.flatMap((e) => Object.keys(e.s)))];
  const md: string[] = [`# ${o.title}`, '', o.note, ''];
  const timing = Object.entries(state.summaries).map(([k, v]) => [k, num(Number(v.seconds), 1)]);
  const total = Object.values(state.summaries).reduce((a, v) => a + Number(v.seconds ?? 0), 0);

  // the base model, as the bootstrap stage probed it (embedded world only)
  const boot = Object.entries(state.summaries).find(
    ([k, v]) => parseStageKey(k)?.iteration === SETUP_ITERATION && 'hardSampledToolRate' in v,
  )?.[1];
  if (boot) {
    const v = (k: string) => (typeof boot[k] === 'number' ? (boot[k] as number) : NaN);
    md.push(
      '## The base model (stage/bootstrap)',
      '',
      `Pretrained in-process on ${v('corpus')} program-generated examples${v('cached') === 1 ? ' (reused from the cache)' : ''}. Probed on held-out problems with an emulated sandbox:`,
      '',
      table(
        [
          'split',
          'greedy accuracy',
          'greedy tool use',
          'sampled accuracy (T = 1)',
          'sampled tool use',
          'accuracy with the tool',
          'accuracy without',
        ],
        ['easy', 'hard']
          .filter((sp) => !Number.isNaN(v(`${sp}Accuracy`)))
          .map((sp) => [
            sp,
            pct(v(`${sp}Accuracy`)),
            pct(v(`${sp}ToolRate`)),
            pct(v(`${sp}SampledAccuracy`)),
            pct(v(`${sp}SampledToolRate`)),
            pct(v(`${sp}SampledToolAccuracy`)),
            pct(v(`${sp}SampledDirectAccuracy`)),
          ]),
      ),
      '',
      'The base model can use Python but prefers to answer directly; RL has to discover that the tool pays on hard problems.',
      '',
    );
  }

  // headline: final against the bootstrap model
  const first = evals[0];
  const lastE = evals[evals.length - 1];
  if (first && lastE && first !== lastE) {
    md.push('## Result: final executor against the bootstrap model', '');
    md.push(
      table(
        [
          'split',
          `accuracy (${first.label})`,
          `accuracy (${lastE.label})`,
          'change',
          'tool calls / solution (before → after)',
          'tool use rate (before → after)',
        ],
        splits.map((sp) => {
          const a = first.s[sp];
          const b = lastE.s[sp];
          const d = a && b ? b.accuracy - a.accuracy : NaN;
          return [
            sp,
            pct(a?.accuracy),
            pct(b?.accuracy),
            Number.isNaN(d) ? '–' : `${d >= 0 ? '+' : ''}${(100 * d).toFixed(1)} pts`,
            `${num(a?.toolCallsPerSolution)} → ${num(b?.toolCallsPerSolution)}`,
            `${pct(a?.toolUseRate)} → ${pct(b?.toolUseRate)}`,
          ];
        }),
      ),
      '',
    );
  }
  if (evals.length > 0) {
    md.push('## Held-out accuracy per iteration (greedy pass@1)', '');
    md.push(
      table(
        [
          'iteration',
          ...splits.flatMap((s) => [`${s} acc`, `${s} tool calls`]),
          ...(evals.some((e) => Object.values(e.s).some((x) => x.majAtK !== undefined))
            ? splits.flatMap((s) => [`${s} mean@k`, `${s} maj@k`])
            : []),
        ],
        evals.map((e) => [
          e.label,
          ...splits.flatMap((s) => [pct(e.s[s]?.accuracy), num(e.s[s]?.toolCallsPerSolution)]),
          ...(evals.some((x) => Object.values(x.s).some((y) => y.majAtK !== undefined))
            ? splits.flatMap((s) => [pct(e.s[s]?.meanAtK), pct(e.s[s]?.majAtK)])
            : []),
        ]),
      ),
      '',
    );
    const accSeries: Series[] = splits.map((sp) => ({
      name: sp,
      points: evals
        .filter((e) => e.s[sp])
        .map((e) => [e.iteration, 100 * (e.s[sp] as EvalSummary).accuracy] as [number, number]),
    }));
    await runDir.writeText(
      plot('accuracy'),
      lineChart('Held-out accuracy per iteration', 'iteration (0 = bootstrap)', 'accuracy %', accSeries, [0, 100]),
    );
    const toolSeries: Series[] = splits.map((sp) => ({
      name: sp,
      points: evals
        .filter((e) => e.s[sp])
        .map((e) => [e.iteration, (e.s[sp] as EvalSummary).toolCallsPerSolution] as [number, number]),
    }));
    await runDir.writeText(
      plot('tool-calls'),
      lineChart('Tool calls per solution', 'iteration (0 = bootstrap)', 'calls / solution', toolSeries),
    );
    md.push(`![accuracy](${plot('accuracy')})`, '', `![tool calls](${plot('tool-calls')})`, '');
  }

  // generated questions and curation
  const genRows: { i: number; n: number; means: Map<string, number> }[] = [];
  const diffSeries = new Map<string, [number, number][]>();
  const hist: { name: string; values: number[] }[] = [];
  const bins = 10;
  const curRows: (string | number)[][] = [];
  for (const i of iters) {
    const qs = await runDir.artifacts(o.generate, i).readJsonl<GeneratedQuestion>(QUESTIONS);
    if (qs.length > 0) {
      const keys = [...new Set(qs.flatMap((q) => Object.keys(q.difficulty ?? {})))];
      const means = new Map(
        keys.map((k) => [k, avg(qs.map((q) => q.difficulty?.[k] ?? NaN).filter((x) => !Number.isNaN(x)))]),
      );
      for (const [k, m] of means) diffSeries.set(k, [...(diffSeries.get(k) ?? []), [i, m]]);
      genRows.push({ i, n: qs.length, means });
    }
    const rows = await runDir.artifacts(o.curate, i).readJsonl<CuratedRow>(ANSWERS);
    if (rows.length > 0) {
      const kept = rows.filter((r) => r.kept);
      const labelled = kept.filter((r) => r.pseudoLabelCorrect !== undefined);
      curRows.push([
        i,
        rows.length,
        kept.length,
        pct(kept.length / rows.length),
        num(avg(rows.map((r) => r.selfConsistency))),
        num(avg(kept.map((r) => r.selfConsistency))),
        labelled.length ? pct(labelled.filter((r) => r.pseudoLabelCorrect).length / labelled.length) : '–',
      ]);
      const h = new Array<number>(bins).fill(0);
      for (const r of rows) h[Math.min(bins - 1, Math.floor(r.selfConsistency * bins))]! += 1;
      hist.push({ name: `iteration ${i}`, values: h });
    }
  }
  if (genRows.length > 0) {
    // One column per difficulty measure the task source reports (e.g. ops, maxDigits), as means.
    const keys = [...new Set(genRows.flatMap((r) => [...r.means.keys()]))];
    md.push(
      '## Questions the curriculum generated',
      '',
      table(
        ['iteration', 'questions', ...keys.map((k) => `mean ${k}`)],
        genRows.map((r) => [r.i, r.n, ...keys.map((k) => num(r.means.get(k)))]),
      ),
      '',
    );
    if (diffSeries.size > 0) {
      await runDir.writeText(
        plot('difficulty'),
        lineChart(
          'Difficulty of generated questions',
          'iteration',
          'mean',
          [...diffSeries].map(([name, points]) => ({ name, points })),
        ),
      );
      md.push(`![difficulty](${plot('difficulty')})`, '');
    }
  }
  if (curRows.length > 0) {
    md.push(
      '## Curation',
      '',
      table(
        [
          'iteration',
          'questions',
          'kept',
          'kept %',
          'mean p̂ (all)',
          'mean p̂ (kept)',
          'pseudo-label accuracy (kept, vs hidden truth)',
        ],
        curRows,
      ),
      '',
    );
    await runDir.writeText(
      plot('self-consistency'),
      barChart(
        'Executor self-consistency of generated questions',
        'p̂ bin',
        'questions',
        Array.from({ length: bins }, (_, b) => `${(b / bins).toFixed(1)}`),
        hist,
      ),
    );
    md.push(`![self-consistency](${plot('self-consistency')})`, '');
  }

  // training curves
  for (const stage of ['curriculum-train', 'executor-train']) {
    const rows = metrics.filter((m) => m.stage === stage && m.step !== undefined);
    if (rows.length === 0) continue;
    const series = (key: string): Series[] =>
      iters
        .map((i) => ({
          name: `iter ${i}`,
          points: rows
            .filter((r) => r.iteration === i && typeof r[key] === 'number')
            .map((r) => [Number(r.step), Number(r[key])] as [number, number]),
        }))
        .filter((s) => s.points.length > 0);
    await runDir.writeText(
      plot(`${stage}-reward`),
      lineChart(`${stage}: mean reward per step`, 'step', 'reward', series('reward')),
    );
    md.push(`## ${stage}`, '', `![reward](${plot(`${stage}-reward`)})`, '');
    const clipKeys = [...new Set(rows.flatMap((r) => Object.keys(r).filter((k) => /clip/i.test(k))))];
    if (clipKeys.length > 0) {
      const cs: Series[] = clipKeys.map((k) => ({
        name: k,
        points: rows.filter((r) => typeof r[k] === 'number').map((r, j) => [j, Number(r[k])] as [number, number]),
      }));
      await runDir.writeText(
        plot(`${stage}-clip`),
        lineChart(`${stage}: clip fractions`, 'update (all iterations)', 'fraction', cs),
      );
      md.push(`![clip](${plot(`${stage}-clip`)})`, '');
    }
    const keys = [
      'reward',
      'toolCalls',
      'trueAccuracy',
      'selfConsistency',
      'parseRate',
      'loss',
      'kl',
      'entropy',
      'gradNorm',
    ].filter((k) => rows.some((r) => typeof r[k] === 'number'));
    md.push(
      table(
        ['iteration', 'steps', ...keys.map((k) => `mean ${k}`)],
        iters.map((i) => {
          const rs = rows.filter((r) => r.iteration === i);
          return [
            i,
            rs.length,
            ...keys.map((k) => num(avg(rs.map((r) => Number(r[k])).filter((x) => !Number.isNaN(x))), 3)),
          ];
        }),
      ),
      '',
    );
  }
  md.push(...toolIsolationSection(records));
  md.push(
    '## Time per stage',
    '',
    table(['stage', 'seconds'], timing),
    '',
    `Total: ${(total / 60).toFixed(1)} min.`,
    '',
  );
  const text = md.join('\n');
  await runDir.writeText(REPORT, text);
  return text;
}

export type { RunState };
