import { promises as fs } from 'node:fs';
import { expect } from 'chai';
import { RUN_FILES, RunDir, type CliEnv, type RunState } from '../../../core/index.js';
import { ANSWERS, EVAL_SUMMARY, plot, QUESTIONS, REPORT } from '../../../plugins/pipeline/artifacts.js';
import { buildReport } from '../../../plugins/pipeline/report/build.js';
import { reportCommand } from '../../../plugins/pipeline/commands.js';
import { finalNumbers } from '../../../plugins/pipeline/ablation/command.js';
import { tmpDir } from '../../core/helpers.js';

const split = (accuracy: number, toolCallsPerSolution: number, toolUseRate: number) => ({
  items: 4,
  accuracy,
  toolCallsPerSolution,
  toolUseRate,
  responseTokens: 9,
});

/** A finished two-iteration run's folder, as the stages leave it (iteration 2 skipped generate and curate). */
async function runFolder(baseline = 'baseline'): Promise<RunDir> {
  const runDir = new RunDir(await tmpDir('agent0-report-'));
  const state: RunState = {
    done: [
      'setup/bootstrap',
      `setup/${baseline}`,
      'iter-1/generate',
      'iter-1/curate',
      'iter-1/executor-train',
      'iter-1/evaluate',
      'iter-2/evaluate',
      'final/report',
    ],
    checkpoints: {},
    summaries: {
      'setup/bootstrap': {
        seconds: 30,
        corpus: 100,
        cached: 1,
        easyAccuracy: 0.5,
        easyToolRate: 0.25,
        easySampledAccuracy: 0.4,
        easySampledToolRate: 0.1,
        easySampledToolAccuracy: 1,
        easySampledDirectAccuracy: 0.3,
        hardSampledToolRate: 0.2,
      },
      [`setup/${baseline}`]: { seconds: 6 },
      'iter-1/evaluate': { seconds: 12 },
      'iter-2/evaluate': { seconds: 12 },
    },
  };
  await runDir.saveState(state);
  await runDir.artifacts(baseline, 0).writeJson(EVAL_SUMMARY, { easy: split(0.5, 0, 0), hard: split(0.25, 0.5, 0.25) });
  await runDir.artifacts('evaluate', 1).writeJson(EVAL_SUMMARY, { easy: split(0.75, 0.25, 0.25) });
  await runDir.artifacts('evaluate', 2).writeJson(EVAL_SUMMARY, { easy: split(1, 1, 0.5), hard: split(0.5, 1.5, 0.5) });
  await runDir.artifacts('generate', 1).writeJsonl(QUESTIONS, [
    { id: 'q0', question: '1 + 1', ownAnswer: '2', curriculumToolCalls: 0, difficulty: { ops: 1, maxDigits: 1 } },
    {
      id: 'q1',
      question: '12 * 3 + 4 - 5',
      ownAnswer: null,
      curriculumToolCalls: 0,
      difficulty: { ops: 3, maxDigits: 2 },
    },
  ]);
  const row = (selfConsistency: number, kept: boolean, pseudoLabelCorrect?: boolean) => ({
    id: 'r',
    question: 'q',
    answers: [],
    majority: '1',
    selfConsistency,
    kept,
    ...(pseudoLabelCorrect === undefined ? {} : { pseudoLabelCorrect }),
  });
  await runDir
    .artifacts('curate', 1)
    .writeJsonl(ANSWERS, [row(0.75, true, true), row(1, false, false), row(0.25, false), row(0.5, true, false)]);
  await runDir.appendMetrics([
    { stage: 'executor-train', iteration: 1, step: 0, reward: 0.5, pg_clipfrac: 0.1 },
    { stage: 'executor-train', iteration: 1, step: 1, reward: 0.5, pg_clipfrac: 0.3 },
    // a resumed stage logs step 0 again: the later row counts
    { stage: 'executor-train', iteration: 1, step: 0, reward: 1, pg_clipfrac: 0.2 },
    { stage: 'evaluate', iteration: 1, split: 'easy', accuracy: 0.75 },
  ]);
  return runDir;
}

const options = {
  baseline: 'baseline',
  evaluate: 'evaluate',
  generate: 'generate',
  curate: 'curate',
  title: 'T',
  note: 'n',
};

