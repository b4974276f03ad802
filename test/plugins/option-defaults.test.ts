import fs from 'node:fs';
import { expect } from 'chai';
import { fillOptions, RecipeError } from '../../core/index.js';
import { advantageComponents } from '../../plugins/algorithms/components/advantage.js';
import { policyLossComponents } from '../../plugins/algorithms/components/policy-loss.js';
import { filledDefaults } from '../fixtures/options/make-defaults.js';

type Filled = Record<string, { input: Record<string, unknown>; options: unknown }>;

/**
 * The options types are inferred from the schemas; the schemas, and so what ajv hands to create(),
 * must not move. defaults.json was written from the code before the types were derived.
 */
const fixture = JSON.parse(
  fs.readFileSync(new URL('../fixtures/options/defaults.json', import.meta.url), 'utf8'),
) as Filled;

describe('option schemas of the built-in components', function () {
  this.timeout(60_000);
  let now: Filled;
  before(async () => {
    now = await filledDefaults();
  });

  it('the fixture covers exactly the registered components', () => {
    expect(Object.keys(now).sort()).to.deep.equal(Object.keys(fixture).sort());
  });

  for (const [id, want] of Object.entries(fixture)) {
    it(`${id}: a minimal input fills the same options, in the same key order`, () => {
      expect(now[id], id).to.not.equal(undefined);
      expect(JSON.stringify(now[id]?.options, null, 1)).to.equal(JSON.stringify(want.options, null, 1));
    });
  }

  it('advantage/adpo and policy-loss/adpo declare field, s_lo and s_hi alike', () => {
    const props = (defs: { name: string; options: Record<string, unknown> }[]) =>
      (defs.find((d) => d.name === 'adpo')?.options.properties ?? {}) as Record<string, unknown>;
    const adv = props(advantageComponents);
    const loss = props(policyLossComponents);
    for (const k of ['field', 's_lo', 's_hi']) {
      expect(adv[k], k).to.not.equal(undefined);
      expect(loss[k], k).to.deep.equal(adv[k]);
    }
  });
});

describe('fillOptions', () => {
  const adpo = advantageComponents.find((d) => d.name === 'adpo')!;

  it('returns a filled copy in schema order and leaves the input alone', () => {
    const input = { a_min: 0.5 };
    const o = fillOptions(adpo, input);
    expect(input).to.deep.equal({ a_min: 0.5 });
    expect(Object.keys(o)).to.deep.equal(['a_min', 'field', 's_lo', 's_hi', 'norm_adv_by_std_in_grpo', 'epsilon']);
    expect(o).to.deep.equal({
      a_min: 0.5,
      field: 'selfConsistency',
      s_lo: 0.3,
      s_hi: 0.8,
      norm_adv_by_std_in_grpo: true,
      epsilon: 1e-6,
    });
  });

  it('throws a RecipeError naming the component and the option', () => {
    expect(() => fillOptions(adpo, { a_min: 2 })).to.throw(RecipeError, /advantage\/adpo.*a_min/s);
    expect(() => fillOptions(adpo, { s_low: 0.2 })).to.throw(RecipeError, /s_low/);
  });
});
