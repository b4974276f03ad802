import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { root, start } from './cli.js';

async function exists(p: string): Promise<boolean> {
  return fs.stat(p).then(
    () => true,
    () => false,
  );
}

/** The stage outputs that must not depend on whether the run was interrupted. */
const OUTPUTS = [
  'iter-1/generate/questions.jsonl',
  'iter-1/curate/tasks.jsonl',
  'iter-1/curate/answers.jsonl',
  'iter-1/evaluate/summary.json',
  'setup/baseline/summary.json',
];

describe('end to end: recipes/smoke.yaml', function () {
  this.timeout(600_000);
  let work: string;
  let full: string;

  before(async () => {
    work = await fs.mkdtemp(path.join(os.tmpdir(), 'agent0-e2e-'));
    full = path.join(work, 'full');
  });

  it('runs every stage and writes the run directory and report', async () => {
    const { done } = start(['run', path.join(root, 'recipes', 'smoke.yaml'), '--run-dir', full], work);
    const r = await done;
    expect(r.code, r.err.slice(-3000)).to.equal(0);
    for (const f of ['recipe.resolved.yaml', 'metrics.jsonl', 'state.json', 'report.md', ...OUTPUTS]) {
      expect(await exists(path.join(full, f)), f).to.equal(true);
    }
    const state = JSON.parse(await fs.readFile(path.join(full, 'state.json'), 'utf8')) as { done: string[] };
    expect(state.done).to.deep.equal([
      'setup/bootstrap',
      'setup/baseline',
      'iter-1/curriculum-train',
      'iter-1/generate',
      'iter-1/curate',
      'iter-1/executor-train',
      'iter-1/evaluate',
      'final/report',
    ]);
    const stages = new Set(
      (await fs.readFile(path.join(full, 'metrics.jsonl'), 'utf8'))
        .trim()
        .split('\n')
        .map((l) => (JSON.parse(l) as { stage: string }).stage),
    );
    for (const s of ['bootstrap', 'curriculum-train', 'executor-train', 'evaluate'])
      expect(stages.has(s), s).to.equal(true);
    const report = await fs.readFile(path.join(full, 'report.md'), 'utf8');
    expect(report).to.match(/hard/i);
    // every section a reader needs, with the world's difficulty measures and pseudo-label accuracy
    for (const h of [
      '## The base model (stage/bootstrap)',
      '## Result: final executor against the bootstrap model',
      '## Held-out accuracy per iteration',
      '## Questions the curriculum generated',
      '## Curation',
      '## executor-train',
      '## Time per stage',
    ])
      expect(report, h).to.contain(h);
    expect(report).to.match(/\| iteration \| questions \| mean ops \| mean maxDigits \|/);
    expect(report).to.match(/\| 1 \| 8 \| [\d.]+ \| [\d.]+ \|/);
    expect(report).to.match(
      /pseudo-label accuracy[^\n]*\n\|[-|]+\n\| 1 \| \d+ \| \d+ \| [\d.]+% \| [\d.]+ \| [\d.–]+ \| ([\d.]+%|–) \|/,
    );
    for (const plot of [
      'accuracy',
      'tool-calls',
      'difficulty',
      'self-consistency',
      'executor-train-reward',
      'executor-train-clip',
    ]) {
      expect(await fs.readFile(path.join(full, 'plots', `${plot}.svg`), 'utf8'), plot).to.match(/^<svg/);
    }
  });

  it('resumes a run killed mid-stage to the same outputs, redoing no finished stage', async () => {
    const dir = path.join(work, 'killed');
    const a = start(['run', path.join(root, 'recipes', 'smoke.yaml'), '--run-dir', dir], work);
    // kill it once executor training has saved a step: the middle of a stage with state
    const marker = path.join(dir, 'iter-1', 'executor-train', 'stage-state.json');
    for (let i = 0; i < 6000 && !(await exists(marker)); i++) await new Promise((r) => setTimeout(r, 50));
    expect(await exists(marker), 'the run never reached executor-train').to.equal(true);
    a.child.kill('SIGKILL');
    await a.done;
    const before = JSON.parse(await fs.readFile(path.join(dir, 'state.json'), 'utf8')) as { done: string[] };
    expect(before.done).to.not.include('iter-1/executor-train');
    const b = start(['run', path.join(root, 'recipes', 'smoke.yaml'), '--run-dir', dir, '--resume'], work);
    const r = await b.done;
    expect(r.code, r.err.slice(-3000)).to.equal(0);
    const res = JSON.parse(r.out.trim().split('\n').pop() as string) as { executed: string[]; skipped: string[] };
    expect(res.skipped).to.deep.equal(before.done);
    expect(res.executed[0]).to.equal('iter-1/executor-train');
    for (const f of OUTPUTS) {
      expect(await fs.readFile(path.join(dir, f), 'utf8'), f).to.equal(await fs.readFile(path.join(full, f), 'utf8'));
    }
  });
});
