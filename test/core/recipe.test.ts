import path from 'node:path';
import { expect } from 'chai';
import { loadRecipe, Logger, RecipeError, Registry, RunDir, RunSession } from '../../core/index.js';
import { testPlugin, tmpDir, writeRecipes } from './helpers.js';

const base = `name: t
seed: 7
components:
  counter:
    use: tool/counter
    options:
      label: a
pipeline:
  iterations: 2
  loop:
    - use: stage/touch
`;

async function problems(files: Record<string, string>, entry: string, sets: string[] = []): Promise<string> {
  const dir = await writeRecipes(files);
  const reg = new Registry();
  reg.register(testPlugin);
  try {
    await loadRecipe(path.join(dir, entry), reg, sets, dir);
  } catch (e) {
    expect(e).to.be.instanceOf(RecipeError);
    return (e as Error).message;
  }
  throw new Error('expected a RecipeError');
}

describe('recipes', () => {
  let reg: Registry;
  beforeEach(() => {
    reg = new Registry();
    reg.register(testPlugin);
  });

  it('fills defaults, including stage names and component option defaults', async () => {
    const dir = await writeRecipes({ 'r.yaml': base });
    const r = await loadRecipe(path.join(dir, 'r.yaml'), reg, [], dir);
    expect(r.seed).to.equal(7);
    expect(r.plugins).to.deep.equal([]);
    expect(r.components.counter?.options).to.deep.equal({ label: 'a', step: 1 });
    expect(r.pipeline.loop[0]).to.deep.include({ name: 'touch', use: 'stage/touch' });
    expect(r.pipeline.loop[0]?.options).to.deep.equal({ tool: 'counter', failAt: 0 });
    expect(r.pipeline.setup).to.deep.equal([]);
  });

  it('names an unknown component with the closest match and the available ids', async () => {
    const msg = await problems({ 'r.yaml': base.replace('tool/counter', 'tool/countr') }, 'r.yaml');
    expect(msg).to.match(
      /^r\.yaml:5:10: components\.counter\.use: unknown component 'tool\/countr'\. Did you mean 'tool\/counter'\? Available tool components: tool\/counter/,
    );
  });

  it('locates a wrong option type by file and line, with expected and found', async () => {
    const msg = await problems({ 'r.yaml': base.replace('label: a', 'label: a\n      step: lots') }, 'r.yaml');
    expect(msg).to.equal('r.yaml:8:13: components.counter.options.step: expected integer, found string "lots"');
  });

  it('reports a missing required option at its parent', async () => {
    const msg = await problems({ 'r.yaml': base.replace('    options:\n      label: a\n', '') }, 'r.yaml');
    expect(msg).to.match(/components\.counter\.options: missing required option 'label'/);
  });

  it('suggests the right spelling for an unknown option', async () => {
    const msg = await problems({ 'r.yaml': base.replace('label: a', 'label: a\n      stpe: 2') }, 'r.yaml');
    expect(msg).to.contain("r.yaml:8:7: components.counter.options.stpe: unknown option 'stpe'. Did you mean 'step'?");
  });

  it('collects every problem, not just the first', async () => {
    const msg = await problems({ 'r.yaml': base.replace('label: a', 'label: 3\n      step: 0') }, 'r.yaml');
    expect(msg.split('\n')).to.have.length(2);
    expect(msg).to.contain('expected string, found integer 3');
    expect(msg).to.contain('step: expected a value >= 1, found integer 0');
  });

  it('merges extends (deep for maps, whole for lists) and locates errors in the child file', async () => {
    const files = {
      'base.yaml': base,
      'child.yaml': 'extends: base.yaml\nseed: 9\ncomponents:\n  counter:\n    options:\n      step: 3\n',
      'bad.yaml': 'extends: base.yaml\ncomponents:\n  counter:\n    options:\n      step: -1\n',
    };
    const dir = await writeRecipes(files);
    const r = await loadRecipe(path.join(dir, 'child.yaml'), reg, [], dir);
    expect(r.seed).to.equal(9);
    expect(r.components.counter?.options).to.deep.equal({ label: 'a', step: 3 });
    expect(r.provenance.files).to.deep.equal(['base.yaml', 'child.yaml']);
    const msg = await problems(files, 'bad.yaml');
    expect(msg).to.match(/^bad\.yaml:5:13: components\.counter\.options\.step/);
  });

  it('replaces a component whole when an override changes its `use`', async () => {
    const two = `${base}  setup:\n    - use: stage/touch\n      name: first\n`;
    const dir = await writeRecipes({
      'b.yaml': two.replace('tool/counter', 'stage/touch').replace('label: a', 'failAt: 3'),
      'c.yaml': 'extends: b.yaml\ncomponents:\n  counter:\n    use: tool/counter\n    options:\n      label: z\n',
    });
    const r = await loadRecipe(path.join(dir, 'c.yaml'), reg, [], dir);
    expect(r.components.counter).to.deep.equal({ use: 'tool/counter', options: { label: 'z', step: 1 } });
  });

  it('detects extends cycles and names the chain', async () => {
    const msg = await problems(
      { 'a.yaml': 'extends: b.yaml\n', 'b.yaml': 'extends: c.yaml\n', 'c.yaml': 'extends: a.yaml\n' },
      'a.yaml',
    );
    expect(msg).to.contain('extends cycle: a.yaml → b.yaml → c.yaml → a.yaml');
  });

  it('applies --set with YAML-parsed values and array indices', async () => {
    const dir = await writeRecipes({ 'r.yaml': base });
    const r = await loadRecipe(
      path.join(dir, 'r.yaml'),
      reg,
      ['seed=11', 'components.counter.options.step=4', 'pipeline.loop.0.options.failAt=2', 'pipeline.iterations=5'],
      dir,
    );
    expect(r.seed).to.equal(11);
    expect(r.components.counter?.options.step).to.equal(4);
    expect(r.pipeline.loop[0]?.options.failAt).to.equal(2);
    expect(r.pipeline.iterations).to.equal(5);
  });

  it('gives YAML aliases their own copy, so --set on one place leaves the other alone', async () => {
    const aliased = base.replace(
      '  counter:\n    use: tool/counter\n    options:\n      label: a\n',
      '  counter:\n    use: tool/counter\n    options: &opts\n      label: a\n  other:\n    use: tool/counter\n    options: *opts\n',
    );
    const dir = await writeRecipes({ 'r.yaml': aliased });
    const r = await loadRecipe(path.join(dir, 'r.yaml'), reg, ['components.counter.options.step=4'], dir);
    expect(r.components.counter?.options).to.deep.equal({ label: 'a', step: 4 });
    expect(r.components.other?.options).to.deep.equal({ label: 'a', step: 1 });
  });

  it('rejects a bad --set clearly and attributes type errors to the override', async () => {
    expect(await problems({ 'r.yaml': base }, 'r.yaml', ['seed'])).to.contain(
      "--set seed: (recipe): expected key.path=value, found no '='",
    );
    expect(await problems({ 'r.yaml': base }, 'r.yaml', ['a..b=1'])).to.contain('empty segment');
    expect(await problems({ 'r.yaml': base }, 'r.yaml', ['seed=[1'])).to.contain('value is not valid YAML');
    expect(await problems({ 'r.yaml': base }, 'r.yaml', ['seed.x=1'])).to.contain(
      'cannot set a key inside a number value',
    );
    expect(await problems({ 'r.yaml': base }, 'r.yaml', ['components.counter.options.step=many'])).to.equal(
      '--set components.counter.options.step=many: components.counter.options.step: expected integer, found string "many"',
    );
  });

  it('checks references to other instances by kind', async () => {
    const msg = await problems(
      {
        'r.yaml': base.replace(
          '    - use: stage/touch',
          '    - use: stage/touch\n      options:\n        tool: countr',
        ),
      },
      'r.yaml',
    );
    expect(msg).to.contain(
      'pipeline.loop.0.options.tool: expected the name of a tool instance under components (counter), found string "countr". Did you mean \'counter\'?',
    );
  });

  it('requires stage components in the pipeline', async () => {
    const msg = await problems({ 'r.yaml': base.replace('- use: stage/touch', '- use: tool/counter') }, 'r.yaml');
    expect(msg).to.contain("expected a stage component, found 'tool/counter' (a tool)");
  });

  it('reports YAML syntax errors with a line', async () => {
    const msg = await problems({ 'r.yaml': 'components: {\n  a: [\n' }, 'r.yaml');
    expect(msg).to.match(/^r\.yaml:\d+:\d+: \(recipe\): invalid YAML/);
  });

  it('rejects unknown top-level keys with a suggestion', async () => {
    const msg = await problems({ 'r.yaml': `${base}sead: 3\n` }, 'r.yaml');
    expect(msg).to.contain("r.yaml:12:1: sead: unknown option 'sead'. Did you mean 'seed'?");
  });

  it('patches one stage of an extended pipeline by name, in a layer or with --set', async () => {
    const two = base.replace(
      '    - use: stage/touch\n',
      '    - use: stage/touch\n    - use: stage/touch\n      name: second\n',
    );
    const dir = await writeRecipes({
      'base.yaml': two,
      'child.yaml': 'extends: base.yaml\npipeline:\n  loop:\n    second:\n      options: { failAt: 3 }\n',
      'drop.yaml': 'extends: base.yaml\npipeline:\n  loop:\n    touch: null\n',
    });
    const child = await loadRecipe(path.join(dir, 'child.yaml'), reg, ['pipeline.loop.touch.options.failAt=5'], dir);
    expect(child.pipeline.loop.map((s) => [s.name, (s.options as { failAt: number }).failAt])).to.deep.equal([
      ['touch', 5],
      ['second', 3],
    ]);
    const drop = await loadRecipe(path.join(dir, 'drop.yaml'), reg, [], dir);
    expect(drop.pipeline.loop.map((s) => s.name)).to.deep.equal(['second']);
    const msg = await problems({ 'base.yaml': two }, 'base.yaml', ['pipeline.loop.nosuch.options.failAt=1']);
    expect(msg).to.contain("no stage named 'nosuch'; stages here: touch, second");
  });
});

