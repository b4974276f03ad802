import { execFileSync } from 'node:child_process';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';
import { defineComponent, definePlugin, loadRecipe, RecipeError, Registry } from '../../core/index.js';
import { testPlugin, writeRecipes } from './helpers.js';

// Issue 15, item 10: recipes that would hang, exhaust memory, pollute prototypes or write outside
// runs/ are refused before any work, located like every other recipe error.

const base = `name: t
components:
  counter: { use: tool/counter, options: { label: a } }
pipeline:
  iterations: 1
  loop:
    - use: stage/touch
`;

/** A component that takes any options, as an engine's free-form `config` does. */
const freePlugin = definePlugin({
  meta: { name: 'agent0/free-fixture', version: '1' },
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

async function refusal(files: Record<string, string>, sets: string[] = [], entry = 'r.yaml'): Promise<string> {
  const dir = await writeRecipes(files);
  const reg = new Registry();
  reg.register(testPlugin);
  reg.register(freePlugin);
  const started = Date.now();
  try {
    await loadRecipe(path.join(dir, entry), reg, sets, dir);
  } catch (e) {
    expect(e, (e as Error).stack).to.be.instanceOf(RecipeError);
    expect(Date.now() - started, 'refused before any work').to.be.below(2000);
    return (e as Error).message;
  }
  throw new Error('expected a RecipeError');
}

describe('recipe limits (issue 15 item 10)', () => {
  it('bounds pipeline.iterations', async () => {
    expect(await refusal({ 'r.yaml': base.replace('iterations: 1', 'iterations: 1e12') })).to.equal(
      'r.yaml:5:15: pipeline.iterations: expected a value <= 10000, found integer 1000000000000',
    );
  });

  it("bounds model shape fields in any component's options", async () => {
    const text = `${base}  setup: []\n`.replace(
      'components:\n',
      'components:\n  model: { use: policy/free, options: { config: { hidden_size: 1e8, num_hidden_layers: 2 } } }\n',
    );
    expect(await refusal({ 'r.yaml': text })).to.equal(
      'r.yaml:3:64: components.model.options.config.hidden_size: expected a value <= 65536 (a model shape field), found integer 100000000',
    );
  });

  it('refuses a --set list index that would leave holes (100000000 hung validation at 4.4 GB)', async () => {
    expect(await refusal({ 'r.yaml': base }, ['pipeline.loop.100000.use=stage/touch'])).to.equal(
      '--set pipeline.loop.100000.use=stage/touch: pipeline.loop.100000: expected a list index from 0 to 1 (the list has 1 item(s); 1 appends), found 100000',
    );
    expect(await refusal({ 'r.yaml': base }, ['pipeline.setup.100000000=x'])).to.contain(
      'expected a list index from 0 to 0',
    );
  });

  it('refuses a --set key nested deeper than 64 segments (3000 overflowed the stack in validation)', async () => {
    const deep = (n: number) =>
      `components.counter.options.${Array(n - 3)
        .fill('a')
        .join('.')}=1`;
    expect(await refusal({ 'r.yaml': base }, [deep(3000)])).to.equal(
      `--set ${deep(3000)}: (recipe): expected a key of at most 64 segments, found 3000`,
    );
    expect(await refusal({ 'r.yaml': base }, [deep(64)])).to.contain(
      "components.counter.options.a: unknown option 'a'",
    );
  });

  it('answers the other faults tried in the audit with located refusals', async () => {
    expect(await refusal({ 'r.yaml': `extends: ./sub/../r.yaml\n${base}` })).to.equal(
      'r.yaml: extends: extends cycle: r.yaml → r.yaml',
    );
    expect(await refusal({ 'r.yaml': `${base}d: &d { seed: 3 }\n<<: *d\n` })).to.contain(
      "r.yaml:9:1: <<: unknown option '<<'",
    );
    for (const name of ['/etc/x', '"a\\0b"', '..'])
      expect(await refusal({ 'r.yaml': base.replace('name: t', `name: ${name}`) })).to.match(
        /^r\.yaml:1:7: name: expected a string matching/,
      );
    expect(await refusal({ 'r.yaml': base }, ['pipeline.loop.9007199254740993=x'])).to.contain(
      'expected a list index from 0 to 1',
    );
    expect(await refusal({ 'r.yaml': base }, ['pipeline.loop.-1.use=x'])).to.contain("no stage named '-1'");
    expect(await refusal({ 'r.yaml': `${base}description: ${'{a: '.repeat(1000)}1${'}'.repeat(1000)}\n` })).to.match(
      /^r\.yaml:8:\d+: \(recipe\): invalid YAML: /,
    );
    expect(({} as Record<string, unknown>).polluted).to.equal(undefined);
  });

  it('refuses prototype keys in --set paths and values, without touching Object.prototype', async () => {
    expect(await refusal({ 'r.yaml': base }, ['__proto__.polluted=1'])).to.equal(
      "--set __proto__.polluted=1: __proto__: expected an ordinary key, found '__proto__' (refused: it would change or hide an object prototype)",
    );
    expect(await refusal({ 'r.yaml': base }, ['components.counter.constructor.prototype.polluted=1'])).to.contain(
      'components.counter.constructor: expected an ordinary key',
    );
    expect(await refusal({ 'r.yaml': base }, ['seed={__proto__: {polluted: 1}}'])).to.contain(
      '--set seed={__proto__: {polluted: 1}}: seed.__proto__: expected an ordinary key',
    );
    expect(({} as Record<string, unknown>).polluted).to.equal(undefined);
  });

  it('refuses __proto__ keys in YAML instead of dropping them', async () => {
    expect(
      await refusal({ 'r.yaml': base.replace('  counter:', '  __proto__: { use: tool/counter }\n  counter:') }),
    ).to.equal(
      "r.yaml:3:3: components.__proto__: expected an ordinary key, found '__proto__' (refused: it would change or hide an object prototype)",
    );
  });

  it('restricts run names to one safe path segment', async () => {
    expect(await refusal({ 'r.yaml': base.replace('name: t', 'name: ../x') })).to.equal(
      'r.yaml:1:7: name: expected a string matching ^[A-Za-z0-9_][A-Za-z0-9_.+-]*$, found string "../x"',
    );
    expect(await refusal({ 'r.yaml': base }, ['name=a/b'])).to.contain(
      '--set name=a/b: name: expected a string matching',
    );
  });

  it('refuses YAML alias bombs (billion laughs) at the first alias', async () => {
    const rows = ['a: &a [x, x, x, x, x, x, x, x, x]'];
    for (const [i, n] of ['b', 'c', 'd', 'e', 'f', 'g', 'h'].entries()) {
      const prev = String.fromCharCode(97 + i);
      rows.push(`${n}: &${n} [${Array(9).fill(`*${prev}`).join(', ')}]`);
    }
    expect(
      await refusal({
        'r.yaml': `${base}description: x\n${rows
          .map((r) => `x_${r}`)
          .join('\n')
          .replace(/\*/g, '*x_')
          .replace(/&/g, '&x_')}\n`,
      }),
    ).to.match(/^r\.yaml:10:\d+: \(recipe\): expected YAML aliases to expand to at most 100 nodes, found more/);
  });

  it('refuses extends of a FIFO or a folder, at the extends entry', async () => {
    const dir = await writeRecipes({ 'c.yaml': 'extends: pipe.yaml\nseed: 1\n', 'd.yaml': 'extends: [c.yaml, sub]\n' });
    execFileSync('mkfifo', [path.join(dir, 'pipe.yaml')]);
    await fs.mkdir(path.join(dir, 'sub'));
    const reg = new Registry();
    reg.register(testPlugin);
    const msg = async (f: string) =>
      loadRecipe(path.join(dir, f), reg, [], dir).then(
        () => '',
        (e: Error) => e.message,
      );
    expect(await msg('c.yaml')).to.equal(
      'c.yaml:1:10: extends: expected a regular recipe file, found a FIFO (pipe.yaml)',
    );
    expect(await msg('d.yaml')).to.equal(
      'c.yaml:1:10: extends: expected a regular recipe file, found a FIFO (pipe.yaml)',
    );
    await fs.rm(path.join(dir, 'pipe.yaml'));
    await fs.writeFile(path.join(dir, 'pipe.yaml'), 'seed: 2\n');
    expect(await msg('d.yaml')).to.equal(
      'd.yaml:1:19: extends.1: expected a regular recipe file, found a directory (sub)',
    );
  });

  it('refuses a recipe file over 1 MiB before parsing it', async () => {
    const big = `${base}${'# padding padding padding padding padding padding padding padding\n'.repeat(20_000)}`;
    expect(await refusal({ 'r.yaml': big })).to.equal(
      `r.yaml: (recipe): expected a recipe of at most 1048576 bytes, found ${Buffer.byteLength(big)} bytes`,
    );
  });
});
