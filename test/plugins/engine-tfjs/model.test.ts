import { expect } from 'chai';
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '../../../plugins/engine-tfjs/backend/select.js';
import { Qwen3Model } from '../../../plugins/engine-tfjs/model/qwen3.js';
import { countParams, resolveConfig, TINY_CONFIG } from '../../../plugins/engine-tfjs/model/config.js';
import { fromHfTensors, toHfTensors } from '../../../plugins/engine-tfjs/model/weights.js';
import { randomHfWeights, referenceLogits, TEST_CONFIG } from './helpers.js';

describe('engine-tfjs: Qwen3 model', () => {
  before(async () => {
    await selectBackend('wasm');
  });

  it('random init is a function of the seed (seed 0 included)', () => {
    const q = (m: Qwen3Model) => {
      const t = m.hfTensors().get('model.layers.0.self_attn.q_proj.weight')!.data;
      m.dispose();
      return Array.from(t.slice(0, 8));
    };
    const a = q(Qwen3Model.random(TEST_CONFIG, 0));
    expect(q(Qwen3Model.random(TEST_CONFIG, 0))).to.deep.equal(a);
    expect(q(Qwen3Model.random(TEST_CONFIG, 1))).to.not.deep.equal(a);
  });

  for (const variant of [
    { name: 'tied, GQA 4q/2kv', cfg: TEST_CONFIG },
    {
      name: 'untied, MHA, theta 1e6',
      cfg: { ...TEST_CONFIG, tie_word_embeddings: false, num_key_value_heads: 4, rope_theta: 1e6 },
    },
  ]) {
    it(`logits match a plain-loop float64 reference (${variant.name})`, () => {
      const w = randomHfWeights(variant.cfg, 7);
      const m = Qwen3Model.fromHf(variant.cfg, w);
      const ids = [
        [5, 17, 3, 90, 42, 8, 8, 61],
        [2, 3, 4, 5, 6, 7, 8, 9],
      ];
      const got = m.logits(ids);
      expect(got.shape).to.deep.equal([2, 8, variant.cfg.vocab_size]);
      const data = got.arraySync();
      got.dispose();
      let maxErr = 0;
      ids.forEach((row, b) => {
        const ref = referenceLogits(variant.cfg, w, row);
        ref.forEach((r, t) =>
          r.forEach((v, j) => {
            maxErr = Math.max(maxErr, Math.abs(v - data[b]![t]![j]!));
          }),
        );
      });
      expect(maxErr).to.be.lessThan(1e-4);
      m.dispose();
    });
  }

  it('weights survive HF → internal → HF unchanged', () => {
    const c = { ...TEST_CONFIG, tie_word_embeddings: false };
    const w = randomHfWeights(c, 3);
    const back = toHfTensors(c, fromHfTensors(c, w));
    expect([...back.keys()].sort()).to.deep.equal([...w.keys()].sort());
    for (const [k, t] of w) {
      expect(back.get(k)!.shape, k).to.deep.equal(t.shape);
      expect(Array.from(back.get(k)!.data), k).to.deep.equal(Array.from(t.data));
    }
  });

  it('counts parameters as HF does', () => {
    // d=32, hd=8, H=4, KV=2, ff=48, V=98, L=2, tied:
    // per layer: q 32·32 + k 32·16 + v 32·16 + o 32·32 + norms 2·8 + mlp 3·32·48 + 2·32
    const layer = 1024 + 512 + 512 + 1024 + 16 + 4608 + 64;
    expect(countParams(TEST_CONFIG)).to.equal(98 * 32 + 2 * layer + 32);
    expect(countParams(TINY_CONFIG)).to.be.within(0.7e6, 1.3e6);
  });

  it('fills head_dim and num_key_value_heads like HF when absent', () => {
    const c = resolveConfig({
      hidden_size: 64,
      num_attention_heads: 4,
      head_dim: undefined,
      num_key_value_heads: undefined,
    } as never);
    expect(c.head_dim).to.equal(16);
    expect(c.num_key_value_heads).to.equal(4);
    expect(() => resolveConfig({ num_attention_heads: 4, num_key_value_heads: 3 })).to.throw(/multiple/);
  });

  it('sliced attention (wasm training path) equals batched attention, with left padding and positions', () => {
    const w = fromHfTensors(TEST_CONFIG, randomHfWeights(TEST_CONFIG, 17));
    const sliced = new Qwen3Model(TEST_CONFIG, w, { mode: { rank2Grads: true, slicedAttentionMinWork: 0 } });
    const batched = new Qwen3Model(TEST_CONFIG, w, { mode: { rank2Grads: false } });
    const run = (m: Qwen3Model): number[] =>
      tf.tidy(() => {
        const ids = tf.tensor2d(
          [
            [0, 0, 5, 9, 12],
            [3, 4, 5, 6, 7],
          ],
          [2, 5],
          'int32',
        );
        const positions = tf.tensor2d(
          [
            [0, 0, 0, 1, 2],
            [0, 1, 2, 3, 4],
          ],
          [2, 5],
          'int32',
        );
        const keyMask = tf.tensor2d([
          [0, 0, 1, 1, 1],
          [1, 1, 1, 1, 1],
        ]);
        return Array.from(m.head(m.forward(ids, { positions, keyMask }).hidden).dataSync());
      });
    const a = run(sliced);
    const b = run(batched);
    expect(a.length).to.equal(10 * TEST_CONFIG.vocab_size);
    a.forEach((x, i) => expect(x).to.be.closeTo(b[i]!, 1e-4));
    sliced.dispose();
    batched.dispose();
  });

  it('a forward pass with a KV cache matches the full pass', () => {
    const m = Qwen3Model.fromHf(TEST_CONFIG, randomHfWeights(TEST_CONFIG, 11));
    const ids = [4, 9, 33, 12, 7, 70];
    const full = m.logits([ids]);
    const fullLast = full.arraySync()[0]![5]!;
    full.dispose();
    const last = tf.tidy(() => {
      const a = m.forward(tf.tensor2d([ids.slice(0, 4)], [1, 4], 'int32'));
      const b = m.forward(tf.tensor2d([[ids[4]!]], [1, 1], 'int32'), { cache: a.cache });
      const c = m.forward(tf.tensor2d([[ids[5]!]], [1, 1], 'int32'), { cache: b.cache });
      return m.head(c.hidden);
    });
    const got = last.arraySync()[0]!;
    last.dispose();
    got.forEach((v, j) => expect(v).to.be.closeTo(fullLast[j]!, 1e-4));
    m.dispose();
  });
});
