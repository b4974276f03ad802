import { spawn, spawnSync } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import type { CliCommand, CliEnv, CliOptions, FusedLossSpec, TokenBatch } from '../../core/index.js';
import { findPython, trainerPythonPath } from './launch.js';
import type { TorchPolicy } from './policy.js';

/** Random-init shapes of the Qwen3 family (config.json of Qwen/Qwen3-0.6B, -4B, -8B). */
export const QWEN3_SHAPES: Record<string, Record<string, unknown>> = {
  tiny: {
    vocab_size: 384,
    hidden_size: 64,
    intermediate_size: 96,
    num_hidden_layers: 2,
    num_attention_heads: 4,
    num_key_value_heads: 2,
    head_dim: 16,
    tie_word_embeddings: false,
  },
  '0.6b': {
    vocab_size: 151936,
    hidden_size: 1024,
    intermediate_size: 3072,
    num_hidden_layers: 28,
    num_attention_heads: 16,
    num_key_value_heads: 8,
    head_dim: 128,
    tie_word_embeddings: true,
  },
  '4b': {
    vocab_size: 151936,
    hidden_size: 2560,
    intermediate_size: 9728,
    num_hidden_layers: 36,
    num_attention_heads: 32,
    num_key_value_heads: 8,
    head_dim: 128,
    tie_word_embeddings: true,
  },
  '8b': {
    vocab_size: 151936,
    hidden_size: 4096,
    intermediate_size: 12288,
    num_hidden_layers: 36,
    num_attention_heads: 32,
    num_key_value_heads: 8,
    head_dim: 128,
    tie_word_embeddings: false,
  },
};

/** Dense bf16 peak of the GPUs we know (vendor datasheets), for MFU. */
export function peakFlops(device: string): number | null {
  if (/H100/.test(device)) return /PCIe/i.test(device) ? 756e12 : 989e12;
  if (/H200/.test(device)) return 989e12;
  if (/A100/.test(device)) return 312e12;
  return null;
}

/** Model FLOPs per trained token (PaLM's count: 6N plus causal attention; recomputation not counted). */
export function trainFlopsPerToken(c: Record<string, unknown>, params: number, T: number): number {
  const L = c.num_hidden_layers as number,
    H = c.num_attention_heads as number,
    hd = (c.head_dim as number) ?? (c.hidden_size as number) / H;
  return 6 * params + 6 * L * H * hd * T;
}

interface TrainRow {
  T: number;
  rows: number;
  step_s: number;
  tokens_per_s: number;
  step_min_s?: number;
  step_max_s?: number;
  peak_bytes?: number;
}
interface DecodeRow {
  batch: number;
  new_tokens: number;
  seconds: number;
  tokens_per_s: number;
  peak_bytes?: number;
}
interface Side {
  train: TrainRow[];
  decode?: DecodeRow;
  device?: string;
  impl?: string;
  params?: number;
  decode_skipped?: string;
  error?: string;
}

function randomRows(rows: number, T: number, V: number, seed: number): number[][] {
  let x = seed >>> 0 || 1;
  const next = () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >> 17;
    x ^= x << 5;
    x >>>= 0;
    return x % V;
  };
  return Array.from({ length: rows }, () => Array.from({ length: T }, next));
}

