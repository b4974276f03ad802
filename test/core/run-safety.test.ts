import { spawn, spawnSync } from 'node:child_process';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import {
  appendLines,
  COMPLETE_MARKER,
  defineComponent,
  definePlugin,
  loadRecipe,
  Logger,
  readJsonl,
  recoverDir,
  recoverTree,
  Registry,
  replaceDirAtomic,
  runPipeline,
  type PipelineStage,
  type Tool,
} from '../../core/index.js';
import { tmpDir, writeRecipes } from './helpers.js';

// Issue 15, items 7-9: interrupted checkpoint swaps, metric rows after a resume, the run-folder lock.

/** A checkpointable component: save() writes its value, load() reads it back. */
class Box {
  value = 'v0';
  loaded: string | undefined;
  async save(dir: string) {
    await fs.writeFile(path.join(dir, 'value.txt'), this.value);
  }
  async load(dir: string) {
    this.loaded = await fs.readFile(path.join(dir, 'value.txt'), 'utf8');
  }
}
const boxes: Box[] = [];
/** Test switches: a simulated kill at a step, and a gate a stage waits on. */
const knobs: { crashAt: number; gate?: Promise<void> } = { crashAt: -1 };

const plugin = definePlugin({
  meta: { name: 'agent0/run-safety-fixture', version: '1' },
  components: [
    defineComponent({
      kind: 'tool',
      name: 'box',
      description: 'checkpointable',
      options: { type: 'object' },
      create: () => {
        const b = new Box();
        boxes.push(b);
        return b as unknown as Tool;
      },
    }),
    defineComponent({
      kind: 'stage',
      name: 'commit',
      description: 'commits the box under one folder every iteration',
      options: { type: 'object' },
      create: (): PipelineStage => ({
        async run(ctx) {
          const box = await ctx.get<Box>('box');
          box.value = `v${ctx.iteration}`;
          const dir = ctx.runDir.path('checkpoints', 'box');
          await replaceDirAtomic(dir, (tmp) => box.save(tmp));
          await ctx.commitCheckpoint('box', dir);
        },
      }),
    }),
    defineComponent({
      kind: 'stage',
      name: 'steps',
      description: 'logs a metric per step, saves state every 2 steps',
      options: { type: 'object' },
      create: (): PipelineStage => ({
        async run(ctx) {
          await knobs.gate;
          for (let s = (await ctx.loadState<{ step: number }>())?.step ?? 0; s < 5; s++) {
            await ctx.metrics.log({ stage: ctx.name, iteration: ctx.iteration, step: s, value: s });
            if (knobs.crashAt === s) {
              knobs.crashAt = -1;
              throw new Error('killed');
            }
            if ((s + 1) % 2 === 0) await ctx.saveState({ step: s + 1 });
          }
        },
      }),
    }),
  ],
});

const quiet = new Logger('test', 'error');
const recipeText = (loop: string, iterations = 1) => `name: t
components:
  box: { use: tool/box }
pipeline:
  iterations: ${iterations}
  loop: [ { use: stage/${loop} } ]
`;

async function setup(loop: string, iterations = 1) {
  const dir = await writeRecipes({ 'r.yaml': recipeText(loop, iterations) });
  const reg = new Registry();
  reg.register(plugin);
  return { recipe: await loadRecipe(path.join(dir, 'r.yaml'), reg, [], dir), reg };
}

async function fails(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected a failure');
}

/** The pid of a process that has exited. */
function deadPid(): number {
  return spawnSync(process.execPath, ['-e', '']).pid as number;
}

