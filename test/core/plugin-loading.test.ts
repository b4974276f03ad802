import { promises as fs } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import { cliMain } from '../../core/index.js';
import { testPlugin, writeRecipes } from './helpers.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
// The example's TypeScript source, imported through tsx as mocha runs it: these tests are about how
// the CLI finds and loads plugins. test/e2e/packed-plugin.test.ts installs the example as users do.
const example = path.join(root, 'examples', 'plugin-example', 'src', 'index.ts');

/** The example imports 'agent0' as a peer dependency; link this checkout in as that package. */
async function linkAgent0(): Promise<void> {
  const nm = path.join(root, 'examples', 'plugin-example', 'node_modules');
  await fs.mkdir(nm, { recursive: true });
  await fs.rm(path.join(nm, 'agent0'), { force: true, recursive: true });
  await fs.symlink(root, path.join(nm, 'agent0'), 'dir');
}

async function cli(argv: string[], cwd: string) {
  let out = '';
  let err = '';
  const code = await cliMain(argv, {
    builtins: [testPlugin],
    cwd,
    stdout: (s) => {
      out += s;
    },
    stderr: (s) => {
      err += s;
    },
  });
  return { code, out, err };
}

describe('third-party plugins', () => {
  before(linkAgent0);

  it('loads a plugin package named in a recipe and validates its options', async () => {
    const rel = path
      .relative(path.join(root, 'test', 'fixtures', 'recipes'), example)
      .split(path.sep)
      .join('/');
    const recipe = path.join(root, 'test', 'fixtures', 'recipes', 'plugin-example.yaml');
    expect(await fs.readFile(recipe, 'utf8')).to.contain(rel);
    const ok = await cli(['validate', recipe], root);
    expect(ok.err).to.equal('');
    expect(ok.code).to.equal(0);
    const bad = await cli(['validate', recipe, '--set', 'components.penalty.options.budget=-3'], root);
    expect(bad.code).to.equal(2);
    expect(bad.err).to.contain(
      '--set components.penalty.options.budget=-3: components.penalty.options.budget: expected a value >= 0, found integer -3',
    );
  });

  it("lists the plugin's components and builds working instances from them", async () => {
    const recipe = path.join(root, 'test', 'fixtures', 'recipes', 'plugin-example.yaml');
    const listed = await cli(['plugins', '--json', '--recipe', recipe], root);
    const ids = (JSON.parse(listed.out) as { id: string }[]).map((r) => r.id);
    expect(ids).to.include.members(['tool/calculator', 'reward/length-penalty', 'tool/counter']);
    const { DefaultCliEnv, createRegistry } = await import('../../core/index.js');
    const env = new DefaultCliEnv(await createRegistry([testPlugin]), { builtins: [testPlugin], cwd: root });
    const session = await env.openSession(await env.loadRecipe(recipe));
    const calc = await session.get('calc', 'tool');
    const action = calc.parseAction('Let me compute <calc>(2+3)*4 - 1/2</calc>');
    expect(action).to.deep.equal({ valid: true, action: '(2+3)*4 - 1/2' });
    expect(await calc.conductAction('t1', action.action as string)).to.deep.equal({
      observation: '19.5',
      done: false,
      valid: true,
    });
    expect((await calc.conductAction('t1', '1/0')).observation).to.equal('error: division by zero');
    const penalty = await session.get('penalty', 'reward');
    const task = { id: 'q', problem: 'p' };
    expect(
      await penalty.score([
        { response: 'x'.repeat(15), task },
        { response: 'short', task },
      ]),
    ).to.deep.equal([
      { reward: -0.5 * (15 - 10), parts: { overBudget: 5 } },
      { reward: -0, parts: { overBudget: 0 } },
    ]);
    await session.close();
  });

  it("reports a plugin that is not installed, at the recipe's plugins key", async () => {
    const dir = await writeRecipes({ 'r.yaml': 'plugins: [agent0-plugin-nope]\ncomponents: {}\npipeline: {}\n' });
    const res = await cli(['validate', path.join(dir, 'r.yaml')], dir);
    expect(res.code).to.equal(2);
    expect(res.err).to.match(/plugins: plugin package 'agent0-plugin-nope' is not installed/);
  });
});

