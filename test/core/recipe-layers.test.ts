import path from 'node:path';
import { expect } from 'chai';
import { defineComponent, definePlugin, loadRecipe, RecipeError, Registry } from '../../core/index.js';
import {
  applySets,
  loadLayers,
  locate,
  MAX_RECIPE_FILES,
  mergeRecipe,
  parseSet,
  stageName,
  type Layered,
} from '../../core/recipe/layers.js';
import { recipePlugins, recipeUses } from '../../core/recipe/load.js';
import { ajvProblems, compileOptions } from '../../core/recipe/validate.js';
import { describeValue, formatProblem } from '../../core/recipe/errors.js';
import { shapeProblems } from '../../core/recipe/limits.js';
import { testPlugin, writeRecipes } from './helpers.js';

/** The RecipeError `f` throws (fails the test when it throws nothing or something else). */
async function recipeError(f: () => unknown): Promise<RecipeError> {
  try {
    await f();
  } catch (e) {
    expect(e, (e as Error).stack).to.be.instanceOf(RecipeError);
    return e as RecipeError;
  }
  throw new Error('expected a RecipeError');
}

const layered = (
  data: Record<string, unknown>,
  locations: [string, { source: string; line: number; col: number }][] = [],
): Layered => ({ data, locations: new Map(locations), files: [] });

describe('recipe layers: merging', () => {
  it('merges maps deeply and replaces lists; a component whose use changes is replaced whole', () => {
    const base = {
      a: { b: 1, c: [1, 2] },
      components: { x: { use: 'tool/a', options: { p: 1, q: 2 } } },
      other: { x: { use: 'a', o: 1 } },
    };
    expect(mergeRecipe(base, { a: { c: [3] }, components: { x: { options: { q: 3 } } } })).to.deep.equal({
      a: { b: 1, c: [3] },
      components: { x: { use: 'tool/a', options: { p: 1, q: 3 } } },
      other: { x: { use: 'a', o: 1 } },
    });
    expect(mergeRecipe(base, { components: { x: { use: 'tool/b' } } }).components).to.deep.equal({
      x: { use: 'tool/b' },
    });
    // only entries under components are replaced on a new `use`
    expect(mergeRecipe(base, { other: { x: { use: 'b' } } }).other).to.deep.equal({ x: { use: 'b', o: 1 } });
    expect(base.a.c, 'inputs untouched').to.deep.equal([1, 2]);
  });

  it('patches pipeline stages by name (null removes one) and names what it cannot find', async () => {
    const base = {
      pipeline: { loop: [{ use: 'stage/a' }, { use: 'stage/b', options: { n: 1 } }, { use: 'stage/a', name: 'a2' }] },
    };
    expect(mergeRecipe(base, { pipeline: { loop: { b: { options: { m: 2 } }, a2: null } } })).to.deep.equal({
      pipeline: { loop: [{ use: 'stage/a' }, { use: 'stage/b', options: { n: 1, m: 2 } }] },
    });
    expect((await recipeError(() => mergeRecipe(base, { pipeline: { loop: { zz: null } } }))).message).to.equal(
      "pipeline.loop: pipeline.loop: no stage named 'zz'; stages here: a, b, a2",
    );
    expect((await recipeError(() => mergeRecipe(base, { pipeline: { loop: { b: 3 } } }))).problems[0]).to.deep.equal({
      source: 'pipeline.loop',
      path: 'pipeline.loop.b',
      message: 'expected a stage patch (mapping) or null, found 3',
    });
    expect([
      stageName({ name: 'x', use: 'stage/y' }),
      stageName({ use: 'stage/y' }),
      stageName('s'),
      stageName({}),
    ]).to.deep.equal(['x', 'y', undefined, undefined]);
  });
});

