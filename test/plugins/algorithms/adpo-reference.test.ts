import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import {
  createRegistry,
  fillOptions,
  loadRecipe,
  Logger,
  RecipeError,
  Registry,
  RunDir,
  RunSession,
  type ComponentContext,
  type PolicyLoss,
  type ResolvedRecipe,
} from '../../../core/index.js';
import algorithms from '../../../plugins/algorithms/index.js';
import { builtinPlugins } from '../../../plugins/index.js';
import { ADPO_DEFAULTS, adpoClipHigh, adpoScale } from '../../../plugins/algorithms/public.js';
import { policyLossComponents } from '../../../plugins/algorithms/components/policy-loss.js';
import { advantageComponents } from '../../../plugins/algorithms/components/advantage.js';
import { tmpDir, writeRecipes } from '../../core/helpers.js';
import { build } from './helpers.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const clipDef = policyLossComponents.find((d) => d.name === 'adpo')!;
const advDef = advantageComponents.find((d) => d.name === 'adpo')!;

const recipe = (clipOptions: string) => `name: t
components:
  adpo:
    use: advantage/adpo
    options: { field: consistency, s_lo: 0.2, s_hi: 0.9 }
  grpo:
    use: advantage/grpo
  vanilla:
    use: policy-loss/vanilla
  adpo_clip:
    use: policy-loss/adpo
    options: ${clipOptions}
pipeline:
  iterations: 0
`;

function registry(): Registry {
  const reg = new Registry();
  reg.register(algorithms);
  return reg;
}

async function load(text: string): Promise<ResolvedRecipe> {
  const dir = await writeRecipes({ 'r.yaml': text });
  return loadRecipe(path.join(dir, 'r.yaml'), registry(), [], dir);
}

async function problemsOf(text: string): Promise<RecipeError> {
  const e = await load(text).then(
    () => null,
    (err: unknown) => err,
  );
  expect(e).to.be.instanceOf(RecipeError);
  return e as RecipeError;
}

async function withSession<T>(r: ResolvedRecipe, reg: Registry, f: (s: RunSession) => Promise<T>): Promise<T> {
  const session = new RunSession(r, reg, { runDir: new RunDir(await tmpDir()), log: new Logger('test', 'error') });
  try {
    return await f(session);
  } finally {
    await session.close();
  }
}

const S = [0, 0.2, 0.25, 0.5, 0.85, 0.9, 1];

function clipHighs(loss: PolicyLoss, field: string): number[] {
  return loss.wire!({ [field]: Float32Array.from(S) }, S.length).clipHigh;
}

