import { parseArgs } from 'node:util';
import { checkpointOption, type CliCommand, type CliOptions } from '../../core/index.js';
import { BatchingEngine } from './batcher.js';
import { createServer, listen } from './server.js';

interface Row {
  maxBatch: number;
  requests: number;
  seconds: number;
  requestsPerSec: number;
  tokensPerSec: number;
  p50Ms: number;
  p95Ms: number;
  policyCalls: number;
  largestCall: number;
}

const quantile = (xs: number[], q: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? NaN;
};

const BENCH_SERVE_OPTIONS = {
  json: { type: 'boolean', default: false, description: 'print the result as JSON' },
  checkpoint: {
    type: 'string',
    value: 'DIR',
    description: 'serve this policy/tfjs checkpoint (default: a random tiny model)',
  },
  requests: {
    type: 'string',
    default: '64',
    value: 'N',
    description: 'concurrent /v1/completions requests per configuration',
  },
  'max-tokens': { type: 'string', default: '32', value: 'N', description: 'max_tokens of every request' },
  'batch-window-ms': {
    type: 'string',
    default: '5',
    value: 'MS',
    description: 'how long the batcher waits to gather requests',
  },
} satisfies CliOptions;

export const benchServeCommand: CliCommand = {
  name: 'bench serve',
  summary: 'agent0 serve throughput: concurrent /v1/completions with and without request batching',
  usage: 'agent0 bench serve [--json] [--checkpoint DIR] [--requests 64] [--max-tokens 32] [--batch-window-ms 5]',
  options: BENCH_SERVE_OPTIONS,
  async run(args, env) {
    const { values } = parseArgs({ args, options: BENCH_SERVE_OPTIONS });
    const [n, maxTokens, windowMs] = [
      Number(values.requests),
      Number(values['max-tokens']),
      Number(values['batch-window-ms']),
    ];
    if (![n, maxTokens].every((x) => Number.isInteger(x) && x >= 1) || !(windowMs >= 0)) {
      env.stderr(`usage: ${this.usage}`);
      return 2;
    }
    // Random init of the tiny embedded size unless a checkpoint is given: the protocol and the
    // batching are what is measured, not the model.
    const policy = await env.createComponent(
      'policy',
      'tfjs',
      values.checkpoint ? checkpointOption(values.checkpoint, env.cwd) : { tokenizer: 'tiny', seed: 1 },
    );
    const rows: Row[] = [];
    try {
      for (const maxBatch of [1, n]) {
        const batcher = new BatchingEngine(policy, {
          windowMs,
          maxRows: maxBatch,
          randomSeed: () => Math.floor(Math.random() * 2 ** 31),
        });
        const srv = await listen(
          createServer({ engine: batcher, modelName: 'bench', limits: { maxTokens, maxN: 1 } }),
          '127.0.0.1',
          0,
        );
        try {
          const ask = async (i: number) => {
            const t0 = performance.now();
            const r = await fetch(`${srv.url}/completions`, {
              method: 'POST',
              headers: { 'content-type': 'application/json' },
              body: JSON.stringify({ model: 'bench', prompt: `${i}+${i}=`, max_tokens: maxTokens, temperature: 1 }),
            });
            const j = (await r.json()) as { usage?: { completion_tokens: number }; error?: { message: string } };
            if (!r.ok || !j.usage) throw new Error(`bench serve: HTTP ${r.status}: ${j.error?.message ?? 'no usage'}`);
            return { ms: performance.now() - t0, tokens: j.usage.completion_tokens };
          };
          await Promise.all([0, 1].map(ask)); // warm-up: kernels compiled, connections open
          const before = batcher.stats();
          const t0 = performance.now();
          const res = await Promise.all(Array.from({ length: n }, (_, i) => ask(i)));
          const s = (performance.now() - t0) / 1000;
          const after = batcher.stats();
          rows.push({
            maxBatch,
            requests: n,
            seconds: s,
            requestsPerSec: n / s,
            tokensPerSec: res.reduce((a, r) => a + r.tokens, 0) / s,
            p50Ms: quantile(
              res.map((r) => r.ms),
              0.5,
            ),
            p95Ms: quantile(
              res.map((r) => r.ms),
              0.95,
            ),
            policyCalls: after.calls - before.calls,
            largestCall: after.largestCall,
          });
        } finally {
          await srv.close();
        }
      }
    } finally {
      await policy.dispose();
    }
    if (values.json) {
      env.stdout(JSON.stringify({ bench: 'serve', maxTokens, windowMs, rows }));
      return 0;
    }
    env.stdout(
      `agent0 serve, ${n} concurrent completions of ${maxTokens} tokens, ${policy.describe().params as number} params, window ${windowMs} ms`,
    );
    env.stdout(['max batch', 'req/s', 'tok/s', 'p50 ms', 'p95 ms', 'policy calls'].map((h) => h.padStart(13)).join(''));
    for (const r of rows) {
      env.stdout(
        [
          r.maxBatch,
          r.requestsPerSec.toFixed(1),
          r.tokensPerSec.toFixed(0),
          r.p50Ms.toFixed(0),
          r.p95Ms.toFixed(0),
          r.policyCalls,
        ]
          .map((v) => String(v).padStart(13))
          .join(''),
      );
    }
    return 0;
  },
};
