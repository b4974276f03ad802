import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { agent0 } from './cli.js';
import { resolveConfig, TINY_CONFIG } from '../../plugins/engine-tfjs/model/config.js';
import { Qwen3Model } from '../../plugins/engine-tfjs/model/qwen3.js';
import { DEFAULT_POLICY_OPTIONS, TfjsPolicy } from '../../plugins/engine-tfjs/policy.js';
import { TinyTokenizer } from '../../core/index.js';

describe('end to end: agent0 eval on a saved checkpoint and a JSONL benchmark', function () {
  this.timeout(120_000);

  it('writes per-item results and a summary with pass@1, mean@k and maj@k, with and without tools', async () => {
    const work = await fs.mkdtemp(path.join(os.tmpdir(), 'agent0-eval-'));
    // Built directly, not through the component: the component logs the tfjs backend once per process.
    const tok = new TinyTokenizer({ words: ['```python\n', '```output'] });
    const cfg = resolveConfig(
      {
        vocab_size: tok.vocabSize,
        hidden_size: 32,
        intermediate_size: 64,
        num_hidden_layers: 1,
        num_attention_heads: 2,
        num_key_value_heads: 1,
        head_dim: 16,
      },
      TINY_CONFIG,
    );
    const p = new TfjsPolicy(Qwen3Model.random(cfg, 1), tok, DEFAULT_POLICY_OPTIONS);
    const ckpt = path.join(work, 'ckpt');
    await p.save(ckpt);
    p.dispose();
    // MATH-500's field names; one item answered by a reference that needs the verifier (1/2 = 0.5)
    const bench = path.join(work, 'mini.jsonl');
    await fs.writeFile(
      bench,
      [
        { problem: '2 + 3', answer: '5', unique_id: 'a' },
        { problem: '7 * 6', answer: '42', unique_id: 'b' },
        { problem: '1 / 2', answer: '\\frac{1}{2}', unique_id: 'c' },
      ]
        .map((x) => JSON.stringify(x))
        .join('\n') + '\n',
    );
    const sets = [
      '--set',
      'pipeline.loop.evaluate.options.maxNewTokens=24',
      '--set',
      'pipeline.loop.evaluate.options.sampling.maxNewTokens=24',
    ];
    for (const tools of [true, false]) {
      const out = path.join(work, tools ? 'with' : 'without');
      const r = await agent0(
        [
          'eval',
          '--checkpoint',
          ckpt,
          '--benchmark',
          bench,
          // without --k the recipe's own evaluate stage sets it
          ...(tools ? ['--k', '3'] : ['--set', 'pipeline.loop.evaluate.options.k=2']),
          '--out',
          out,
          ...(tools ? [] : ['--no-tools']),
          ...sets,
        ],
        work,
      );
      expect(r.code, r.err.slice(-3000)).to.equal(0);
      const summary = JSON.parse(await fs.readFile(path.join(out, 'summary.json'), 'utf8')) as Record<string, unknown>;
      expect(summary).to.include({ benchmark: bench, tools, items: 3, k: tools ? 3 : 2 });
      for (const k of ['accuracy', 'meanAtK', 'majAtK', 'toolCallsPerSolution'])
        expect(summary[k], k).to.be.a('number').within(0, 3);
      const items = (await fs.readFile(path.join(out, 'items.jsonl'), 'utf8'))
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as { id: string; answer: string; correct: boolean });
      expect(items.map((i) => [i.id, i.answer])).to.deep.equal([
        ['a', '5'],
        ['b', '42'],
        ['c', '\\frac{1}{2}'],
      ]);
      expect(JSON.parse(r.out.trim().split('\n').pop() as string)).to.include({ out, tools });
    }
    await fs.rm(work, { recursive: true, force: true });
  });
});