describe('third-party plugin commands', () => {
  before(linkAgent0);
  const recipe = path.join(root, 'test', 'fixtures', 'recipes', 'plugin-example.yaml');

  async function run(argv: string[], cwd: string, environment: Record<string, string> = {}, builtins = [testPlugin]) {
    let out = '';
    let err = '';
    const code = await cliMain(argv, {
      builtins,
      environment,
      cwd,
      stdout: (s) => {
        out += s;
      },
      stderr: (s) => {
        err += s;
      },
    });
    return { code, out, err };
  }

  it('are unknown until the plugin is named', async () => {
    const r = await run(['calc', '1+2'], root);
    expect(r.code).to.equal(2);
    expect(r.err).to.contain("unknown command 'calc 1+2'");
  });

  it('--plugin SPEC loads a plugin before the command is picked: its command runs and answers --help', async () => {
    const r = await run(['--plugin', example, 'calc', '2*(3+4)'], root);
    expect(r.err).to.equal('');
    expect([r.code, r.out]).to.deep.equal([0, '14\n']);
    expect((await run(['--plugin', example, 'calc', '1/0'], root)).err).to.equal('calc: division by zero\n');
    const h = await run(['--plugin', example, 'calc', '--help'], root);
    expect(h.code).to.equal(0);
    expect(h.out.startsWith('usage: agent0 calc EXPR [--recipe R] [--tool NAME]\n')).to.equal(true);
    const all = await run([`--plugin=${example}`, '--help'], root);
    expect(all.out).to.match(
      /\n {2}calc +evaluate an arithmetic expression as tool\/calculator does {2}\[agent0-plugin-example\]\n/,
    );
  });

  it('AGENT0_PLUGINS names plugins for every command (comma-separated)', async () => {
    const r = await run(['calc', '6*7'], root, { AGENT0_PLUGINS: ` ${example} ,` });
    expect([r.code, r.out]).to.deep.equal([0, '42\n']);
  });

  it("a project's package.json names plugins under agent0.plugins, relative to itself", async () => {
    const dir = await writeRecipes({});
    await fs.writeFile(
      path.join(dir, 'package.json'),
      JSON.stringify({ name: 'my-project', agent0: { plugins: [path.relative(dir, example)] } }),
    );
    const sub = path.join(dir, 'sub');
    await fs.mkdir(sub);
    const r = await run(['calc', '(1+2)*3'], sub);
    expect(r.err).to.equal('');
    expect([r.code, r.out]).to.deep.equal([0, '9\n']);
    await fs.writeFile(
      path.join(dir, 'package.json'),
      JSON.stringify({ agent0: { plugins: 'agent0-plugin-example' } }),
    );
    const bad = await run(['calc', '1'], sub);
    expect(bad.code).to.equal(2);
    expect(bad.err).to.contain(
      'agent0.plugins must be a list of npm package names or paths, found "agent0-plugin-example"',
    );
  });

  it('says where a plugin that fails to load was named', async () => {
    const r = await run(['validate', recipe], root, { AGENT0_PLUGINS: 'agent0-plugin-nope' });
    expect(r.code).to.equal(2);
    expect(r.err).to.match(/plugin package 'agent0-plugin-nope' is not installed.*\(named by AGENT0_PLUGINS\)/);
  });

  it("a command's --recipe R registers the commands of the plugins R names under plugins:", async () => {
    const r = await run(['calc', '2+3', '--recipe', recipe], root);
    expect(r.err).to.equal('');
    expect([r.code, r.out]).to.deep.equal([0, '5\n']);
    const h = await run(['calc', '--help', `--recipe=${recipe}`], root);
    expect([h.code, h.out.split('\n')[0]]).to.deep.equal([0, 'usage: agent0 calc EXPR [--recipe R] [--tool NAME]']);
    const listed = await run(['--help', '--recipe', recipe], root);
    expect(listed.out).to.match(
      /\n {2}calc +evaluate an arithmetic expression as tool\/calculator does {2}\[agent0-plugin-example\]\n/,
    );
    // only --recipe is read as a recipe: a positional operand is not
    expect((await run(['calc', '2+3', recipe], root)).err).to.contain("unknown command 'calc 2+3");
  });

  it('says which recipe named a plugin that fails to load for a command', async () => {
    const dir = await writeRecipes({ 'r.yaml': 'plugins: [agent0-plugin-nope]\ncomponents: {}\npipeline: {}\n' });
    const r = await run(['calc', '1', '--recipe', path.join(dir, 'r.yaml')], dir);
    expect(r.code).to.equal(2);
    expect(r.err).to.match(/plugin package 'agent0-plugin-nope' is not installed.*\(named by .*r\.yaml \(plugins:\)\)/);
  });

  it('a recipe naming a plugin the CLI already loaded does not register it twice', async () => {
    const r = await run(['--plugin', example, 'validate', recipe], root);
    expect(r.err).to.equal('');
    expect(r.code).to.equal(0);
  });

  it('a plugin command may not take a name another plugin (or core) gives', async () => {
    const dir = await writeRecipes({});
    await fs.writeFile(
      path.join(dir, 'clash.mjs'),
      "export default { meta: { name: 'clash', version: '1' }, components: [], commands: [{ name: 'validate', summary: 's', usage: 'u', async run() { return 0; } }] };\n",
    );
    const r = await run(['--plugin', path.join(dir, 'clash.mjs'), 'plugins'], root);
    expect(r.code).to.equal(2);
    expect(r.err).to.contain("plugin 'clash' contributes the command 'validate', which 'agent0' already provides");
  });
});
