import { expect } from 'chai';
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '../../../plugins/engine-tfjs/backend/select.js';
import { fusedAvailable } from '../../../plugins/engine-tfjs/backend/fused-kernels.js';
import { Qwen3Model } from '../../../plugins/engine-tfjs/model/qwen3.js';
import { TEST_CONFIG, randomHfWeights } from './helpers.js';

/** Hidden states of the same forward with the fused inference kernels and with the plain ops. */
function both(model: Qwen3Model, run: (inference: boolean) => tf.Tensor): [Float32Array, Float32Array] {
  const a = tf.tidy(() => run(true));
  const b = tf.tidy(() => run(false));
  const out: [Float32Array, Float32Array] = [a.dataSync() as Float32Array, b.dataSync() as Float32Array];
  a.dispose();
  b.dispose();
  return out;
}

function maxDiff(a: Float32Array, b: Float32Array): number {
  expect(a.length).to.equal(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs((a[i] as number) - (b[i] as number)));
  return m;
}

describe('engine-tfjs: fused inference kernels (wasm)', () => {
  before(async () => {
    await selectBackend('wasm');
  });

  for (const [name, cfg] of [
    ['GQA, tied', TEST_CONFIG],
    ['MHA, untied, theta 1e6', { ...TEST_CONFIG, num_key_value_heads: 4, tie_word_embeddings: false, rope_theta: 1e6 }],
  ] as const) {
    it(`prefill with padding and a cached decode step equal the plain ops (${name})`, () => {
      expect(fusedAvailable()).to.equal(true);
      const model = Qwen3Model.fromHf(cfg, randomHfWeights(cfg, 3));
      try {
        const ids = [
          [0, 0, 5, 9, 11],
          [7, 3, 2, 8, 4],
          [0, 6, 6, 1, 30],
        ];
        const keyMask = ids.map((r, b) => r.map((_, t) => ((b === 0 && t < 2) || (b === 2 && t < 1) ? 0 : 1)));
        const positions = keyMask.map((m) => {
          let p = 0;
          return m.map((x) => (x ? p++ : 0));
        });
        const prefill = (inference: boolean): { hidden: tf.Tensor2D; cache: { k: tf.Tensor4D; v: tf.Tensor4D }[] } =>
          model.forward(tf.tensor2d(ids, undefined, 'int32'), {
            positions: tf.tensor2d(positions, undefined, 'int32'),
            keyMask: tf.tensor2d(keyMask),
            inference,
          });
        const [hf, hp] = both(model, (inf) => prefill(inf).hidden);
        expect(maxDiff(hf, hp)).to.be.below(1e-5);
        const step = (inference: boolean): tf.Tensor => {
          const { cache } = prefill(false);
          const f = model.forward(tf.tensor2d([[12], [13], [14]], undefined, 'int32'), {
            positions: tf.tensor2d([[3], [5], [4]], undefined, 'int32'),
            keyMask: tf.tensor2d(keyMask.map((m) => [...m, 1])),
            cache,
            inference,
          });
          return tf.concat([f.hidden, ...f.cache.map((c) => tf.reshape(c.k, [3, -1]))], 1);
        };
        const [df, dp] = both(model, step);
        expect(maxDiff(df, dp)).to.be.below(1e-5);
      } finally {
        model.dispose();
      }
    });
  }
});
