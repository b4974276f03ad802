import { promises as fs } from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';
import { Logger, RunDir, type Policy, type StageContext } from '../../core/index.js';
import { buildReport } from '../../plugins/pipeline/report/build.js';
import { commitPolicy, resumeSteps, saveStep } from '../../plugins/pipeline/state.js';
import { tmpDir } from '../core/helpers.js';

// Issue 15, item 6: a checkpoint is weights and optimizer of one step, committed as a unit.

/** Saves like a real engine, file by file; `killAfterWeights` stops it after the weights. */
class FilePolicy {
  version = 0;
  killAfterWeights = false;
  loaded: { weights: string; optimizer: string } | undefined;
  async save(dir: string): Promise<void> {
    await fs.mkdir(dir, { recursive: true });
    await fs.writeFile(path.join(dir, 'model.safetensors'), `w${this.version}`);
    if (this.killAfterWeights) throw new Error('killed');
    await fs.writeFile(path.join(dir, 'optimizer.safetensors'), `o${this.version}`);
  }
  async load(dir: string): Promise<void> {
    this.loaded = {
      weights: await fs.readFile(path.join(dir, 'model.safetensors'), 'utf8'),
      optimizer: await fs.readFile(path.join(dir, 'optimizer.safetensors'), 'utf8'),
    };
  }
}

/** A stage context whose state survives "restarts" (as stage-state.json does) and can die while saving it. */
function stageCtx(root: string) {
  const io = { state: undefined as unknown, killOnSave: false, committed: {} as Record<string, string> };
  const ctx = {
    key: 'iter-1/executor-train',
    dir: path.join(root, 'iter-1', 'executor-train'),
    runDir: new RunDir(root),
    log: new Logger('test', 'error'),
    loadState: async () => io.state,
    saveState: async (s: unknown) => {
      if (io.killOnSave) throw new Error('killed');
      io.state = s;
    },
    commitCheckpoint: async (name: string, dir: string) => {
      io.committed[name] = dir;
    },
  } as unknown as StageContext;
  return { ctx, io };
}

const asPolicy = (p: FilePolicy) => p as unknown as Policy;

async function fails(p: Promise<unknown>): Promise<void> {
  let failed = false;
  await p.catch(() => {
    failed = true;
  });
  expect(failed, 'expected the save to die').to.equal(true);
}

describe('pipeline: step and committed checkpoints (issue 15 item 6)', () => {
  it('a kill after the weights were written leaves the last step checkpoint whole', async () => {
    const { ctx } = stageCtx(await tmpDir());
    const p = new FilePolicy();
    p.version = 1;
    await saveStep(ctx, asPolicy(p), 1);
    p.version = 2;
    p.killAfterWeights = true;
    await fails(saveStep(ctx, asPolicy(p), 2));
    const resumed = new FilePolicy();
    expect(await resumeSteps(ctx, asPolicy(resumed), 'test')).to.equal(1);
    expect(resumed.loaded).to.deep.equal({ weights: 'w1', optimizer: 'o1' });
  });

  it('a kill after the checkpoint but before the step was recorded resumes the recorded step with its own weights', async () => {
    const { ctx, io } = stageCtx(await tmpDir());
    const p = new FilePolicy();
    p.version = 1;
    await saveStep(ctx, asPolicy(p), 1);
    p.version = 2;
    io.killOnSave = true;
    await fails(saveStep(ctx, asPolicy(p), 2));
    io.killOnSave = false;
    const resumed = new FilePolicy();
    expect(await resumeSteps(ctx, asPolicy(resumed), 'test')).to.equal(1);
    expect(resumed.loaded).to.deep.equal({ weights: 'w1', optimizer: 'o1' });
    // the newer checkpoint no state names is gone, and nothing half-written is left
    expect(await fs.readdir(ctx.dir)).to.deep.equal(['checkpoint-1']);
  });

  it('re-committing a policy that dies mid-save keeps the committed checkpoint whole', async () => {
    const root = await tmpDir();
    const { ctx, io } = stageCtx(root);
    const p = new FilePolicy();
    p.version = 1;
    const dir = await commitPolicy(ctx, 'executor', asPolicy(p));
    expect(io.committed.executor).to.equal(dir);
    p.version = 2;
    p.killAfterWeights = true;
    await fails(commitPolicy(ctx, 'executor', asPolicy(p)));
    const loaded = new FilePolicy();
    await loaded.load(dir);
    expect(loaded.loaded).to.deep.equal({ weights: 'w1', optimizer: 'o1' });
  });
});

describe('pipeline: the report after a full disk tore metrics.jsonl (issue 15 item 8)', () => {
  it('builds the report once later rows were appended after the torn one', async () => {
    const runDir = new RunDir(await tmpDir());
    await runDir.saveState({
      done: ['iter-1/executor-train'],
      checkpoints: {},
      summaries: { 'iter-1/executor-train': { seconds: 1 } },
    });
    await runDir.appendJsonl('metrics.jsonl', [{ stage: 'executor-train', iteration: 1, step: 0, reward: 0.5 }]);
    await fs.appendFile(runDir.path('metrics.jsonl'), '{"stage":"executor-train","iteration":1,"step":1,"rew'); // ENOSPC mid-write
    await runDir.appendJsonl('metrics.jsonl', [{ stage: 'executor-train', iteration: 1, step: 1, reward: 0.75 }]);
    const md = await buildReport(runDir, {
      baseline: 'baseline',
      evaluate: 'evaluate',
      generate: 'generate',
      curate: 'curate',
      title: 'T',
      note: 'n',
    });
    expect(md).to.contain('# T');
    expect((await runDir.readJsonl<{ step: number }>('metrics.jsonl')).map((r) => r.step)).to.deep.equal([0, 1]);
  });
});
