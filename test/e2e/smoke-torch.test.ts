import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { torchAvailable } from '../plugins/engine-torch/helpers.js';
import { root, start } from './cli.js';

const exists = (p: string) =>
  fs.stat(p).then(
    () => true,
    () => false,
  );
const OUTPUTS = [
  'iter-1/generate/questions.jsonl',
  'iter-1/curate/tasks.jsonl',
  'iter-1/curate/answers.jsonl',
  'iter-1/evaluate/summary.json',
  'setup/baseline/summary.json',
];
const RECIPE = path.join(root, 'recipes', 'smoke_torch.yaml');

/** PIDs of trainer-service processes (python -m agent0_trainer) whose parent is `ppid`'s launch. */
async function trainerPids(): Promise<number[]> {
  const pids: number[] = [];
  for (const d of await fs.readdir('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    const cmd = await fs.readFile(`/proc/${d}/cmdline`, 'utf8').catch(() => '');
    if (cmd.includes('agent0_trainer') && cmd.includes('--parent-pid')) pids.push(Number(d));
  }
  return pids;
}

describe('end to end: recipes/smoke_torch.yaml (policy/torch)', function () {
  this.timeout(600_000);
  let work: string;
  let full: string;

  before(async function () {
    if (!torchAvailable()) this.skip();
    work = await fs.mkdtemp(path.join(os.tmpdir(), 'agent0-e2e-torch-'));
    full = path.join(work, 'full');
  });

  it('runs every stage on the trainer service, which stops with the run', async () => {
    const before = await trainerPids();
    const r = await start(['run', RECIPE, '--run-dir', full], work).done;
    expect(r.code, r.err.slice(-3000)).to.equal(0);
    expect(r.err).to.match(/starting the trainer service/);
    expect(r.err.match(/starting the trainer service/g)?.length, 'both policies share one service').to.equal(1);
    const state = JSON.parse(await fs.readFile(path.join(full, 'state.json'), 'utf8')) as { done: string[] };
    expect(state.done).to.include.members(['setup/bootstrap', 'iter-1/executor-train', 'final/report']);
    for (const f of ['report.md', ...OUTPUTS]) expect(await exists(path.join(full, f)), f).to.equal(true);
    const metrics = (await fs.readFile(path.join(full, 'metrics.jsonl'), 'utf8'))
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    const train = metrics.filter((m) => m.stage === 'executor-train' && typeof m.pg_loss === 'number');
    expect(train.length).to.be.greaterThan(0);
    // sampling and training see the same weights (the service samples with the live model)
    for (const m of train) expect(m.rollout_logprob_diff_max as number).to.be.lessThan(1e-3);
    expect(await trainerPids(), 'no service left behind').to.deep.equal(before);
  });

  it('resumes a run killed mid-stage to the same outputs; the orphaned service exits by itself', async () => {
    const dir = path.join(work, 'killed');
    const a = start(['run', RECIPE, '--run-dir', dir], work);
    const marker = path.join(dir, 'iter-1', 'executor-train', 'stage-state.json');
    for (let i = 0; i < 6000 && !(await exists(marker)); i++) await new Promise((r) => setTimeout(r, 50));
    expect(await exists(marker), 'the run never reached executor-train').to.equal(true);
    a.child.kill('SIGKILL');
    await a.done;
    for (let i = 0; i < 100 && (await trainerPids()).length > 0; i++) await new Promise((r) => setTimeout(r, 100));
    expect(await trainerPids(), 'the service follows its launcher').to.deep.equal([]);
    const r = await start(['run', RECIPE, '--run-dir', dir, '--resume'], work).done;
    expect(r.code, r.err.slice(-3000)).to.equal(0);
    for (const f of OUTPUTS)
      expect(await fs.readFile(path.join(dir, f), 'utf8'), f).to.equal(await fs.readFile(path.join(full, f), 'utf8'));
  });
});