describe('component reference cycles', () => {
  const cyclic = (opt: string) => `name: t
components:
  a:
    use: tool/linked
    options: { ${opt}: b }
  b:
    use: tool/linked
    options: { ${opt}: c }
  c:
    use: tool/linked
    options: { ${opt}: a }
  d:
    use: tool/linked
    options: { ${opt}: a }
pipeline:
  iterations: 1
  loop:
    - use: stage/touch
      options: { tool: d }
`;

  it('refuses an x-ref cycle before any work, located at its first edge and naming the loop once', async () => {
    const msg = await problems({ 'r.yaml': cyclic('peer') }, 'r.yaml');
    expect(msg).to.match(
      /r\.yaml:5:\d+: components\.a\.options\.peer: expected components that do not name each other in a loop, found a reference cycle: a → b → c → a/,
    );
    expect(msg.match(/reference cycle/g)).to.have.length(1);
  });

  it('accepts references that share a target without a loop', async () => {
    const dir = await writeRecipes({
      'r.yaml': cyclic('peer').replace('options: { peer: a }\n  d:', 'options: {}\n  d:'),
    });
    const reg = new Registry();
    reg.register(testPlugin);
    const r = await loadRecipe(path.join(dir, 'r.yaml'), reg, [], dir);
    expect(Object.keys(r.components)).to.deep.equal(['a', 'b', 'c', 'd']);
  });

  it('a cycle through names the schema does not mark fails the build with the loop instead of hanging', async () => {
    const dir = await writeRecipes({ 'r.yaml': cyclic('peerName') });
    const reg = new Registry();
    reg.register(testPlugin);
    const recipe = await loadRecipe(path.join(dir, 'r.yaml'), reg, [], dir);
    const session = new RunSession(recipe, reg, {
      runDir: new RunDir(await tmpDir()),
      log: new Logger('test', 'error'),
    });
    try {
      const err = await session.get('d', 'tool').then(
        () => null,
        (e: Error) => e,
      );
      expect(err?.message).to.match(/reference cycle while building: (a → b → c → a|b → c → a → b|c → a → b → c)/);
    } finally {
      await session.close();
    }
  });
});

