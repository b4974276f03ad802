import { expect } from 'chai';
import { cliMain } from '../../core/index.js';
import { collectCommands } from '../../core/cli/main.js';
import { builtinPlugins, loadBuiltinPlugins } from '../../plugins/index.js';

// the commands themselves (the CLI below gets the lazy manifests and must show the same help)
const loaded = await loadBuiltinPlugins();

async function cli(argv: string[]) {
  let out = '';
  let err = '';
  const code = await cliMain(argv, {
    builtins: builtinPlugins,
    environment: {},
    stdout: (s) => {
      out += s;
    },
    stderr: (s) => {
      err += s;
    },
  });
  return { code, out, err };
}

/** The `--flag` names a usage line mentions. */
const usageFlags = (usage: string) => [...new Set([...usage.matchAll(/--([a-z][a-z0-9-]*)/g)].map((m) => m[1]!))];

describe('CLI: every command answers --help', () => {
  const commands = collectCommands(loaded).map((c) => c.command);

  it('knows the commands users run', () => {
    const names = commands.map((c) => c.name);
    expect(names).to.include.members([
      'validate',
      'plugins',
      'run',
      'serve',
      'tool-server',
      'ablate',
      'eval',
      'report',
      'verify',
      'sandbox exec',
      'bench engine',
      'bench all',
    ]);
  });

  for (const c of collectCommands(loaded).map((x) => x.command)) {
    it(`agent0 ${c.name} --help / -h: usage and every option, exit 0`, async () => {
      for (const flag of ['--help', '-h']) {
        const r = await cli([...c.name.split(' '), flag]);
        expect(r.code, `${flag}: ${r.err}`).to.equal(0);
        expect(r.err).to.equal('');
        expect(r.out.startsWith(`usage: ${c.usage}\n`), r.out).to.equal(true);
        expect(r.out).to.contain(c.summary);
        expect(r.out).to.contain('-h, --help');
        for (const [name, o] of Object.entries(c.options ?? {})) {
          expect(r.out).to.contain(`--${name}`);
          expect(r.out).to.contain(o.description);
        }
      }
      // the usage line promises no option the command does not describe (and, through parseArgs, take)
      const described = Object.keys(c.options ?? {});
      expect(
        usageFlags(c.usage).filter((f) => !described.includes(f)),
        `undescribed options of '${c.name}'`,
      ).to.deep.equal([]);
    });
  }

  it('prints a default and a value placeholder', async () => {
    const r = await cli(['bench', 'engine', '--help']);
    expect(r.out).to.match(/--models LIST\s+models to measure \(tiny, small\) \(default: tiny,small\)/);
    expect(r.out).to.match(/--no-peer\s+skip the PyTorch peer\n/);
  });

  it('-h after `--` is an operand, not a request for help', async () => {
    const r = await cli(['validate', '--', '-h']);
    expect(r.code).to.equal(2);
    expect(r.out).to.equal('');
  });

  it('agent0 help <command> and a group word (agent0 bench --help) help too', async () => {
    const h = await cli(['help', 'sandbox', 'exec']);
    expect(h.code).to.equal(0);
    expect(h.out.startsWith('usage: agent0 sandbox exec')).to.equal(true);
    const g = await cli(['bench', '--help']);
    expect(g.code).to.equal(0);
    for (const c of commands.filter((x) => x.name.startsWith('bench ')))
      expect(g.out).to.contain(`  ${c.name}`).and.to.contain(c.summary);
    expect(g.out).not.to.contain('agent0 validate');
    expect((await cli(['bench'])).code).to.equal(2);
    expect((await cli(['help', 'nope'])).code).to.equal(2);
  });

  it('an unknown option names the command and points at --help (exit 2)', async () => {
    const r = await cli(['validate', 'x.yaml', '--sett', 'a=1']);
    expect(r.code).to.equal(2);
    expect(r.err).to.contain("agent0 validate: Unknown option '--sett'");
    expect(r.err).to.contain('agent0 validate --help lists the options');
  });
});