/** The service side: fused training steps through the policy (client, binary bodies, HTTP) and /v1/completions. */
async function measureService(env: CliEnv, shape: Record<string, unknown>, o: BenchOptions): Promise<Side> {
  const policy = (await env.createComponent('policy', 'torch', {
    config: shape,
    tokenizer: 'tiny',
    maxSeqLen: Math.max(...o.seqs) + o.decodeTokens + o.promptLen + 1,
    lossPath: 'fused',
    optimizer: { lr: 1e-6, weightDecay: 0.01, maxGradNorm: 1 },
    launch: { ...(o.python ? { python: o.python } : {}), args: o.device === 'cpu' ? ['--device', 'cpu'] : [] },
    model: { impl: o.impl, microBatchTokens: o.microBatchTokens, shard: o.shard },
  })) as TorchPolicy;
  const client = policy.service;
  const side: Side = {
    train: [],
    device: client.info.device_name,
    impl: String(policy.describe().impl),
    params: Number(policy.describe().params),
  };
  const V = shape.vocab_size as number;
  try {
    for (const T of o.seqs) {
      const ids = randomRows(o.rows, T + 1, V, T);
      const batch: TokenBatch = { inputIds: ids, attentionMask: ids.map((r) => r.map(() => 1)) };
      const n = o.rows * T;
      const spec: FusedLossSpec = {
        advantages: ids.map((_, i) => new Float32Array(T + 1).fill(i % 2 ? 1 : -1)),
        oldLogProbs: ids.map(() => new Float32Array(T + 1)),
        weights: ids.map(() => new Float64Array(T + 1).fill(1 / n)),
        mask: ids.map(() => new Array<number>(T + 1).fill(1)),
        clipLow: ids.map(() => 0.2),
        clipHigh: ids.map(() => 0.2),
        ratio: 'token',
        clipRatioC: null,
        klType: null,
        klCoef: 0,
        entropyCoef: 0,
      };
      await client.client.post('/agent0/memory', { reset: true });
      const times: number[] = [];
      for (let s = 0; s < o.warmup + o.steps; s++) {
        const t0 = performance.now();
        await policy.fused!.trainStep(batch, spec);
        if (s >= o.warmup) times.push((performance.now() - t0) / 1000);
      }
      const mem = await memory(client.client);
      const step = times.reduce((a, b) => a + b, 0) / times.length;
      side.train.push({
        T,
        rows: o.rows,
        step_s: step,
        tokens_per_s: n / step,
        step_min_s: Math.min(...times),
        step_max_s: Math.max(...times),
        ...(mem ? { peak_bytes: mem } : {}),
      });
      env.stderr(
        `  service T=${T}: ${(n / step).toFixed(0)} tokens/s (${step.toFixed(3)} s/step, ${Math.min(...times).toFixed(3)}–${Math.max(...times).toFixed(3)})\n`,
      );
    }
    if (o.decodeBatch > 0) {
      const prompts = randomRows(o.decodeBatch, o.promptLen, V, 7);
      const body = {
        model: policy.modelId,
        prompt: prompts,
        max_tokens: o.decodeTokens,
        temperature: 1,
        top_p: 1,
        ignore_eos: true,
        seed: 1,
      };
      await client.client.completions({ ...body, prompt: prompts.map((p) => p.slice(0, 8)), max_tokens: 4 });
      await client.client.post('/agent0/memory', { reset: true });
      const t0 = performance.now();
      const r = await client.client.completions(body);
      const dt = (performance.now() - t0) / 1000;
      const made = r.choices.reduce((a, c) => a + ((c.token_ids as number[]) ?? []).length, 0);
      const mem = await memory(client.client);
      side.decode = {
        batch: o.decodeBatch,
        new_tokens: o.decodeTokens,
        seconds: dt,
        tokens_per_s: made / dt,
        ...(mem ? { peak_bytes: mem } : {}),
      };
      env.stderr(`  service decode B=${o.decodeBatch}: ${(made / dt).toFixed(0)} tokens/s\n`);
    }
  } finally {
    await policy.dispose();
  }
  return side;
}

async function memory(client: import('./client.js').TrainerClient): Promise<number | undefined> {
  const m = await client.post<{ max_allocated?: number }>('/agent0/memory', {}).catch(() => undefined);
  return m?.max_allocated;
}

/** The plain-loop peer, in its own process after the service is gone (the GPU is free again). */
function measurePeer(python: string, shape: Record<string, unknown>, o: BenchOptions): Promise<Side> {
  const job = {
    config: { model_type: 'qwen3', rms_norm_eps: 1e-6, rope_theta: 1e6, max_position_embeddings: 65536, ...shape },
    seqs: o.seqs,
    rows: o.rows,
    steps: o.steps,
    warmup: o.warmup,
    micro_batch_tokens: o.microBatchTokens,
    impl: o.impl,
    device: o.device,
    decode: o.decodeBatch > 0 ? { batch: o.decodeBatch, prompt_len: o.promptLen, new_tokens: o.decodeTokens } : null,
  };
  return new Promise((resolve) => {
    const child = spawn(python, ['-m', 'agent0_trainer.bench_peer'], {
      env: { ...process.env, PYTHONPATH: trainerPythonPath() },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      err += d.toString();
    });
    child.on('close', (code) => {
      if (code !== 0)
        return resolve({
          train: [],
          error: `peer exited with ${code}: ${err.trim().split('\n').slice(-3).join(' | ')}`,
        });
      try {
        resolve(JSON.parse(out.trim().split('\n').pop() as string) as Side);
      } catch (e) {
        resolve({ train: [], error: `peer printed no JSON: ${(e as Error).message}` });
      }
    });
    child.stdin.end(JSON.stringify(job));
  });
}

