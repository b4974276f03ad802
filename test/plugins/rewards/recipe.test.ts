import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import {
  createRegistry,
  defineComponent,
  definePlugin,
  DefaultCliEnv,
  RecipeError,
  type Plugin,
} from '../../../core/index.js';
import rewards from '../../../plugins/rewards/index.js';
import { numberVerifier, sample, traj } from './helpers.js';

// The math verifier is another plugin; a recipe-level test only needs some verifier instance.
const testVerifier: Plugin = definePlugin({
  meta: { name: 'rewards-test-verifier', version: '0.0.0' },
  components: [
    defineComponent({
      kind: 'verifier',
      name: 'rewards-test-number',
      description: 'numbers and strings',
      options: { type: 'object', additionalProperties: false, properties: {} },
      create: () => numberVerifier,
    }),
  ],
});

const RECIPE = `
name: rewards-recipe
components:
  verifier: { use: verifier/rewards-test-number }
  outcome: { use: reward/outcome, options: { wrong: 0, unparsable: 0 } }
  tools: { use: reward/tool-use }
  executor_reward: { use: reward/sum, options: { terms: [{ reward: outcome }, { reward: tools, weight: 2 }] } }
  curriculum_reward: { use: reward/curriculum, options: { variant: paper } }
pipeline: { iterations: 0 }
`;

describe('rewards in a recipe', () => {
  let dir = '';
  before(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'rewards-recipe-'));
  });
  after(async () => {
    await fs.rm(dir, { recursive: true, force: true });
  });

  const env = async () => {
    const builtins = [rewards, testVerifier];
    return new DefaultCliEnv(await createRegistry(builtins), { builtins, cwd: dir });
  };

  it('validates, builds the instances through ctx.get and scores', async () => {
    await fs.writeFile(path.join(dir, 'r.yaml'), RECIPE);
    const e = await env();
    const session = await e.openSession(await e.loadRecipe('r.yaml'));
    try {
      const exec = await session.get('executor_reward', 'reward');
      // outcome 1 + 2 * 0.05 * min(3, 4)
      const got = await exec.score([sample('\\boxed{2}', { answer: '2' }, { trajectory: traj({ toolCalls: 3 }) })]);
      expect(got[0]?.reward).to.be.closeTo(1.3, 1e-12);
      const cur = await session.get('curriculum_reward', 'reward');
      const r = await cur.score([
        sample(
          '',
          {},
          {
            extra: {
              question: 'q',
              ownAnswer: '1',
              executorAnswers: ['1', '2'],
              executorToolCalls: [0, 0],
              curriculumToolCalls: 0,
            },
          },
        ),
      ]);
      expect(r[0]?.reward).to.equal(0); // p = 0.5 → tent 1, minus R_rep = 1/1 (a batch of one)
    } finally {
      await session.close();
    }
  });

  it('reports a sum term that names no reward instance', async () => {
    await fs.writeFile(
      path.join(dir, 'bad.yaml'),
      RECIPE.replace('{ reward: tools, weight: 2 }', '{ reward: tool, weight: 2 }'),
    );
    const e = await env();
    let err: unknown;
    try {
      await e.loadRecipe('bad.yaml');
    } catch (x) {
      err = x;
    }
    expect(err).to.be.instanceOf(RecipeError);
    expect((err as Error).message).to.contain('components.executor_reward.options.terms.1.reward');
  });
});
