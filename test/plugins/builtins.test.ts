import { execFile } from 'node:child_process';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { expect } from 'chai';
import { componentId } from '../../core/index.js';
import { builtinPlugins } from '../../plugins/index.js';
import { root } from '../e2e/cli.js';

// The built-ins are manifests whose modules load on demand. These checks run the real package
// (dist/, built by `npm test`'s pretest) in child processes that record every module they load.
const run = promisify(execFile);
const register = path.join(root, 'test', 'fixtures', 'trace-loads', 'register.mjs');

/** Runs node with the load tracer; returns stdout and the modules it loaded. */
async function traced(args: string[]): Promise<{ out: string; loaded: string[] }> {
  const file = path.join(await fs.mkdtemp(path.join(os.tmpdir(), 'agent0-trace-')), 'loads.txt');
  const { stdout } = await run(process.execPath, ['--import', register, ...args], {
    cwd: root,
    env: { ...process.env, AGENT0_TRACE_LOADS: file },
  });
  const loaded = (await fs.readFile(file, 'utf8')).trim().split('\n');
  return { out: stdout, loaded };
}
const script = (code: string) => ['--input-type=module', '-e', code];
const tfjs = (loaded: string[]) => loaded.filter((f) => f.includes('/@tensorflow/'));
/** The built-in plugin modules loaded (dist/plugins/<folder>/...; plugins/shared is the layer under them). */
const pluginFolders = (loaded: string[]) =>
  [
    ...new Set(
      loaded
        .map((f) => /\/dist\/plugins\/([a-z0-9-]+)\//.exec(f)?.[1])
        .filter((x): x is string => !!x && x !== 'shared'),
    ),
  ].sort();

describe('built-in plugins: manifests and lazy loading', function () {
  this.timeout(60_000);

  it('each manifest lists what its module registers: name, version, component ids and commands', async () => {
    for (const lazy of builtinPlugins) {
      const p = await lazy.load();
      expect(
        {
          name: p.meta.name,
          version: p.meta.version,
          components: p.components.map(componentId),
          commands: (p.commands ?? []).map((c) => ({ name: c.name, summary: c.summary })),
        },
        lazy.meta.name,
      ).to.deep.equal({
        name: lazy.meta.name,
        version: lazy.meta.version,
        components: [...lazy.components],
        commands: [...(lazy.commands ?? [])],
      });
    }
  });

  it('a plugin whose manifest says no tensors loads no @tensorflow module', async () => {
    const names = builtinPlugins.filter((p) => !p.tensors).map((p) => p.meta.name);
    expect(names).to.include.members(['agent0/rewards', 'agent0/python-sandbox', 'agent0/math-verifier']);
    const { loaded } = await traced(
      script(`
      const { builtinPlugins } = await import('./dist/plugins/index.js');
      for (const p of builtinPlugins) if (!p.tensors) await p.load();`),
    );
    expect(pluginFolders(loaded)).to.include.members([
      'rewards',
      'python-sandbox',
      'math-verifier',
      'serve',
      'tool-server',
    ]);
    expect(tfjs(loaded)).to.deep.equal([]);
  });

  it("import 'agent0' (the core entry) loads neither tfjs nor any plugin", async () => {
    const { loaded } = await traced(
      script(`const a = await import('agent0'); if (typeof a.definePlugin !== 'function') process.exit(3);`),
    );
    expect(loaded.some((f) => f.endsWith('/dist/core/index.js'))).to.equal(true);
    expect(tfjs(loaded)).to.deep.equal([]);
    expect(pluginFolders(loaded)).to.deep.equal([]);
  });

  it("agent0 --help loads no plugin module and no tfjs; agent0 <command> --help loads only that command's plugin", async () => {
    const bin = path.join(root, 'bin', 'agent0.js');
    const help = await traced([bin, '--help']);
    expect(help.out).to.match(/\n {2}bench engine +tfjs engine throughput/);
    expect(pluginFolders(help.loaded)).to.deep.equal([]);
    expect(tfjs(help.loaded)).to.deep.equal([]);
    const verify = await traced([bin, 'verify', '--help']);
    expect(verify.out.startsWith('usage: agent0 verify --jsonl FILE')).to.equal(true);
    expect(pluginFolders(verify.loaded)).to.deep.equal(['math-verifier']);
    expect(tfjs(verify.loaded)).to.deep.equal([]);
  });

  it('keeps the default tfjs backend: a tensor plugin loaded alone sees the backends it saw when every built-in loaded', async () => {
    const backend = async (load: string) =>
      (
        await traced(
          script(`
      ${load}
      const tf = await import('@tensorflow/tfjs');
      await tf.ready();
      console.log(tf.getBackend());`),
        )
      ).out.trim();
    const all = await backend(
      `const { loadBuiltinPlugins } = await import('./dist/plugins/index.js'); await loadBuiltinPlugins();`,
    );
    const alone = await backend(
      `const { builtinPlugins } = await import('./dist/plugins/index.js'); await builtinPlugins.find((p) => p.meta.name === 'agent0/algorithms').load();`,
    );
    expect(all).to.equal('wasm');
    expect(alone).to.equal(all);
    // what the manifest's load() guards against: the module imported by itself would run on cpu
    expect(await backend(`await import('./dist/plugins/algorithms/index.js');`)).to.equal('cpu');
  });

  it('every built-in is the package subpath agent0/plugins/<name>, its plugin as the default export', async () => {
    const subs = builtinPlugins.map((p) => `agent0/plugins/${p.meta.name.slice('agent0/'.length)}`);
    const { out } = await traced(
      script(`
      const names = [];
      for (const sub of ${JSON.stringify(subs)}) names.push((await import(sub)).default.meta.name);
      console.log(JSON.stringify(names));`),
    );
    expect(JSON.parse(out)).to.deep.equal(builtinPlugins.map((p) => p.meta.name));
    const pkg = JSON.parse(await fs.readFile(path.join(root, 'package.json'), 'utf8')) as {
      exports: Record<string, { types: string; default: string }>;
    };
    for (const [sub, entry] of Object.entries(pkg.exports)) {
      if (typeof entry === 'string') continue;
      for (const f of [entry.types, entry.default]) {
        if (f.includes('*')) continue;
        expect(
          await fs.stat(path.join(root, f)).then(
            () => true,
            () => false,
          ),
          `${sub}: ${f}`,
        ).to.equal(true);
      }
    }
  });
});

describe('built-in plugins: names and folders', () => {
  it('agent0/<name> is the folder plugins/<name>/ and the entry agent0/plugins/<name>', async () => {
    for (const p of builtinPlugins) {
      const name = p.meta.name.replace(/^agent0\//, '');
      expect(p.meta.name, 'plugin name').to.equal(`agent0/${name}`);
      await fs.access(path.join(root, 'plugins', name, 'index.ts'));
      await fs.access(path.join(root, 'plugins', 'entries', `${name}.ts`));
    }
    const folders = (await fs.readdir(path.join(root, 'plugins'), { withFileTypes: true }))
      .filter((d) => d.isDirectory() && !['entries', 'shared'].includes(d.name))
      .map((d) => d.name)
      .sort();
    expect(folders).to.deep.equal(builtinPlugins.map((p) => p.meta.name.replace(/^agent0\//, '')).sort());
  });

  it("docs/architecture.md's table lists each plugin's folder, component ids and commands", async () => {
    const doc = await fs.readFile(path.join(root, 'docs', 'architecture.md'), 'utf8');
    const ticked = (cell: string) => [...cell.matchAll(/`([^`]+)`/g)].map((m) => m[1]);
    const section = doc.slice(doc.indexOf('### Where each component lives'), doc.indexOf('## Package entries'));
    const rows = new Map(
      section
        .split('\n')
        .filter((l) => l.startsWith('| `agent0/'))
        .map((l) => l.split(' | ').map((c) => c.replace(/^\| | \|$/g, '')))
        .map(([plugin, folder, ids, cmds]) => [ticked(plugin!)[0], { folder, ids: ticked(ids!), cmds: ticked(cmds!) }]),
    );
    for (const p of builtinPlugins) {
      const name = p.meta.name.replace(/^agent0\//, '');
      expect(rows.get(p.meta.name), p.meta.name).to.deep.equal({
        folder: `\`plugins/${name}/\``,
        ids: [...p.components],
        cmds: (p.commands ?? []).map((c) => c.name),
      });
    }
    expect(rows.size).to.equal(builtinPlugins.length);
  });
});