describe('run safety: interrupted checkpoint swaps (issue 15 item 7)', () => {
  it('resumes from the newest complete copy when a kill fell between the two renames, and drops the rest', async () => {
    const { recipe, reg } = await setup('commit', 2);
    const runDir = await tmpDir();
    const target = path.join(runDir, 'checkpoints', 'box');
    // iteration 2's swap dies after moving the old folder away, before moving the new one in
    const real = fs.rename;
    let calls = 0;
    fs.rename = (async (from: string, to: string) => {
      if (to === target && ++calls === 2) throw new Error('killed between the renames');
      return real(from, to);
    }) as typeof fs.rename;
    try {
      expect((await fails(runPipeline(recipe, reg, { runDir, log: quiet }))).message).to.equal(
        'killed between the renames',
      );
    } finally {
      fs.rename = real;
    }
    expect(
      await fs.stat(target).then(
        () => true,
        () => false,
      ),
    ).to.equal(false);
    const res = await runPipeline(recipe, reg, { runDir, log: quiet, resume: true });
    expect(res.executed).to.deep.equal(['iter-2/commit']);
    expect(boxes[boxes.length - 1]?.loaded).to.equal('v2');
    expect((await fs.readdir(path.dirname(target))).sort()).to.deep.equal(['box']);
  });

  it('restores only a copy whose completion marker was written', async () => {
    const dir = path.join(await tmpDir(), 'ckpt');
    await replaceDirAtomic(dir, (tmp) => fs.writeFile(path.join(tmp, 'w'), 'old'));
    const pid = deadPid();
    await fs.rename(dir, `${dir}.old-${pid}-1`);
    // a newer copy whose fill was cut short: no marker, never restored
    await fs.mkdir(`${dir}.tmp-${pid}-2`);
    await fs.writeFile(path.join(`${dir}.tmp-${pid}-2`, 'w'), 'new, torn');
    expect(await recoverDir(dir)).to.equal(true);
    expect(await fs.readFile(path.join(dir, 'w'), 'utf8')).to.equal('old');
    expect(await fs.readdir(dir)).to.include(COMPLETE_MARKER);
    expect((await fs.readdir(path.dirname(dir))).sort()).to.deep.equal(['ckpt']);
  });
});

describe('run safety: other kill points of a swap (issue 15 audit)', () => {
  it('restores a lone complete .old copy, and removes unmarked and half-deleted copies at any stage depth', async () => {
    const root = await tmpDir();
    const pid = deadPid();
    // killed between the renames of a swap whose new copy never got its marker
    const a = path.join(root, 'checkpoints', 'iter-1-executor-train', 'executor');
    await replaceDirAtomic(a, (tmp) => fs.writeFile(path.join(tmp, 'w'), 'committed'));
    await fs.rename(a, `${a}.old-${pid}-5`);
    await fs.mkdir(`${a}.tmp-${pid}-6`);
    // killed while the old copy was being removed, after the new one was in place
    const b = path.join(root, 'iter-1', 'executor-train', 'checkpoint-4');
    await replaceDirAtomic(b, (tmp) => fs.writeFile(path.join(tmp, 'w'), 'step 4'));
    await fs.mkdir(`${b}.old-${pid}-7`);
    await fs.writeFile(path.join(`${b}.old-${pid}-7`, 'w'), 'half');
    await recoverTree(root);
    expect(await fs.readFile(path.join(a, 'w'), 'utf8')).to.equal('committed');
    expect(await fs.readFile(path.join(b, 'w'), 'utf8')).to.equal('step 4');
    expect(await fs.readdir(path.dirname(a))).to.deep.equal(['executor']);
    expect(await fs.readdir(path.dirname(b))).to.deep.equal(['checkpoint-4']);
  });
});

