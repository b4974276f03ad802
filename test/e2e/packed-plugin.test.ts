import { execFile } from 'node:child_process';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { expect } from 'chai';
import { root } from './cli.js';

// examples/plugin-example as a third party meets agent0: agent0 packed (`npm pack` of this checkout's
// dist/, built by `npm test`'s pretest), the plugin built, tested and packed by its author against
// that tarball, then both tarballs installed into a user's project and run with `npx agent0`. Nothing
// is imported from this source tree. To stay fast, each project's node_modules starts as a copy of
// an installed tree (this checkout's, then the author's); `npm install` then adds the tarballs and
// prunes what they do not need, from the npm cache or the registry.
const exec = promisify(execFile);

interface Step {
  what: string;
  seconds: number;
}

describe('end to end: the example plugin packed and installed as a third party does', function () {
  this.timeout(300_000);
  const steps: Step[] = [];
  let work: string;
  let agent0Tgz: string;
  let pluginTgz: string;

  async function sh(what: string, cmd: string, args: string[], cwd: string): Promise<string> {
    const t0 = Date.now();
    try {
      const { stdout } = await exec(cmd, args, {
        cwd,
        maxBuffer: 64 << 20,
        env: { ...process.env, npm_config_update_notifier: 'false' },
      });
      return stdout;
    } catch (e) {
      const err = e as { stdout?: string; stderr?: string; message: string };
      throw new Error(`${what} failed: ${err.message}\n${err.stdout ?? ''}\n${err.stderr ?? ''}`.slice(0, 8000), {
        cause: e,
      });
    } finally {
      steps.push({ what, seconds: (Date.now() - t0) / 1000 });
    }
  }
  const npm = (what: string, args: string[], cwd: string) => sh(what, 'npm', args, cwd);
  const INSTALL = ['install', '--prefer-offline', '--no-audit', '--no-fund'];

  before(async () => {
    work = await fs.mkdtemp(path.join(os.tmpdir(), 'agent0-packed-'));
  });

  after(async () => {
    const total = steps.reduce((a, s) => a + s.seconds, 0);
    process.stderr.write(
      `      packed-plugin steps: ${steps.map((s) => `${s.what} ${s.seconds.toFixed(1)}s`).join(', ')}; total ${total.toFixed(1)}s\n`,
    );
    if (work) await fs.rm(work, { recursive: true, force: true });
  });

  it('packs agent0 with every entry it exports', async () => {
    const out = await npm('npm pack agent0', ['pack', '--ignore-scripts', '--json', '--pack-destination', work], root);
    const [packed] = JSON.parse(out) as { filename: string; files: { path: string }[] }[];
    agent0Tgz = path.join(work, packed!.filename);
    const files = new Set(packed!.files.map((f) => f.path));
    for (const f of [
      'bin/agent0.js',
      'dist/core/index.js',
      'dist/core/index.d.ts',
      'dist/core/testkit/index.d.ts',
      'dist/plugins/algorithms/public.d.ts',
      'dist/plugins/entries/engine-tfjs.js',
    ]) {
      expect(files.has(f), f).to.equal(true);
    }
    expect([...files].filter((f) => f.startsWith('dist/test/'))).to.deep.equal([]);
  });

  it('the author builds and tests the plugin against the agent0 tarball, then packs it', async () => {
    const author = path.join(work, 'author');
    const example = path.join(root, 'examples', 'plugin-example');
    await fs.mkdir(author);
    for (const f of ['package.json', 'tsconfig.json', '.mocharc.json', 'src', 'test'])
      await fs.cp(path.join(example, f), path.join(author, f), { recursive: true });
    const pkgFile = path.join(author, 'package.json');
    const pkg = JSON.parse(await fs.readFile(pkgFile, 'utf8')) as { devDependencies: Record<string, string> };
    // the example's own devDependency links this checkout; the author gets the published package instead
    pkg.devDependencies.agent0 = `file:${agent0Tgz}`;
    await fs.writeFile(pkgFile, JSON.stringify(pkg, null, 2));
    await sh(
      'seed author node_modules',
      'cp',
      ['-a', path.join(root, 'node_modules'), path.join(author, 'node_modules')],
      work,
    );
    await npm('author npm install', INSTALL, author);
    const linked = await fs.lstat(path.join(author, 'node_modules', 'agent0'));
    expect(linked.isSymbolicLink(), 'agent0 is installed from the tarball, not linked').to.equal(false);
    const tested = await npm('author npm test', ['test'], author);
    expect(tested).to.match(/advantage conformance: centered/);
    expect(tested).to.match(/\d+ passing/);
    expect(tested).not.to.match(/failing/);
    const out = await npm(
      'npm pack plugin',
      ['pack', '--ignore-scripts', '--json', '--pack-destination', work],
      author,
    );
    const [packed] = JSON.parse(out) as { filename: string; files: { path: string }[] }[];
    pluginTgz = path.join(work, packed!.filename);
    expect(packed!.files.map((f) => f.path)).to.include.members([
      'dist/src/index.js',
      'dist/src/index.d.ts',
      'package.json',
    ]);
  });

  it("a user installs both tarballs; npx agent0 runs the plugin's command and a recipe of its components", async () => {
    const user = path.join(work, 'user');
    await fs.mkdir(user);
    await fs.writeFile(
      path.join(user, 'package.json'),
      JSON.stringify({ name: 'user-project', version: '1.0.0', private: true }),
    );
    await sh(
      'seed user node_modules',
      'cp',
      ['-al', path.join(work, 'author', 'node_modules'), path.join(user, 'node_modules')],
      work,
    );
    await npm('user npm install', [...INSTALL, agent0Tgz, pluginTgz], user);
    const agent0 = (what: string, args: string[]) => sh(what, 'npx', ['--no', '--', 'agent0', ...args], user);

    const help = await agent0('npx agent0 calc --help', ['--plugin', 'agent0-plugin-example', 'calc', '--help']);
    expect(help.split('\n')[0]).to.equal('usage: agent0 calc EXPR [--recipe R] [--tool NAME]');
    expect(await agent0('npx agent0 calc', ['--plugin', 'agent0-plugin-example', 'calc', '2*(3+4)'])).to.equal('14\n');

    await fs.writeFile(
      path.join(user, 'drill.yaml'),
      [
        'name: drill',
        'plugins: [agent0-plugin-example]',
        'components:',
        '  calc: { use: tool/calculator }',
        '  penalty: { use: reward/length-penalty, options: { budget: 10, coef: 0.5 } }',
        '  advantage: { use: advantage/centered, options: { scale: 2 } }',
        'pipeline:',
        '  loop:',
        '    - use: stage/calc-drill',
        '      options: { responses: [ { group: q, text: "<calc>1+2</calc>" }, { group: q, text: "three" } ] }',
        '',
      ].join('\n'),
    );
    // the recipe's plugins: list names the plugin for the command too
    expect(await agent0('npx agent0 calc --recipe', ['calc', '6*7', '--recipe', 'drill.yaml'])).to.equal('42\n');
    await agent0('npx agent0 run', ['run', 'drill.yaml', '--run-dir', 'run']);
    const rows = JSON.parse(
      await fs.readFile(path.join(user, 'run', 'iter-1', 'calc-drill', 'drill.json'), 'utf8'),
    ) as { reward: number; advantage: number }[];
    // rewards -0.5·(18 - 10) = -4 and 0, group mean -2, scale 2
    expect(rows.map((r) => [r.reward, r.advantage])).to.deep.equal([
      [-4, -4],
      [0, 4],
    ]);
  });
});