function hasCuda(python: string): boolean {
  const r = spawnSync(python, ['-c', 'import torch; print(torch.cuda.is_available())'], {
    encoding: 'utf8',
    timeout: 120_000,
  });
  return r.stdout.trim() === 'True';
}

interface BenchOptions {
  shapes: string[];
  seqs: number[];
  rows: number;
  steps: number;
  warmup: number;
  microBatchTokens: number;
  decodeBatch: number;
  decodeTokens: number;
  promptLen: number;
  impl: string;
  shard: string;
  device: string;
  python: string | null;
}

const spread = (r: TrainRow) =>
  `${r.step_s.toFixed(3)} (${r.step_min_s?.toFixed(3) ?? '?'}–${r.step_max_s?.toFixed(3) ?? '?'})`;
const gb = (b?: number) => (b === undefined ? '-' : `${(b / 2 ** 30).toFixed(1)} GiB`);

function report(
  results: { shape: string; config: Record<string, unknown>; service: Side; peer: Side }[],
  shard = 'auto',
): string {
  const lines = [
    '## agent0 bench trainer',
    '',
    `Service: policy/torch fused steps (client, binary bodies, HTTP, micro-batches by token budget; shard: ${shard}). Peer: a plain PyTorch loop with the same settings in its own process, same GPU, same run. MFU counts model FLOPs (6N + causal attention), not recomputation.`,
    '',
  ];
  lines.push(
    '| model | params | T | rows | service tokens/s | peer tokens/s | ratio | service MFU | peer MFU | service s/step (min–max) | peer s/step (min–max) | service peak | peer peak |',
    '|---|---|---|---|---|---|---|---|---|---|---|---|---|',
  );
  for (const r of results) {
    const peak = peakFlops(r.service.device ?? '');
    r.service.train.forEach((s, i) => {
      const p = r.peer.train[i];
      const f = trainFlopsPerToken(r.config, r.service.params ?? 0, s.T);
      const mfu = (tps: number) => (peak ? `${(((tps * f) / peak) * 100).toFixed(1)}%` : '-');
      lines.push(
        `| ${r.shape} | ${((r.service.params ?? 0) / 1e9).toFixed(2)}B | ${s.T} | ${s.rows} | ${s.tokens_per_s.toFixed(0)} | ${p ? p.tokens_per_s.toFixed(0) : '-'} | ${p ? (s.tokens_per_s / p.tokens_per_s).toFixed(3) : '-'} | ${mfu(s.tokens_per_s)} | ${p ? mfu(p.tokens_per_s) : '-'} | ${spread(s)} | ${p ? spread(p) : '-'} | ${gb(s.peak_bytes)} | ${gb(p?.peak_bytes)} |`,
      );
    });
  }
  lines.push(
    '',
    '| model | decode batch | new tokens | service tokens/s | HF generate tokens/s | ratio | service peak | HF peak |',
    '|---|---|---|---|---|---|---|---|',
  );
  for (const r of results) {
    const s = r.service.decode,
      p = r.peer.decode;
    if (!s) continue;
    lines.push(
      `| ${r.shape} | ${s.batch} | ${s.new_tokens} | ${s.tokens_per_s.toFixed(0)} | ${p ? p.tokens_per_s.toFixed(0) : (r.peer.decode_skipped ?? '-')} | ${p ? (s.tokens_per_s / p.tokens_per_s).toFixed(3) : '-'} | ${gb(s.peak_bytes)} | ${gb(p?.peak_bytes)} |`,
    );
  }
  for (const r of results) if (r.peer.error) lines.push('', `peer (${r.shape}): ${r.peer.error}`);
  return lines.join('\n');
}

