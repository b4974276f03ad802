import { promises as fs } from 'node:fs';
import { expect } from 'chai';
import type { RunDir } from '../../../core/index.js';
import { bootstrapStage, lrAt } from '../../../plugins/arith-world/bootstrap.js';
import { ArithTaskSource } from '../../../plugins/arith-world/task-source.js';
import { CharBigram, runStage, testStage } from '../pipeline/helpers.js';

// stage/bootstrap on the bigram test policy (a real, tiny trainable LM): its schedule, step
// checkpoints, resume and what it commits, in well under a second.

const tasks = () =>
  new ArithTaskSource({
    train: { size: 40, seed: 5, mix: [{ minDigits: 1, maxDigits: 1, minOps: 1, maxOps: 1, operators: ['+', '-'] }] },
  });
const options = {
  policies: ['executor', 'curriculum'],
  corpusSize: 40,
  steps: 4,
  batchSize: 4,
  lr: 0.5,
  warmupSteps: 1,
  checkpointEvery: 2,
  cache: false,
  probe: { easy: 0, hard: 0, curriculum: 0 },
};

async function bootstrap(executor: CharBigram, opts: Record<string, unknown> = options, runDir?: RunDir) {
  const curriculum = new CharBigram();
  const t = await testStage('bootstrap', { executor, curriculum, tasks: tasks() }, { iteration: 0, runDir });
  let error: Error | undefined;
  const res = await runStage(bootstrapStage, opts, t).catch((e: Error) => {
    error = e;
  });
  return { t, curriculum, res, error };
}

describe('stage/bootstrap', () => {
  it('pretrains on the schedule, then every policy loads and commits the model; step checkpoints are gone', async () => {
    const executor = new CharBigram();
    const { t, curriculum, res, error } = await bootstrap(executor);
    expect(error).to.equal(undefined);
    expect(t.metrics.map((m) => m.step)).to.deep.equal([1, 2, 3, 4]);
    const lrs = t.metrics.map((m) => m.lr as number);
    [0.5, 0.5, 0.3875, 0.1625].forEach((lr, i) => expect(lrs[i]).to.be.closeTo(lr, 1e-12));
    expect(lrs).to.deep.equal([0, 1, 2, 3].map((s) => lrAt(s, { ...options, minLrRatio: 0.1 })));
    const model = t.ctx.artifacts.path('model');
    expect(t.committed).to.deep.equal({ executor: model, curriculum: model });
    expect(curriculum.weights()).to.deep.equal(executor.weights());
    expect(
      executor
        .weights()
        .flat()
        .some((x) => x !== 0),
    ).to.equal(true);
    // the state of step 2 (the only checkpoint before the end) stays; its folder does not
    expect((await fs.readdir(t.ctx.dir)).sort()).to.deep.equal(['model', 'stage-state.json']);
    expect(await t.ctx.loadState()).to.deep.equal({ step: 2, key: res?.summary?.cacheKey });
    expect(res?.summary).to.deep.include({ cached: 0, corpus: 40 });
  });

  it('a run killed after its step checkpoint resumes there to the same model', async () => {
    const whole = new CharBigram();
    await bootstrap(whole);
    const killed = new CharBigram();
    killed.failAt = 4;
    const first = await bootstrap(killed);
    expect(first.error?.message).to.equal('killed');
    expect((await fs.readdir(first.t.ctx.dir)).sort()).to.deep.equal(['checkpoint-2', 'stage-state.json']);
    const resumed = new CharBigram();
    const again = await bootstrap(resumed, options, first.t.runDir);
    expect(again.error).to.equal(undefined);
    expect(again.t.metrics.map((m) => m.step)).to.deep.equal([3, 4]);
    expect(resumed.weights()).to.deep.equal(whole.weights());
  });

  it('starts over when the saved state belongs to another configuration', async () => {
    const killed = new CharBigram();
    killed.failAt = 4;
    const first = await bootstrap(killed);
    const again = await bootstrap(new CharBigram(), { ...options, lr: 0.25 }, first.t.runDir);
    expect(again.error).to.equal(undefined);
    expect(again.t.metrics.map((m) => m.step)).to.deep.equal([1, 2, 3, 4]);
  });

  it('names a missing step checkpoint instead of loading nothing', async () => {
    const killed = new CharBigram();
    killed.failAt = 4;
    const first = await bootstrap(killed);
    await fs.rm(first.t.ctx.artifacts.path('checkpoint-2'), { recursive: true });
    const again = await bootstrap(new CharBigram(), options, first.t.runDir);
    expect(again.error?.message).to.equal(
      'stage/bootstrap: the saved state is at step 2 but its checkpoint setup/bootstrap/checkpoint-2 is missing',
    );
  });
});
