import path from 'node:path';
import { expect } from 'chai';
import {
  cliMain,
  definePlugin,
  defineComponent,
  loadRecipe,
  Registry,
  RegistryError,
  RunDir,
  RunSession,
  type LazyPlugin,
  type Plugin,
} from '../../core/index.js';
import { testPlugin, tmpDir, writeRecipes } from './helpers.js';

/** testPlugin behind a manifest, counting how often its module is imported. */
function lazy(plugin: Plugin, over: Partial<LazyPlugin> = {}): LazyPlugin & { imports: number } {
  const l = {
    imports: 0,
    meta: plugin.meta,
    components: plugin.components.map((c) => `${c.kind}/${c.name}`),
    commands: (plugin.commands ?? []).map((c) => ({ name: c.name, summary: c.summary })),
    async load() {
      l.imports++;
      return plugin;
    },
    ...over,
  };
  return l;
}

const other = definePlugin({
  meta: { name: 'other', version: '2' },
  components: [
    defineComponent({
      kind: 'reward',
      name: 'zero',
      description: 'z',
      options: { type: 'object' },
      create: () => ({ score: async (b: unknown[]) => b.map(() => ({ reward: 0 })) }),
    }),
  ],
  commands: [
    {
      name: 'hello',
      summary: 'says hello',
      usage: 'agent0 hello [--loud]',
      options: { loud: { type: 'boolean', description: 'shout' } },
      async run(_args, env) {
        env.stdout('hello');
        return 0;
      },
    },
  ],
});

describe('registry: lazy plugins', () => {
  it("knows a lazy plugin's ids and version without importing it; get() before load() says what to do", async () => {
    const reg = new Registry();
    const l = lazy(testPlugin);
    reg.register(l);
    expect(reg.has('tool/counter')).to.equal(true);
    expect(reg.pluginMetas()).to.deep.equal([{ name: 'agent0/test-fixture', version: '1.2.3' }]);
    expect(() => reg.get('tool/counter')).to.throw(
      RegistryError,
      "component 'tool/counter' belongs to plugin 'agent0/test-fixture', which is not loaded yet",
    );
    expect(reg.unknownMessage('tool/countr')).to.contain("Did you mean 'tool/counter'?");
    expect(l.imports).to.equal(0);
    await reg.load(['tool/counter', 'tool/linked', 'nope/x']);
    await reg.load(['stage/touch']);
    expect(l.imports).to.equal(1);
    expect(reg.get('tool/counter').def.name).to.equal('counter');
  });

  it('a duplicate id between a lazy and an eager plugin is refused at registration, before any import', () => {
    const reg = new Registry();
    const l = lazy(testPlugin);
    reg.register(l);
    expect(() =>
      reg.register(definePlugin({ meta: { name: 'dup', version: '1' }, components: [testPlugin.components[0]!] })),
    ).to.throw(RegistryError, "duplicate component id 'tool/counter': defined by 'agent0/test-fixture' and by 'dup'");
    expect(l.imports).to.equal(0);
  });

  it('a module that registers other ids than its manifest lists is an error naming both lists', async () => {
    const reg = new Registry();
    reg.register(lazy(testPlugin, { components: ['tool/counter'] }));
    try {
      await reg.load(['tool/counter']);
      expect.fail('loaded');
    } catch (e) {
      expect((e as Error).message).to.match(
        /plugin 'agent0\/test-fixture': its manifest lists tool\/counter but the module 'agent0\/test-fixture' registers tool\/counter, tool\/linked, stage\/touch/,
      );
    }
  });

  it('loadRecipe imports only the plugins whose components the recipe uses', async () => {
    const reg = new Registry();
    const used = lazy(testPlugin);
    const unused = lazy(other);
    reg.register(used);
    reg.register(unused);
    const dir = await writeRecipes({
      'r.yaml':
        'name: r\ncomponents:\n  counter: { use: tool/counter, options: { label: x } }\npipeline:\n  loop: [ { use: stage/touch } ]\n',
    });
    const recipe = await loadRecipe(path.join(dir, 'r.yaml'), reg);
    expect(recipe.components.counter?.options).to.deep.equal({ label: 'x', step: 1 });
    expect([used.imports, unused.imports]).to.deep.equal([1, 0]);
  });

  it('a session built from code imports a lazy plugin when a component of it is first needed', async () => {
    const reg = new Registry();
    reg.register(lazy(testPlugin));
    const recipe = {
      name: 'r',
      seed: 1,
      plugins: [],
      components: { c: { use: 'tool/counter', options: { label: 'x', step: 2 } } },
      pipeline: { iterations: 0, setup: [], loop: [], teardown: [] },
      provenance: { files: [], sets: [] },
    };
    const session = new RunSession(recipe, reg, { runDir: new RunDir(await tmpDir()) });
    const tool = await session.get('c', 'tool');
    expect((await tool.conductAction('t', 'count')).observation).to.equal('2');
    await session.close();
  });

  it("the CLI lists a lazy plugin's commands from its manifest and imports the plugin only to run one or show its help", async () => {
    const l = lazy(other);
    const cli = async (argv: string[]) => {
      let out = '';
      const code = await cliMain(argv, {
        builtins: [testPlugin, l],
        environment: {},
        stdout: (s) => {
          out += s;
        },
        stderr: (s) => {
          out += s;
        },
      });
      return { code, out };
    };
    expect((await cli(['--help'])).out).to.match(/\n {2}hello +says hello\n/);
    expect(l.imports).to.equal(0);
    const h = await cli(['hello', '--help']);
    expect([h.code, h.out.split('\n')[0]]).to.deep.equal([0, 'usage: agent0 hello [--loud]']);
    expect(h.out).to.contain('--loud');
    expect(await cli(['hello'])).to.deep.equal({ code: 0, out: 'hello\n' });
    expect(l.imports).to.equal(2);
    const listed = await cli(['plugins', '--json']);
    expect((JSON.parse(listed.out) as { id: string }[]).map((r) => r.id)).to.include('reward/zero');
  });
});