const BENCH_TRAINER_OPTIONS = {
  shapes: {
    type: 'string',
    default: '0.6b,4b',
    value: 'LIST',
    description: `Qwen3 shapes, random init (${Object.keys(QWEN3_SHAPES).join(', ')})`,
  },
  seqs: { type: 'string', default: '2048,4096', value: 'LIST', description: 'training sequence lengths' },
  rows: { type: 'string', default: '8', value: 'N', description: 'rows per training step' },
  steps: { type: 'string', default: '5', value: 'N', description: 'timed training steps per length' },
  warmup: { type: 'string', default: '2', value: 'N', description: 'untimed steps first' },
  'micro-batch-tokens': {
    type: 'string',
    default: '16384',
    value: 'N',
    description: 'tokens per micro-batch (gradient accumulation beyond)',
  },
  'decode-batch': {
    type: 'string',
    default: '64',
    value: 'N',
    description: 'rows decoded together through /v1/completions',
  },
  'decode-tokens': { type: 'string', default: '256', value: 'N', description: 'new tokens per decoded row' },
  'prompt-len': { type: 'string', default: '128', value: 'N', description: 'prompt tokens per decoded row' },
  impl: {
    type: 'string',
    default: 'auto',
    value: 'auto|builtin|transformers',
    description: 'model implementation of the trainer service',
  },
  shard: { type: 'string', default: 'auto', value: 'auto|fsdp2|none', description: 'sharding over the visible GPUs' },
  device: {
    type: 'string',
    default: 'auto',
    value: 'auto|cpu',
    description: 'cpu runs without CUDA (use small --shapes tiny)',
  },
  python: {
    type: 'string',
    value: 'PY',
    description: 'python with torch for the service and the peer (default: found on PATH)',
  },
  out: { type: 'string', value: 'FILE.json', description: 'also write the options and results to FILE.json' },
  'no-peer': { type: 'boolean', default: false, description: 'skip the plain PyTorch peer' },
  json: { type: 'boolean', default: false, description: 'print the result as JSON' },
} satisfies CliOptions;

export const benchTrainerCommand: CliCommand = {
  name: 'bench trainer',
  summary:
    'trainer service throughput (fused training steps, /v1/completions decode) vs a plain PyTorch loop and transformers generate()',
  usage:
    'agent0 bench trainer [--shapes 0.6b,4b] [--seqs 2048,4096] [--rows 8] [--steps 5] [--warmup 2] [--micro-batch-tokens 16384] [--decode-batch 64] [--decode-tokens 256] [--prompt-len 128] [--impl auto|builtin|transformers] [--shard auto|fsdp2|none] [--device auto|cpu] [--python PY] [--out FILE.json] [--no-peer] [--json]',
  options: BENCH_TRAINER_OPTIONS,
  details: 'Without a CUDA device (and without --device cpu) it prints that it skipped and exits 0.',
  async run(args, env) {
    const { values } = parseArgs({ args, allowPositionals: false, options: BENCH_TRAINER_OPTIONS });
    const num = (k: string) => Number((values as Record<string, unknown>)[k]);
    const o: BenchOptions = {
      shapes: values.shapes.split(','),
      seqs: values.seqs.split(',').map(Number),
      rows: num('rows'),
      steps: num('steps'),
      warmup: num('warmup'),
      microBatchTokens: num('micro-batch-tokens'),
      decodeBatch: num('decode-batch'),
      decodeTokens: num('decode-tokens'),
      promptLen: num('prompt-len'),
      impl: values.impl,
      shard: values.shard,
      device: values.device,
      python: values.python ?? null,
    };
    if (!['auto', 'fsdp2', 'none'].includes(o.shard))
      throw new Error(`--shard must be auto, fsdp2 or none (got '${o.shard}')`);
    for (const s of o.shapes)
      if (!QWEN3_SHAPES[s]) throw new Error(`unknown shape '${s}' (${Object.keys(QWEN3_SHAPES).join(', ')})`);
    const python = findPython(o.python);
    if (o.device !== 'cpu' && !hasCuda(python)) {
      // `bench all` on a machine without a GPU: a 4B model on the CPU would take hours
      env.stderr(
        'bench trainer: no CUDA device; skipped (run with --device cpu --shapes tiny to exercise it on the CPU)\n',
      );
      if (values.json) env.stdout(`${JSON.stringify({ skipped: 'no CUDA device' })}\n`);
      return 0;
    }
    const results = [];
    for (const shape of o.shapes) {
      const config = { rms_norm_eps: 1e-6, rope_theta: 1e6, ...QWEN3_SHAPES[shape] } as Record<string, unknown>;
      env.stderr(`${shape}: service\n`);
      const service = await measureService(env, config, o);
      env.stderr(`${shape}: plain PyTorch peer\n`);
      const peer = values['no-peer'] ? { train: [] } : await measurePeer(python, config, o);
      results.push({ shape, config, service, peer });
    }
    const text = report(results, o.shard);
    env.stdout(values.json ? `${JSON.stringify({ options: o, results })}\n` : `${text}\n`);
    if (values.out)
      await writeFile(values.out, JSON.stringify({ options: o, results, when: new Date().toISOString() }, null, 2));
    return 0;
  },
};