describe('policy-loss/adpo takes field, s_lo and s_hi from the advantage/adpo instance it names', () => {
  it('the clip uses the referenced advantage scale (its field and bounds, not the defaults)', async () => {
    const r = await load(recipe('{ advantage: adpo, clip_ratio_high_boost: 0.15 }'));
    await withSession(r, registry(), async (session) => {
      const loss = await session.get('adpo_clip', 'policy-loss');
      expect(loss.requiredFields).to.deep.equal(['consistency']);
      const want = S.map((s) => adpoClipHigh(Math.fround(s), { clipHighBoost: 0.15, sLo: 0.2, sHi: 0.9 }));
      expect(clipHighs(loss, 'consistency')).to.deep.equal(want);
      // differs from the clip's own defaults (0.3 / 0.8) wherever s lies between the two ranges
      expect(want).to.not.deep.equal(S.map((s) => adpoClipHigh(Math.fround(s), { clipHighBoost: 0.15 })));
    });
  });

  it('leaves the taken options out of the resolved recipe (they are the advantage’s)', async () => {
    const r = await load(recipe('{ advantage: adpo }'));
    expect(r.components.adpo_clip?.options).to.deep.equal({
      advantage: 'adpo',
      clip_ratio: 0.2,
      clip_ratio_high_boost: 0.1,
      clip_high_form: 'linear',
      clip_ratio_c: null,
      entropy_coeff: 0,
    });
  });

  it('without a reference the clip keeps its own options, built at once as before', async () => {
    const r = await load(recipe('{ s_lo: 0.1 }'));
    expect(r.components.adpo_clip?.options).to.include({ advantage: null, field: 'selfConsistency', s_lo: 0.1 });
    const loss = build('policy-loss', 'adpo', { s_lo: 0.1 });
    expect(loss).to.not.be.instanceOf(Promise);
    expect(clipHighs(loss, 'selfConsistency')).to.deep.equal(S.map((s) => adpoClipHigh(Math.fround(s), { sLo: 0.1 })));
  });

  it('refuses its own copy beside the reference, located, before any work', async () => {
    const e = await problemsOf(recipe('{ advantage: adpo,\n      s_lo: 0.25 }'));
    expect(e.problems).to.have.length(1);
    expect(e.problems[0]).to.deep.include({ source: 'r.yaml', line: 13, path: 'components.adpo_clip.options.s_lo' });
    expect(e.message).to.equal(
      "r.yaml:13:13: components.adpo_clip.options.s_lo: expected no s_lo here (advantage names 'adpo', whose s_lo this component uses: set it there), found number 0.25",
    );
    const all = await problemsOf(recipe('{ advantage: adpo, field: s, s_lo: 0.2, s_hi: 0.9 }'));
    expect(all.problems.map((p) => p.path)).to.deep.equal(
      ['field', 's_lo', 's_hi'].map((k) => `components.adpo_clip.options.${k}`),
    );
  });

  it('refuses a reference to anything but an advantage/adpo instance, located, with what it found', async () => {
    const grpo = await problemsOf(recipe('{ advantage: grpo }'));
    expect(grpo.message).to.equal(
      "r.yaml:12:27: components.adpo_clip.options.advantage: expected the name of a advantage/adpo instance under components (adpo), found 'grpo' (a advantage/grpo). Did you mean 'adpo'?",
    );
    const loss = await problemsOf(recipe('{ advantage: vanilla }'));
    expect(loss.message).to.contain("found 'vanilla' (a policy-loss/vanilla)");
    const none = await problemsOf(recipe('{ advantage: adp }'));
    expect(none.message).to.contain('found string "adp". Did you mean \'adpo\'?');
  });

  it('fillOptions applies the same rule outside a recipe', () => {
    expect(() => fillOptions(clipDef, { advantage: 'adpo', s_hi: 0.9 })).to.throw(
      RecipeError,
      /^policy-loss\/adpo\.s_hi: expected no s_hi here/,
    );
    expect(fillOptions(clipDef, { advantage: 'adpo' })).to.not.have.any.keys('field', 's_lo', 's_hi');
  });

  it('an instance without the ADPO scale, reached outside validation, fails the build by name', async () => {
    const o = { ...fillOptions(clipDef, {}), advantage: 'g' };
    const ctx = { get: () => Promise.resolve(build('advantage', 'grpo')) } as unknown as ComponentContext;
    const err = await Promise.resolve(clipDef.create(o, ctx)).then(
      () => null,
      (e: Error) => e,
    );
    expect(err?.message).to.equal("policy-loss/adpo: 'g' is not an advantage/adpo instance");
  });

  it("the main job's adpo_clip references adpo: one --set on the advantage moves both", async () => {
    const file = 'recipes/math_tir_adpo.yaml';
    const reg = await createRegistry(builtinPlugins);
    const r = await loadRecipe(file, reg, ['components.adpo.options.s_hi=0.9'], root);
    expect(r.components.adpo_clip?.options).to.deep.include({ advantage: 'adpo' });
    await withSession(r, reg, async (session) => {
      const adv = await session.get('adpo', 'advantage');
      const loss = await session.get('adpo_clip', 'policy-loss');
      expect(adv.requiredFields).to.deep.equal(loss.requiredFields);
      expect(clipHighs(loss, 'selfConsistency')).to.deep.equal(
        S.map((s) => adpoClipHigh(Math.fround(s), { sHi: 0.9 })),
      );
    });
  });
});

describe('ADPO defaults are written once (ADPO_DEFAULTS)', () => {
  const props = (def: { options: Record<string, unknown> }) =>
    def.options.properties as Record<string, { default?: unknown }>;

  it('both schemas take their defaults from it', () => {
    expect(props(advDef).s_lo?.default).to.equal(ADPO_DEFAULTS.sLo);
    expect(props(advDef).s_hi?.default).to.equal(ADPO_DEFAULTS.sHi);
    expect(props(advDef).a_min?.default).to.equal(ADPO_DEFAULTS.aMin);
    expect(props(clipDef).clip_ratio?.default).to.equal(ADPO_DEFAULTS.clipRatio);
    expect(props(clipDef).clip_ratio_high_boost?.default).to.equal(ADPO_DEFAULTS.clipHighBoost);
    expect(props(clipDef).clip_high_form?.default).to.equal(ADPO_DEFAULTS.form);
  });

  it('the math functions default to the same numbers as the components', () => {
    const a = fillOptions(advDef, {}) as { s_lo: number; s_hi: number; a_min: number };
    const c = fillOptions(clipDef, {}) as { s_lo: number; s_hi: number; clip_ratio: number };
    for (const s of S) {
      expect(adpoScale(s)).to.equal(adpoScale(s, { sLo: a.s_lo, sHi: a.s_hi, aMin: a.a_min }));
      expect(adpoClipHigh(s)).to.equal(adpoClipHigh(s, { sLo: c.s_lo, sHi: c.s_hi, clipRatio: c.clip_ratio }));
    }
  });
});