describe('recipe layers: --set', () => {
  it('splits at the first =, turns numeric segments into indices and reads the value as YAML', () => {
    expect(parseSet('a.b.0.c=value')).to.deep.equal({ parts: ['a', 'b', 0, 'c'], value: 'value' });
    expect(parseSet('x=3').value).to.equal(3);
    expect(parseSet('x=[1, 2]').value).to.deep.equal([1, 2]);
    expect(parseSet('x={a: 1}').value).to.deep.equal({ a: 1 });
    expect(parseSet('x=').value).to.equal(null);
    expect(parseSet('x=a=b').value).to.equal('a=b');
  });

  it('refuses a --set without a key, with an empty segment or with a value that is not YAML', async () => {
    expect((await recipeError(() => parseSet('novalue'))).message).to.equal(
      "--set novalue: (recipe): expected key.path=value, found no '=' (or an empty key)",
    );
    expect((await recipeError(() => parseSet('=3'))).problems[0]?.message).to.contain("found no '='");
    expect((await recipeError(() => parseSet('a..b=1'))).problems[0]?.message).to.equal(
      "expected a dotted key like a.b.c, found an empty segment in 'a..b'",
    );
    const bad = await recipeError(() => parseSet('x=[1,'));
    expect(bad.problems[0]?.source).to.equal('--set x=[1,');
    expect(bad.problems[0]?.message).to.match(/^value is not valid YAML: /);
  });

  it('creates the containers a path needs and owns the locations under it', () => {
    const l = layered({}, [
      ['a.b', { source: 'r.yaml', line: 2, col: 1 }],
      ['a.b.c', { source: 'r.yaml', line: 3, col: 1 }],
      ['a.b#key', { source: 'r.yaml', line: 2, col: 1 }],
      ['a.bc', { source: 'r.yaml', line: 4, col: 1 }],
    ]);
    applySets(l, ['a.b=5', 'x.0.y=1', 'toString.z=1']);
    expect(l.data).to.deep.equal({ a: { b: 5 }, x: [{ y: 1 }], toString: { z: 1 } });
    expect([...l.locations.keys()].sort()).to.deep.equal(['a.b', 'a.bc', 'toString.z', 'x.0.y']);
    expect(l.locations.get('a.b')).to.deep.equal({ source: '--set a.b=5', line: 0, col: 0 });
  });

  it('addresses a pipeline stage by name', () => {
    const l = layered({
      pipeline: {
        loop: [
          { use: 'stage/x', options: {} },
          { use: 'stage/y', options: {} },
        ],
      },
    });
    applySets(l, ['pipeline.loop.y.options.k=1']);
    expect((l.data.pipeline as { loop: { options: object }[] }).loop[1]?.options).to.deep.equal({ k: 1 });
    expect(l.locations.has('pipeline.loop.1.options.k')).to.equal(true);
  });

  it('collects every bad --set, still applying the good ones', async () => {
    const l = layered({ a: 1, pipeline: { loop: [{ use: 'stage/x' }] } });
    const e = await recipeError(() => applySets(l, ['a.b=2', 'ok=1', 'pipeline.loop.zz.options.k=1']));
    expect(e.problems.map((p) => [p.path, p.message])).to.deep.equal([
      ['a', 'cannot set a key inside a number value (1)'],
      ['--set pipeline.loop.zz.options.k=1', "no stage named 'zz'; stages here: x"],
    ]);
    expect(l.data.ok).to.equal(1);
  });

  it('locates a path by its nearest recorded ancestor (an override: its source only)', () => {
    const locs = new Map([
      ['a', { source: 'f', line: 1, col: 1 }],
      ['a.b#key', { source: 'f', line: 2, col: 3 }],
      ['c', { source: '--set c=1', line: 0, col: 0 }],
    ]);
    expect(locate(locs, 'a.b.c')).to.deep.equal({ source: 'f', line: 1, col: 1 });
    expect(locate(locs, 'a.b', true)).to.deep.equal({ source: 'f', line: 2, col: 3 });
    expect(locate(locs, 'c.d')).to.deep.equal({ source: '--set c=1' });
    expect(locate(locs, 'zz')).to.deep.equal({});
  });
});

