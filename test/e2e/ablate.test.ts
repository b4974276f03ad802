import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { agent0, root } from './cli.js';

describe('end to end: agent0 ablate on the smoke recipe', function () {
  this.timeout(900_000);

  it('runs the full recipe and two variants, shares the bootstrap, and writes the table', async () => {
    const work = await fs.mkdtemp(path.join(os.tmpdir(), 'agent0-ablate-'));
    const smoke = path.join(root, 'recipes', 'smoke.yaml');
    const variants = path.join(work, 'variants');
    await fs.mkdir(variants);
    await fs.writeFile(
      path.join(variants, 'executor_grpo.yaml'),
      `extends: ${smoke}\nname: v_grpo\npipeline:\n  loop:\n    executor-train:\n      options: { advantage: grpo, loss: ppo_clip }\n`,
    );
    await fs.writeFile(
      path.join(variants, 'no_curriculum_training.yaml'),
      `extends: ${smoke}\nname: v_nocur\npipeline:\n  loop:\n    curriculum-train: null\n`,
    );
    const out = path.join(work, 'out');
    const r = await agent0(
      ['ablate', variants, '--seeds', '1', '--out', out, '--set', 'pipeline.setup.bootstrap.options.cache=true'],
      work,
    );
    expect(r.code, r.err.slice(-3000)).to.equal(0);
    const csv = (await fs.readFile(path.join(out, 'ablation.csv'), 'utf8')).trim().split('\n');
    expect(csv[0]).to.match(/^variant,seeds,easy_mean/);
    expect(csv.slice(1).map((l) => l.split(',')[0])).to.deep.equal(['full', 'executor_grpo', 'no_curriculum_training']);
    const md = await fs.readFile(path.join(out, 'ablation.md'), 'utf8');
    expect(md).to.contain('| full |').and.to.contain('| no_curriculum_training |');
    expect(await fs.readFile(path.join(out, 'ablation.svg'), 'utf8')).to.match(/^<svg/);
    // the first run trains the base model, the others reuse it from the cache
    const cached = async (v: string) =>
      (
        JSON.parse(await fs.readFile(path.join(out, v, 'seed-0', 'state.json'), 'utf8')) as {
          summaries: Record<string, { cached: number }>;
        }
      ).summaries['setup/bootstrap']?.cached;
    expect(await cached('full')).to.equal(0);
    expect(await cached('executor_grpo')).to.equal(1);
    const nocur = JSON.parse(
      await fs.readFile(path.join(out, 'no_curriculum_training', 'seed-0', 'state.json'), 'utf8'),
    ) as { done: string[] };
    expect(nocur.done).to.not.include('iter-1/curriculum-train');
    // a second invocation finds every run finished and only rebuilds the table
    const again = await agent0(
      ['ablate', variants, '--seeds', '1', '--out', out, '--set', 'pipeline.setup.bootstrap.options.cache=true'],
      work,
    );
    expect(again.code, again.err.slice(-2000)).to.equal(0);
    expect(again.err).to.not.contain('── stage');
  });
});
