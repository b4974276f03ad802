import { expect } from 'chai';
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '../../../plugins/engine-tfjs/backend/select.js';
import { Qwen3Model } from '../../../plugins/engine-tfjs/model/qwen3.js';
import type { OpsMode } from '../../../plugins/engine-tfjs/model/ops.js';
import { fromHfTensors, type HostTensor, toHfTensors } from '../../../plugins/engine-tfjs/model/weights.js';
import { forwardLogProbs } from '../../../plugins/engine-tfjs/train/logprobs.js';
import { logSoftmax, randomHfWeights, referenceLogits, TEST_CONFIG } from './helpers.js';

/** Two right-padded rows: the second has 2 padding tokens. */
const BATCH = {
  inputIds: [
    [5, 17, 3, 90, 42, 8, 61],
    [2, 30, 4, 77, 6, 0, 0],
  ],
  attentionMask: [
    [1, 1, 1, 1, 1, 1, 1],
    [1, 1, 1, 1, 1, 0, 0],
  ],
};
const T = 7;
/** Loss weights on log-probs (c) and entropies (e): arbitrary, fixed. */
const C = BATCH.inputIds.map((_, b) => Array.from({ length: T }, (_, t) => Math.sin(1 + b * T + t)));
const E = BATCH.inputIds.map((_, b) => Array.from({ length: T }, (_, t) => 0.5 * Math.cos(2 + b * T + t)));

/** The same loss in float64 from the plain-loop reference model. */
function referenceLoss(w: Map<string, HostTensor>): number {
  let loss = 0;
  BATCH.inputIds.forEach((row, b) => {
    const len = BATCH.attentionMask[b]!.reduce((a, x) => a + x, 0);
    const logits = referenceLogits(TEST_CONFIG, w, row.slice(0, len));
    for (let t = 1; t < len; t++) {
      const lsm = logSoftmax(logits[t - 1]!);
      loss += C[b]![t]! * lsm[row[t]!]!;
      loss += E[b]![t]! * -lsm.reduce((a, l) => a + Math.exp(l) * l, 0);
    }
  });
  return loss;
}

describe('engine-tfjs: gradients against central differences', () => {
  before(async () => {
    await selectBackend('wasm');
  });

  for (const mode of [
    { name: 'wasm rank-2 custom gradients, sliced attention', mode: { rank2Grads: true, slicedAttentionMinWork: 0 } },
    { name: 'plain autodiff', mode: { rank2Grads: false } },
  ] as { name: string; mode: OpsMode }[]) {
    it(`match for every parameter tensor (${mode.name})`, () => {
      const w = randomHfWeights(TEST_CONFIG, 13);
      const model = new Qwen3Model(TEST_CONFIG, fromHfTensors(TEST_CONFIG, w), { mode: mode.mode });
      const keyOf = new Map([...model.params].map(([k, v]) => [v.name, k]));
      const { value, grads } = tf.variableGrads(
        () =>
          tf.tidy(() => {
            const f = forwardLogProbs(model, BATCH, [0, 1], true);
            return tf.add(
              tf.sum(tf.mul(f.logProbs, tf.tensor2d(C))),
              tf.sum(tf.mul(f.entropy!, tf.tensor2d(E))),
            ) as tf.Scalar;
          }),
        model.trainableVariables(),
      );
      const lossTf = value.dataSync()[0]!;
      const internal = new Map<string, Float32Array>();
      for (const [name, g] of Object.entries(grads)) internal.set(keyOf.get(name)!, g.dataSync() as Float32Array);
      value.dispose();
      Object.values(grads).forEach((g) => g.dispose());
      model.dispose();
      expect(lossTf).to.be.closeTo(referenceLoss(w), 1e-3);

      const gHf = toHfTensors(TEST_CONFIG, internal);
      let checked = 0;
      for (const [name, t] of w) {
        const g = gHf.get(name)!.data;
        // The largest-gradient entry plus two fixed ones: each tensor's backward path is exercised.
        let jMax = 0;
        for (let j = 1; j < g.length; j++) if (Math.abs(g[j]!) > Math.abs(g[jMax]!)) jMax = j;
        for (const j of [jMax, 1 % g.length, Math.floor(g.length / 2)]) {
          const eps = 1e-3;
          const orig = t.data[j]!;
          const plus = new Map(w);
          const minus = new Map(w);
          const dp = Float32Array.from(t.data);
          const dm = Float32Array.from(t.data);
          dp[j] = orig + eps;
          dm[j] = orig - eps;
          plus.set(name, { shape: t.shape, data: dp });
          minus.set(name, { shape: t.shape, data: dm });
          const fd = (referenceLoss(plus) - referenceLoss(minus)) / (dp[j]! - dm[j]!);
          expect(g[j]!, `${name}[${j}]`).to.be.closeTo(fd, 2e-3 + 1e-2 * Math.abs(fd));
          checked++;
        }
      }
      expect(checked).to.equal(3 * w.size);
    });
  }
});