describe('recipe layers: extends', () => {
  it('merges parents in list order, then the file itself', async () => {
    const dir = await writeRecipes({
      'p1.yaml': 'x: 1\ny: 1\n',
      'p2.yaml': 'y: 2\n',
      'r.yaml': 'extends: [p1.yaml, p2.yaml]\nz: 3\ny: 4\n',
      'e.yaml': '',
    });
    const l = await loadLayers(path.join(dir, 'r.yaml'), dir);
    expect(l.data).to.deep.equal({ x: 1, y: 4, z: 3 });
    expect(l.files).to.deep.equal(['p1.yaml', 'p2.yaml', 'r.yaml']);
    expect(l.locations.get('x')).to.deep.equal({ source: 'p1.yaml', line: 1, col: 4 });
    expect((await loadLayers(path.join(dir, 'e.yaml'), dir)).data).to.deep.equal({});
  });

  it('blames the extends entry for a parent that is not a path or cannot be read', async () => {
    const dir = await writeRecipes({
      'r.yaml': 'a: 1\nextends: [3]\n',
      'm.yaml': 'extends: gone.yaml\n',
      'l.yaml': '- a\n',
    });
    expect((await recipeError(() => loadLayers(path.join(dir, 'r.yaml'), dir))).message).to.equal(
      'r.yaml:2:11: extends: expected a recipe path (string), found number',
    );
    expect((await recipeError(() => loadLayers(path.join(dir, 'm.yaml'), dir))).message).to.match(
      /^m\.yaml:1:10: extends: cannot read recipe: ENOENT.* \(gone\.yaml\)$/,
    );
    expect((await recipeError(() => loadLayers(path.join(dir, 'l.yaml'), dir))).message).to.equal(
      'l.yaml:1:1: (recipe): expected a mapping at the top of the recipe, found a list',
    );
  });

  it(`reads at most ${MAX_RECIPE_FILES} files through extends`, async () => {
    const files: Record<string, string> = {};
    for (let i = 0; i < MAX_RECIPE_FILES; i++) files[`r${i}.yaml`] = `extends: r${i + 1}.yaml\n`;
    files[`r${MAX_RECIPE_FILES}.yaml`] = 'x: 1\n';
    const dir = await writeRecipes(files);
    expect((await recipeError(() => loadLayers(path.join(dir, 'r0.yaml'), dir))).message).to.equal(
      `r${MAX_RECIPE_FILES - 1}.yaml:1:10: extends: expected at most ${MAX_RECIPE_FILES} recipe files through extends, found more`,
    );
    expect((await loadLayers(path.join(dir, 'r1.yaml'), dir)).data).to.deep.equal({ x: 1 });
  });
});