describe('pipeline: the run report', () => {
  it('tables the base model, the result, each iteration, the questions, curation, training and time', async () => {
    const runDir = await runFolder();
    const md = await buildReport(runDir, options);
    const lines = md.split('\n');
    expect(lines.slice(0, 3)).to.deep.equal(['# T', '', 'n']);
    expect(md).to.contain('Pretrained in-process on 100 program-generated examples (reused from the cache).');
    expect(lines).to.include('| easy | 50.0% | 25.0% | 40.0% | 10.0% | 100.0% | 30.0% |');
    // final (iteration 2) against the bootstrap model (the baseline evaluation)
    expect(lines).to.include(
      '| split | accuracy (bootstrap (iteration 0)) | accuracy (iteration 2) | change | tool calls / solution (before → after) | tool use rate (before → after) |',
    );
    expect(lines).to.include('| easy | 50.0% | 100.0% | +50.0 pts | 0.00 → 1.00 | 0.0% → 50.0% |');
    expect(lines).to.include('| hard | 25.0% | 50.0% | +25.0 pts | 0.50 → 1.50 | 25.0% → 50.0% |');
    expect(lines).to.include('| bootstrap (iteration 0) | 50.0% | 0.00 | 25.0% | 0.50 |');
    expect(lines).to.include('| iteration 1 | 75.0% | 0.25 | – | – |');
    expect(lines).to.include('| iteration | questions | mean ops | mean maxDigits |');
    expect(lines).to.include('| 1 | 2 | 2.00 | 1.50 |');
    // 4 rows, 2 kept; mean p̂ 2.5 / 4 (all) and 1.25 / 2 (kept); pseudo-labels right in 1 of the 2 kept
    expect(lines).to.include('| 1 | 4 | 2 | 50.0% | 0.63 | 0.63 | 50.0% |');
    expect(lines).to.include('| iteration | steps | mean reward |');
    expect(lines).to.include('| 1 | 2 | 0.750 |');
    expect(lines).to.include('| 2 | 0 | – |');
    expect(md).to.not.contain('## curriculum-train');
    expect(lines).to.include('| setup/bootstrap | 30.0 |');
    expect(lines).to.include('Total: 1.0 min.');
    for (const p of [
      'accuracy',
      'tool-calls',
      'difficulty',
      'self-consistency',
      'executor-train-reward',
      'executor-train-clip',
    ]) {
      expect(md, p).to.contain(`](${plot(p)})`);
      expect(await fs.readFile(runDir.path(plot(p)), 'utf8'), p).to.match(/^<svg/);
    }
    expect(await fs.readFile(runDir.path(REPORT), 'utf8')).to.equal(md);
  });

  it('a run without evaluations or training writes only what it has', async () => {
    const runDir = new RunDir(await tmpDir('agent0-report-'));
    await runDir.saveState({ done: ['final/report'], checkpoints: {}, summaries: { 'final/report': { seconds: 3 } } });
    const md = await buildReport(runDir, options);
    expect(md.split('\n').filter((l) => l.startsWith('## '))).to.deep.equal(['## Time per stage']);
    expect(md).to.contain('Total: 0.1 min.');
  });

  it("`agent0 report` rebuilds it with the stage options of the run's recipe", async () => {
    const runDir = await runFolder('base0');
    await runDir.writeResolvedRecipe(
      'pipeline:\n  teardown:\n    - use: stage/report\n      options: { title: Mine, baseline: base0 }\n',
    );
    const out: string[] = [];
    const env = {
      stdout: (s: string) => out.push(s),
      stderr: (s: string) => out.push(`err: ${s}`),
    } as unknown as CliEnv;
    expect(await reportCommand.run([runDir.root], env)).to.equal(0);
    expect(out).to.deep.equal([runDir.path(REPORT)]);
    const md = await fs.readFile(runDir.path(REPORT), 'utf8');
    expect(md.startsWith('# Mine\n')).to.equal(true);
    expect(md).to.contain('| easy | 50.0% | 100.0% | +50.0 pts |');
    // no recipe in the folder: the stage's defaults
    await fs.rm(runDir.path(RUN_FILES.recipe));
    expect(await reportCommand.run([runDir.root], env)).to.equal(0);
    expect((await fs.readFile(runDir.path(REPORT), 'utf8')).startsWith('# Agent0 run report\n')).to.equal(true);
    expect(await reportCommand.run([], env)).to.equal(2);
  });
});

describe("pipeline: an ablation run's final numbers", () => {
  const summaries = { 'easy.accuracy': 0.5, 'hard.accuracy': 0.25, 'hard.toolCallsPerSolution': 1.5 };

  it("come from the last evaluation after setup, else the baseline; seconds are the run's total", async () => {
    const runDir = new RunDir(await tmpDir());
    await runDir.saveState({
      done: ['setup/baseline', 'iter-1/evaluate', 'iter-2/evaluate'],
      checkpoints: {},
      summaries: {
        'setup/baseline': { seconds: 1, 'easy.accuracy': 0.1 },
        'iter-1/evaluate': { seconds: 2, 'easy.accuracy': 0.2 },
        'iter-2/evaluate': { seconds: 3, ...summaries },
      },
    });
    expect(await finalNumbers(runDir.root, 'evaluate')).to.deep.equal({
      easy: 0.5,
      hard: 0.25,
      toolCalls: 1.5,
      seconds: 6,
    });
    await runDir.saveState({
      done: ['setup/baseline', 'setup/evaluate'],
      checkpoints: {},
      summaries: { 'setup/baseline': { seconds: 4, 'easy.accuracy': 0.1 }, 'setup/evaluate': { 'easy.accuracy': 0.9 } },
    });
    const base = await finalNumbers(runDir.root, 'evaluate');
    expect(base.easy).to.equal(0.1);
    expect(Number.isNaN(base.hard)).to.equal(true);
    await runDir.saveState({
      done: ['final/evaluate'],
      checkpoints: {},
      summaries: { 'final/evaluate': { 'easy.accuracy': 0.7 } },
    });
    expect((await finalNumbers(runDir.root, 'evaluate')).easy).to.equal(0.7);
    await runDir.saveState({ done: ['iter-1/curate'], checkpoints: {}, summaries: {} });
    let msg = '';
    await finalNumbers(runDir.root, 'evaluate').catch((e: Error) => {
      msg = e.message;
    });
    expect(msg).to.contain("no finished 'evaluate' stage");
  });
});
