import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { cliMain, createRegistry, loadRecipe, runPipeline } from 'agent0';
import { expect } from 'chai';
import plugin, { type DrillRow } from '../src/index.js';

const RECIPE = `name: drill
components:
  calc: { use: tool/calculator, options: { maxCalls: 2 } }
  penalty: { use: reward/length-penalty, options: { budget: 10, coef: 0.5 } }
  advantage: { use: advantage/centered }
pipeline:
  iterations: 1
  loop:
    - use: stage/calc-drill
      options:
        responses:
          - { group: q1, text: "<calc>1+2</calc>" }
          - { group: q1, text: "three" }
          - { group: q2, text: "<calc>1/0</calc>" }
`;

async function tmp(): Promise<string> {
  return fs.mkdtemp(path.join(os.tmpdir(), 'agent0-plugin-example-'));
}

describe('agent0-plugin-example through agent0', () => {
  it('registers its components and command', () => {
    expect(plugin.components.map((c) => `${c.kind}/${c.name}`)).to.deep.equal([
      'tool/calculator',
      'reward/length-penalty',
      'advantage/centered',
      'stage/calc-drill',
    ]);
    expect(plugin.commands?.map((c) => c.name)).to.deep.equal(['calc']);
  });

  it('runs a recipe whose stage uses its tool, reward and advantage estimator', async () => {
    const dir = await tmp();
    await fs.writeFile(path.join(dir, 'drill.yaml'), RECIPE);
    const registry = await createRegistry([plugin]);
    const recipe = await loadRecipe(path.join(dir, 'drill.yaml'), registry);
    const res = await runPipeline(recipe, registry, { runDir: path.join(dir, 'run') });
    expect(res.executed).to.deep.equal(['iter-1/calc-drill']);
    const rows = JSON.parse(
      await fs.readFile(path.join(dir, 'run', 'iter-1', 'calc-drill', 'drill.json'), 'utf8'),
    ) as DrillRow[];
    // "<calc>1+2</calc>\n3" is 18 characters: 8 over the budget, reward -4; "three" is free; the
    // third scores "<calc>1/0</calc>\nerror: division by zero" (40 characters, reward -15) alone in q2
    expect(rows.map((r) => [r.observation, r.reward, r.advantage])).to.deep.equal([
      ['3', -4, -2],
      [null, 0, 2],
      ['error: division by zero', -15, 0],
    ]);
  });

  it("adds `agent0 calc`, which uses a recipe's calculator when given one", async () => {
    const cli = async (argv: string[]) => {
      let out = '';
      let err = '';
      const code = await cliMain(argv, {
        builtins: [],
        plugins: [plugin],
        environment: {},
        stdout: (s) => {
          out += s;
        },
        stderr: (s) => {
          err += s;
        },
      });
      return { code, out, err };
    };
    expect(await cli(['calc', '2*(3+4)'])).to.deep.equal({ code: 0, out: '14\n', err: '' });
    expect(await cli(['calc', '1/0'])).to.deep.equal({ code: 1, out: '', err: 'calc: division by zero\n' });
    const help = await cli(['calc', '--help']);
    expect(help.out.split('\n')[0]).to.equal('usage: agent0 calc EXPR [--recipe R] [--tool NAME]');
    const dir = await tmp();
    await fs.writeFile(
      path.join(dir, 'r.yaml'),
      'name: r\ncomponents:\n  c: { use: tool/calculator, options: { maxCalls: 1 } }\npipeline: {}\n',
    );
    expect((await cli(['calc', '6*7', '--recipe', path.join(dir, 'r.yaml')])).out).to.equal('42\n');
  });
});