describe('run safety: JSONL files and metric rows (issue 15 item 8)', () => {
  it('skips a torn last line and names the file and line of a bad line elsewhere', async () => {
    const file = path.join(await tmpDir(), 'm.jsonl');
    await fs.writeFile(file, '{"a":1}\n{"b":\n');
    expect(await readJsonl(file)).to.deep.equal([{ a: 1 }]);
    await fs.writeFile(file, '{"a":1}\n{"b":\n{"c":3}\n');
    expect((await fails(readJsonl(file))).message).to.match(
      new RegExp(`^${file.replace(/[.\\/]/g, '\\$&')}:2: invalid JSON line`),
    );
  });

  it('cuts a torn tail before appending, so a full disk never leaves a torn line mid-file', async () => {
    const file = path.join(await tmpDir(), 'metrics.jsonl');
    await fs.writeFile(file, '{"step":0}\n{"step":1,"lo');
    await appendLines(file, ['{"step":1}']);
    expect(await fs.readFile(file, 'utf8')).to.equal('{"step":0}\n{"step":1}\n');
  });

  it('rolls back an append that a full disk cut short, so readers and the next append see whole lines', async () => {
    const file = path.join(await tmpDir(), 'metrics.jsonl');
    await appendLines(file, ['{"step":0}']);
    const h = await fs.open(file, 'r');
    const proto = Object.getPrototypeOf(h) as { appendFile: (data: string) => Promise<void> };
    await h.close();
    const real = proto.appendFile;
    proto.appendFile = async function (this: fs.FileHandle, data: string) {
      await real.call(this, data.slice(0, 5));
      throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
    };
    try {
      expect((await fails(appendLines(file, ['{"step":1,"loss":0.5}']))).message).to.match(/^ENOSPC/);
    } finally {
      proto.appendFile = real;
    }
    expect(await fs.readFile(file, 'utf8')).to.equal('{"step":0}\n');
    await appendLines(file, ['{"step":1}']);
    expect(await readJsonl(file)).to.deep.equal([{ step: 0 }, { step: 1 }]);
  });

  for (const crashAt of [3, 1]) {
    it(`logs each step once when a stage killed at step ${crashAt} resumes (${crashAt === 3 ? 'from its saved state' : 'from its start'})`, async () => {
      const { recipe, reg } = await setup('steps');
      const runDir = await tmpDir();
      knobs.crashAt = crashAt;
      await fails(runPipeline(recipe, reg, { runDir, log: quiet }));
      await runPipeline(recipe, reg, { runDir, log: quiet, resume: true });
      const rows = await readJsonl<{ step: number }>(path.join(runDir, 'metrics.jsonl'));
      expect(rows.map((r) => r.step)).to.deep.equal([0, 1, 2, 3, 4]);
    });
  }
});

describe('run safety: the run-folder lock (issue 15 item 9)', () => {
  it('refuses a second writer (a --resume of a live run) naming the pid that holds the folder', async () => {
    const { recipe, reg } = await setup('steps');
    const runDir = await tmpDir();
    let open!: () => void;
    knobs.gate = new Promise<void>((r) => {
      open = r;
    });
    const first = runPipeline(recipe, reg, { runDir, log: quiet });
    try {
      for (
        let i = 0;
        i < 100 &&
        !(await fs.stat(path.join(runDir, 'state.json')).then(
          () => true,
          () => false,
        ));
        i++
      )
        await new Promise((r) => setTimeout(r, 20));
      const err = await fails(runPipeline(recipe, reg, { runDir, log: quiet, resume: true }));
      expect(err.message).to.contain(`in use by process ${process.pid}`);
      expect(err.message).to.contain(path.join(runDir, 'run.lock'));
    } finally {
      open();
      knobs.gate = undefined;
    }
    expect((await first).executed).to.deep.equal(['iter-1/steps']);
    expect(await fs.readdir(runDir)).to.not.include('run.lock');
  });

  it('takes over a stale lock of a dead process, and refuses one of a live process', async () => {
    const { recipe, reg } = await setup('steps');
    const runDir = await tmpDir();
    const lock = (pid: number) =>
      fs.writeFile(path.join(runDir, 'run.lock'), JSON.stringify({ pid, host: os.hostname(), startedAt: 'then' }));
    const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)'], { stdio: 'ignore' });
    try {
      await lock(child.pid as number);
      expect((await fails(runPipeline(recipe, reg, { runDir, log: quiet }))).message).to.contain(
        `in use by process ${child.pid}`,
      );
    } finally {
      child.kill();
    }
    await lock(deadPid());
    expect((await runPipeline(recipe, reg, { runDir, log: quiet })).executed).to.deep.equal(['iter-1/steps']);
  });

  it('takes over a lock naming its own pid that it does not hold (a restarted container reuses pids)', async () => {
    const { recipe, reg } = await setup('steps');
    const runDir = await tmpDir();
    await fs.writeFile(
      path.join(runDir, 'run.lock'),
      JSON.stringify({ pid: process.pid, host: os.hostname(), startedAt: 'before the restart' }),
    );
    expect((await runPipeline(recipe, reg, { runDir, log: quiet })).executed).to.deep.equal(['iter-1/steps']);
    expect(await fs.readdir(runDir)).to.not.include('run.lock');
  });
});
