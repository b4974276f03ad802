import { promises as fs } from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';
import { parse } from 'yaml';
import { loadRecipe, Logger, Registry, runPipeline } from '../../core/index.js';
import { created, testPlugin, tmpDir, writeRecipes } from './helpers.js';

const recipeText = (iterations: number, failAt = 0) => `name: t
seed: 3
components:
  counter: { use: tool/counter, options: { label: a, step: 10 } }
pipeline:
  iterations: ${iterations}
  setup: [ { use: stage/touch, name: warmup } ]
  loop: [ { use: stage/touch, options: { failAt: ${failAt} } } ]
`;

const quiet = new Logger('test', 'error');

async function setup(text: string) {
  const dir = await writeRecipes({ 'r.yaml': text });
  const reg = new Registry();
  reg.register(testPlugin);
  return { recipe: await loadRecipe(path.join(dir, 'r.yaml'), reg, [], dir), reg };
}

describe('runs', () => {
  it('runs setup then the loop per iteration, writing state, metrics and the resolved recipe', async () => {
    const { recipe, reg } = await setup(recipeText(2));
    const runDir = await tmpDir();
    const res = await runPipeline(recipe, reg, { runDir, log: quiet, version: '9.9.9' });
    expect(res.executed).to.deep.equal(['setup/warmup', 'iter-1/touch', 'iter-2/touch']);
    expect(await fs.readFile(path.join(runDir, 'iter-2', 'touch', 'out.txt'), 'utf8')).to.equal('30');
    const resolved = parse(await fs.readFile(path.join(runDir, 'recipe.resolved.yaml'), 'utf8'));
    expect(resolved._meta).to.include({ agent0: '9.9.9', seed: 3 });
    expect(resolved._meta.plugins).to.deep.equal({ 'agent0/test-fixture': '1.2.3' });
    expect(resolved._meta.gitCommit).to.be.a('string');
    expect(resolved.components.counter.options).to.deep.equal({ label: 'a', step: 10 });
    const metrics = (await fs.readFile(path.join(runDir, 'metrics.jsonl'), 'utf8'))
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(metrics.map((m) => m.value)).to.deep.equal([10, 20, 30]);
  });

  it('two runs in one process do not share instances or state, and instances are disposed', async () => {
    const { recipe, reg } = await setup(recipeText(1));
    const before = created.length;
    const [a, b] = await Promise.all([
      runPipeline(recipe, reg, { runDir: await tmpDir(), log: quiet }),
      runPipeline(recipe, reg, { runDir: await tmpDir(), log: quiet }),
    ]);
    const mine = created.slice(before);
    expect(mine).to.have.length(2);
    expect(mine.map((t) => t.calls)).to.deep.equal([20, 20]);
    expect(mine.every((t) => t.disposed)).to.equal(true);
    for (const r of [a, b])
      expect(await fs.readFile(path.join(r.runDir, 'iter-1', 'touch', 'out.txt'), 'utf8')).to.equal('20');
  });

  it('refuses to overwrite a run, and --resume continues after a crash without redoing finished stages', async () => {
    const runDir = await tmpDir();
    const crashing = await setup(recipeText(3, 2));
    let err: Error | undefined;
    try {
      await runPipeline(crashing.recipe, crashing.reg, { runDir, log: quiet });
    } catch (e) {
      err = e as Error;
    }
    expect(err?.message).to.equal('boom at iter-2/touch');
    const state = JSON.parse(await fs.readFile(path.join(runDir, 'state.json'), 'utf8'));
    expect(state.done).to.deep.equal(['setup/warmup', 'iter-1/touch']);
    try {
      await runPipeline(crashing.recipe, crashing.reg, { runDir, log: quiet });
      expect.fail('should refuse without --resume');
    } catch (e) {
      expect((e as Error).message).to.contain('pass --resume');
    }
    // the same recipe with a different option is a different run
    const changed = await setup(recipeText(3, 0).replace('step: 10', 'step: 11'));
    try {
      await runPipeline(changed.recipe, changed.reg, { runDir, log: quiet, resume: true });
      expect.fail('should refuse a different recipe');
    } catch (e) {
      expect((e as Error).message).to.contain('its recipe differs');
    }
  });

  it('resumes and skips finished stages', async () => {
    const runDir = await tmpDir();
    const first = await setup(recipeText(1));
    await runPipeline(first.recipe, first.reg, { runDir, log: quiet });
    const again = await runPipeline(first.recipe, first.reg, { runDir, log: quiet, resume: true });
    expect(again.executed).to.deep.equal([]);
    expect(again.skipped).to.deep.equal(['setup/warmup', 'iter-1/touch']);
  });
});
