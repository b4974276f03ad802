import { expect } from 'chai';
import * as tf from '@tensorflow/tfjs';
import { execFileSync } from 'node:child_process';
import { promises as fs, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { selectBackend } from '../../../plugins/engine-tfjs/backend/select.js';
import { readSafetensors, readSafetensorsHeader } from '../../../plugins/engine-tfjs/io/safetensors.js';
import { Qwen3Model } from '../../../plugins/engine-tfjs/model/qwen3.js';
import { DEFAULT_POLICY_OPTIONS, TfjsPolicy } from '../../../plugins/engine-tfjs/policy.js';
import type { HostTensor } from '../../../plugins/engine-tfjs/model/weights.js';
import { loadTokenizer } from '../../../core/index.js';

/**
 * Parity with HF transformers: test/fixtures/qwen3-tiny holds two random Qwen3 checkpoints saved by
 * transformers (untied fp32 in 3 shards with an index; tied bf16 in one file; GQA 4q/2kv, q/k norm,
 * rope theta 1e6) and the fp32 logits transformers computed from those files
 * (scripts/make_qwen3_fixture.py; fp32 vs fp64 there differs by < 1e-5).
 */
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const FIXTURE = path.join(ROOT, 'test/fixtures/qwen3-tiny');
const TOL = 1e-4;

interface Reference {
  logits: { texts: string[]; ids: number[][] };
  model_info: Record<string, unknown>;
  probe: { node_probe_checked: string[] };
  greedy: {
    variant: string;
    prompt_ids: number[];
    tokens: number[];
    logprobs: number[];
    min_top2_gap: number;
    hf_generate_tokens: number[];
  }[];
  errors: string[];
}
const ref = JSON.parse(readFileSync(path.join(FIXTURE, 'reference.json'), 'utf8')) as Reference;

function maxAbsDiff(a: Float32Array | number[], b: Float32Array): number {
  expect(a.length).to.equal(b.length);
  let m = 0;
  for (let i = 0; i < b.length; i++) m = Math.max(m, Math.abs((a[i] as number) - (b[i] as number)));
  return m;
}

describe('engine-tfjs parity with HF transformers (qwen3-tiny fixture)', function () {
  this.timeout(120000);
  let expected: Map<string, { shape: number[]; data: Float32Array }>;

  before(async () => {
    await selectBackend('wasm');
    expected = await readSafetensors(path.join(FIXTURE, 'reference_logits.safetensors'));
  });

  it('the fixture tokenizer reproduces the token ids the logits were computed for', async () => {
    const tok = await loadTokenizer(path.join(FIXTURE, 'untied'));
    ref.logits.texts.forEach((t, i) => expect(tok.encode(t), t).to.deep.equal(ref.logits.ids[i]));
  });

  for (const variant of ['untied', 'tied-bf16']) {
    it(`${variant}: loads the transformers checkpoint and matches its fp32 logits to ${TOL}`, async () => {
      const model = await Qwen3Model.fromPretrained(path.join(FIXTURE, variant));
      try {
        const c = model.config;
        expect([c.hidden_size, c.num_attention_heads, c.num_key_value_heads, c.head_dim, c.vocab_size]).to.deep.equal([
          64, 4, 2, 16, 384,
        ]);
        expect(c.tie_word_embeddings).to.equal(variant !== 'untied');
        expect(c.rope_theta).to.equal(1e6);
        const errs: number[] = [];
        for (const [i, ids] of ref.logits.ids.entries()) {
          const want = expected.get(`${variant}.${i}`);
          if (!want) throw new Error(`reference_logits has no ${variant}.${i}`);
          expect(want.shape).to.deep.equal([ids.length, 384]);
          const got = model.logits([ids]);
          const data = (await got.data()) as Float32Array;
          got.dispose();
          errs.push(maxAbsDiff(data, want.data));
        }
        if (process.env.PARITY_VERBOSE)
          console.log(`    ${variant} max |Δlogit| per sequence: ${errs.map((e) => e.toExponential(2)).join(', ')}`);
        expect(Math.max(...errs), `max |Δlogit| per sequence: ${errs.join(', ')}`).to.be.lessThan(TOL);
      } finally {
        model.dispose();
      }
    });
  }

  it('the fixture is sensitive: the wrong rope theta or missing q/k norms break the match', async () => {
    const dir = path.join(FIXTURE, 'untied');
    const good = await Qwen3Model.fromPretrained(dir);
    const cfg = good.config;
    good.dispose();
    const hf = (await readSafetensors(dir)) as Map<string, HostTensor>;
    const ones = (t: HostTensor): HostTensor => ({ ...t, data: new Float32Array(t.data.length).fill(1) });
    const noQkNorm = new Map([...hf].map(([k, t]) => [k, /(q|k)_norm/.test(k) ? ones(t) : t]));
    const ids = ref.logits.ids[2]!;
    const want = expected.get('untied.2')!.data;
    for (const [name, model] of [
      ['rope_theta 1e4', Qwen3Model.fromHf({ ...cfg, rope_theta: 1e4 }, hf)],
      ['no q/k norm', Qwen3Model.fromHf(cfg, noQkNorm)],
    ] as const) {
      const got = model.logits([ids]);
      const err = maxAbsDiff((await got.data()) as Float32Array, want);
      got.dispose();
      model.dispose();
      expect(err, name).to.be.greaterThan(100 * TOL);
    }
  });

  it('TfjsPolicy.computeLogProbs equals log-softmax of the reference logits; save() keeps the tokenizer', async () => {
    const dir = path.join(FIXTURE, 'untied');
    const policy = new TfjsPolicy(await Qwen3Model.fromPretrained(dir), await loadTokenizer(dir), {
      ...DEFAULT_POLICY_OPTIONS,
      microBatchSize: 2,
    });
    const tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'parity-policy-'));
    try {
      const rows = ref.logits.ids;
      const T = Math.max(...rows.map((r) => r.length));
      const pad = policy.tokenizer.padId;
      const lp = await policy.computeLogProbs({
        inputIds: rows.map((r) => [...r, ...new Array<number>(T - r.length).fill(pad)]),
        attentionMask: rows.map((r) => [...r.map(() => 1), ...new Array<number>(T - r.length).fill(0)]),
      });
      let worst = 0;
      rows.forEach((r, b) => {
        const logits = expected.get(`untied.${b}`)!.data;
        expect(lp[b]![0]).to.equal(0);
        for (let t = 1; t < r.length; t++) {
          // float64 log-softmax of HF's logits at t-1, read at token t.
          const row = logits.subarray((t - 1) * 384, t * 384);
          let mx = -Infinity;
          for (const v of row) mx = Math.max(mx, v);
          let z = 0;
          for (const v of row) z += Math.exp(v - mx);
          worst = Math.max(worst, Math.abs(row[r[t]!]! - mx - Math.log(z) - lp[b]![t]!));
        }
      });
      expect(worst).to.be.lessThan(TOL);
      await policy.save(tmp);
      const tok = await loadTokenizer(tmp);
      expect(tok.encode(ref.logits.texts[2]!)).to.deep.equal(rows[2]);
      expect(tok.eosIds).to.deep.equal(policy.tokenizer.eosIds);
    } finally {
      policy.dispose();
      await fs.rm(tmp, { recursive: true, force: true });
    }
  });

  for (const variant of ['untied', 'tied-bf16']) {
    it(`${variant}: greedy generate() (batched, KV cache) reproduces HF's greedy tokens and their log-probs`, async () => {
      const refs = ref.greedy.filter((g) => g.variant === variant);
      expect(refs).to.have.length(2);
      // HF generate() agreed with the full-recomputation loop, and no step is a near-tie.
      for (const g of refs) expect(g.hf_generate_tokens).to.deep.equal(g.tokens.slice(0, g.hf_generate_tokens.length));
      expect(Math.min(...refs.map((g) => g.min_top2_gap))).to.be.greaterThan(1e-2);
      const dir = path.join(FIXTURE, variant);
      const policy = new TfjsPolicy(
        await Qwen3Model.fromPretrained(dir),
        await loadTokenizer(dir),
        DEFAULT_POLICY_OPTIONS,
      );
      try {
        const n = refs[0]!.tokens.length;
        const out = await policy.generate(
          refs.map((g) => g.prompt_ids),
          { maxNewTokens: n, temperature: 0 },
        );
        refs.forEach((g, i) => {
          const c = out[i]!;
          expect(c.tokenIds, `${variant} prompt ${i}`).to.deep.equal(g.tokens);
          expect(c.finishReason).to.equal('length');
          expect(Math.max(...c.logProbs.map((lp, t) => Math.abs(lp - g.logprobs[t]!)))).to.be.lessThan(TOL);
          expect(c.text).to.equal(policy.tokenizer.decode(g.tokens));
        });
      } finally {
        policy.dispose();
      }
    });
  }

  it('right-padded batch rows give the same logits as each row alone', async () => {
    const model = await Qwen3Model.fromPretrained(path.join(FIXTURE, 'untied'));
    try {
      const rows = ref.logits.ids;
      const T = Math.max(...rows.map((r) => r.length));
      const padded = rows.map((r) => [...r, ...new Array<number>(T - r.length).fill(360)]);
      const got = model.logits(padded);
      const data = (await got.data()) as Float32Array;
      got.dispose();
      let worst = 0;
      rows.forEach((r, b) => {
        const want = expected.get(`untied.${b}`)!.data;
        worst = Math.max(worst, maxAbsDiff(data.subarray(b * T * 384, (b * T + r.length) * 384), want));
      });
      expect(worst).to.be.lessThan(TOL);
    } finally {
      model.dispose();
    }
  });

  it('reads F16/BF16 safetensors to exactly the f32 values torch widens them to', async () => {
    const t = await readSafetensors(path.join(FIXTURE, 'dtypes.safetensors'));
    const header = await readSafetensorsHeader(path.join(FIXTURE, 'dtypes.safetensors'));
    expect(header.entries.get('x.bf16')!.dtype).to.equal('BF16');
    expect(header.entries.get('x.f16')!.dtype).to.equal('F16');
    for (const [src, widened] of [
      ['x.f16', 'x.f16.as_f32'],
      ['x.bf16', 'x.bf16.as_f32'],
      ['r.f16', 'r.f16.as_f32'],
      ['r.bf16', 'r.bf16.as_f32'],
    ]) {
      const a = t.get(src as string)!;
      const b = t.get(widened as string)!;
      expect(a.shape, src).to.deep.equal(b.shape);
      // Exact (signed zeros, infinities, subnormals); any NaN payload is a NaN.
      a.data.forEach((v, i) => {
        const w = b.data[i] as number;
        expect(Object.is(v, w) || (Number.isNaN(v) && Number.isNaN(w)), `${src}[${i}]: ${v} vs ${w}`).to.equal(true);
      });
    }
    expect(t.get('scalar.f32')!.shape).to.deep.equal([]);
    expect(Array.from(t.get('scalar.f32')!.data)).to.deep.equal([2.5]);
    expect(t.get('empty.f32')!.shape).to.deep.equal([0, 4]);
  });

  it('the safetensors writer still writes the bytes the Python safetensors library verified', async () => {
    // make_qwen3_fixture.py --node-probe loaded node_probe.safetensors (written by
    // scripts/make_safetensors_probe.ts) in safetensors/torch and found every value equal to torch's rounding.
    expect(ref.errors).to.deep.equal([]);
    expect(ref.probe.node_probe_checked).to.have.length(6);
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'st-probe-'));
    try {
      const out = path.join(dir, 'probe.safetensors');
      execFileSync(process.execPath, ['--import', 'tsx', path.join(ROOT, 'scripts/make_safetensors_probe.ts'), out], {
        cwd: ROOT,
        stdio: 'pipe',
      });
      expect((await fs.readFile(out)).equals(await fs.readFile(path.join(FIXTURE, 'node_probe.safetensors')))).to.equal(
        true,
      );
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  });

  it('no tensors leak across loading and logits', async () => {
    const before = tf.memory().numTensors;
    const model = await Qwen3Model.fromPretrained(path.join(FIXTURE, 'tied-bf16'));
    model.logits([ref.logits.ids[0]!]).dispose();
    model.dispose();
    expect(tf.memory().numTensors).to.equal(before);
  });
});