describe('run session container', () => {
  it("takes an embedding application's Logger and Metrics sink from a parent container", async () => {
    const { container } = await import('tsyringe');
    const { TOKENS } = await import('../../core/index.js');
    const lines: string[] = [];
    const rows: unknown[] = [];
    const parent = container.createChildContainer();
    parent.register(TOKENS.Logger, { useValue: new Logger('app', 'info', (l) => lines.push(l)) });
    parent.register(TOKENS.Metrics, {
      useValue: {
        log: async (r: unknown) => {
          rows.push(r);
        },
      },
    });
    const dir = await writeRecipes({ 'r.yaml': base });
    const reg = new Registry();
    reg.register(testPlugin);
    const recipe = await loadRecipe(path.join(dir, 'r.yaml'), reg, [], dir);
    const runDir = new RunDir(await tmpDir());
    const session = new RunSession(recipe, reg, { runDir, container: parent });
    try {
      const ctx = session.makeContext('probe');
      ctx.log.info('hello');
      await ctx.metrics.log({ stage: 'probe', iteration: 0, value: 3 });
      expect(lines.some((l) => l.includes('app:probe') && l.includes('hello'))).to.equal(true);
      expect(rows).to.have.length(1);
      expect(rows[0]).to.include({ stage: 'probe', value: 3 });
      // metrics.jsonl still gets every record
      expect(await (await import('node:fs/promises')).readFile(runDir.path('metrics.jsonl'), 'utf8')).to.contain(
        '"value":3',
      );
    } finally {
      await session.close();
    }
  });

  it('registers only what component contexts resolve: each token reaches a context', async () => {
    const { TOKENS } = await import('../../core/index.js');
    const dir = await writeRecipes({ 'r.yaml': base });
    const reg = new Registry();
    reg.register(testPlugin);
    const recipe = await loadRecipe(path.join(dir, 'r.yaml'), reg, [], dir);
    const runDir = new RunDir(await tmpDir());
    const session = new RunSession(recipe, reg, { runDir });
    const resolved = new Set<symbol>();
    const resolve = session.container.resolve.bind(session.container);
    session.container.resolve = ((token: symbol) => {
      resolved.add(token);
      return resolve(token);
    }) as typeof session.container.resolve;
    try {
      session.makeContext('probe');
      expect([...resolved].map(String).sort()).to.deep.equal(Object.values(TOKENS).map(String).sort());
    } finally {
      await session.close();
    }
  });
});
