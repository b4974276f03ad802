import { promises as fs } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import { cliMain } from '../../core/index.js';
import { builtinPlugins, loadBuiltinPlugins } from '../../plugins/index.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

async function cli(argv: string[]) {
  let out = '';
  let err = '';
  const code = await cliMain(argv, {
    builtins: builtinPlugins,
    cwd: root,
    stdout: (s) => {
      out += s;
    },
    stderr: (s) => {
      err += s;
    },
  });
  return { code, out, err };
}

describe('the shipped recipes and the built-in plugins', () => {
  it('agent0 validate accepts every recipe in recipes/ and recipes/ablations/ (the paper-scale one included)', async () => {
    const files = [
      ...(await fs.readdir(path.join(root, 'recipes')))
        .filter((f) => f.endsWith('.yaml'))
        .map((f) => path.join('recipes', f)),
      ...(await fs.readdir(path.join(root, 'recipes', 'ablations')))
        .filter((f) => f.endsWith('.yaml'))
        .map((f) => path.join('recipes', 'ablations', f)),
    ];
    expect(files).to.include.members([
      'recipes/math_tir_adpo.yaml',
      'recipes/smoke.yaml',
      'recipes/qwen3_4b_math_tir_adpo.yaml',
    ]);
    expect(files.filter((f) => f.startsWith('recipes/ablations/')).length).to.be.at.least(10);
    for (const f of files) {
      const r = await cli(['validate', f]);
      expect(r.code, `${f}: ${r.err}`).to.equal(0);
    }
  });

  it('validates the eval recipe once the command fills in the checkpoint and the benchmark', async () => {
    const bare = await cli(['validate', 'configs/eval.yaml']);
    expect(bare.code).to.equal(2);
    expect(bare.err).to.match(/configs\/eval\.yaml:\d+:\d+: components\.benchmark\.options\.splits/);
    const filled = await cli([
      'validate',
      'configs/eval.yaml',
      '--set',
      'components.executor.options.checkpoint=/m',
      '--set',
      'components.benchmark.options.splits={bench: b.jsonl}',
    ]);
    expect(filled.code, filled.err).to.equal(0);
  });

  it('agent0 plugins --json lists every built-in component with its option schema', async () => {
    const r = await cli(['plugins', '--json']);
    expect(r.code).to.equal(0);
    const listed = JSON.parse(r.out) as { id: string; kind: string; description: string; options: { type?: string } }[];
    const ids = listed.map((c) => c.id);
    const expected = (await loadBuiltinPlugins()).flatMap((p) => p.components.map((c) => `${c.kind}/${c.name}`));
    expect(ids).to.have.members(expected);
    for (const id of [
      'policy/tfjs',
      'rollout/openai',
      'tool/python',
      'tool/sandbox-fusion',
      'verifier/math',
      'reward/curriculum',
      'advantage/adpo',
      'advantage/grpo',
      'policy-loss/adpo',
      'kl/low_var_kl',
      'loss-agg/token-mean',
      'task-source/arith',
      'stage/bootstrap',
    ]) {
      expect(ids, id).to.include(id);
    }
    for (const c of listed) {
      expect(c.description, c.id).to.be.a('string').and.not.equal('');
      expect(c.options.type, c.id).to.equal('object');
    }
  });
});