describe('recipe validation: what the tests of recipes did not reach', () => {
  const anyPolicy = definePlugin({
    meta: { name: 'agent0/any-policy', version: '1' },
    components: [
      defineComponent({
        kind: 'policy',
        name: 'free',
        description: 'any options',
        options: { type: 'object' },
        create: () => {
          throw new Error('unused');
        },
      }),
    ],
  });
  const registry = () => {
    const r = new Registry();
    r.register(testPlugin);
    r.register(anyPolicy);
    return r;
  };
  const recipe = (loop: string, extra = '') =>
    `components:\n  counter: { use: tool/counter, options: { label: a } }\n  p: { use: policy/free }\n${extra}pipeline:\n  loop:\n${loop}`;

  it('refuses two stages of one name in a section, and a reference to an instance of another kind', async () => {
    const dir = await writeRecipes({
      'twice.yaml': recipe('    - use: stage/touch\n    - use: stage/touch\n'),
      'kind.yaml': recipe('    - use: stage/touch\n      options: { tool: p }\n'),
    });
    expect((await recipeError(() => loadRecipe(path.join(dir, 'twice.yaml'), registry(), [], dir))).message).to.equal(
      "twice.yaml:7:7: pipeline.loop.1.name: expected a unique stage name in pipeline.loop, found 'touch' twice (set name: to tell them apart)",
    );
    expect((await recipeError(() => loadRecipe(path.join(dir, 'kind.yaml'), registry(), [], dir))).message).to.equal(
      "kind.yaml:7:24: pipeline.loop.0.options.tool: expected the name of a tool instance under components (counter), found 'p' (a policy). Did you mean 'counter'?",
    );
  });

  it('says what an option expected and found, once per value', () => {
    const def = {
      options: {
        type: 'object',
        properties: {
          m: { enum: ['a', 'b'] },
          n: { type: 'integer', minimum: 1 },
          s: { type: 'string', pattern: '^x' },
          u: { anyOf: [{ type: 'string' }, { type: 'integer' }] },
        },
      },
    };
    const v = compileOptions(def);
    const data = { m: 'c', n: 0, s: 'y', u: true };
    expect(v(data)).to.equal(false);
    const problems = ajvProblems(v.errors ?? [], data, ['x']);
    expect(problems.filter((p) => p.path !== 'x.u')).to.deep.equal([
      { path: 'x.m', message: 'expected one of "a", "b", found string "c"' },
      { path: 'x.n', message: 'expected a value >= 1, found integer 0' },
      { path: 'x.s', message: 'expected a string matching ^x, found string "y"' },
    ]);
    // anyOf: its summary only, not one error per branch
    expect(problems.filter((p) => p.path === 'x.u')).to.have.length(1);
  });

  it('lists the ids a recipe uses, and its plugins after --set', async () => {
    expect(
      recipeUses({
        components: { a: { use: 'tool/x' }, b: {} },
        pipeline: { setup: [{ use: 'stage/s' }], loop: 'bad', teardown: [{ use: 'stage/r' }, null] },
      }),
    ).to.deep.equal(['tool/x', 'stage/s', 'stage/r']);
    expect(recipeUses(null)).to.deep.equal([]);
    const dir = await writeRecipes({ 'r.yaml': 'plugins: [one]\n' });
    expect(await recipePlugins(path.join(dir, 'r.yaml'), [], dir)).to.deep.equal(['one']);
    expect(await recipePlugins(path.join(dir, 'r.yaml'), ['plugins=[a, 3]'], dir)).to.deep.equal(['a']);
  });
});

describe('recipe errors and limits', () => {
  it('formats a problem with as much of its place as is known', () => {
    expect(formatProblem({ source: 'r.yaml', line: 3, col: 4, path: 'a.b', message: 'm' })).to.equal(
      'r.yaml:3:4: a.b: m',
    );
    expect(formatProblem({ source: 'r.yaml', line: 3, path: 'a.b', message: 'm' })).to.equal('r.yaml:3: a.b: m');
    expect(formatProblem({ source: '--set a=1', path: 'a', message: 'm' })).to.equal('--set a=1: a: m');
    expect(formatProblem({ path: '', message: 'm' })).to.equal('(recipe): m');
    const e = new RecipeError([
      { path: 'a', message: 'x' },
      { path: 'b', message: 'y' },
    ]);
    expect([e.name, e.message]).to.deep.equal(['RecipeError', 'a: x\nb: y']);
  });

  it('describes a found value by type, cut at 60 characters', () => {
    expect([undefined, null, [1, 2], { a: 1 }, 3, 1.5, 'x'].map(describeValue)).to.deep.equal([
      'nothing',
      'null',
      'array [1,2]',
      'object {"a":1}',
      'integer 3',
      'number 1.5',
      'string "x"',
    ]);
    const long = describeValue('y'.repeat(100));
    expect(long).to.equal(`string "${'y'.repeat(56)}...`);
  });

  it('finds model shape fields over their maxima at any depth', () => {
    expect(
      shapeProblems(
        { a: [{ hidden_size: 70000 }], b: { vocab_size: 10, num_hidden_layers: 1025 }, c: { hidden_size: 'big' } },
        ['o'],
      ),
    ).to.deep.equal([
      {
        parts: ['o', 'a', 0, 'hidden_size'],
        message: 'expected a value <= 65536 (a model shape field), found integer 70000',
      },
      {
        parts: ['o', 'b', 'num_hidden_layers'],
        message: 'expected a value <= 1024 (a model shape field), found integer 1025',
      },
    ]);
  });
});
