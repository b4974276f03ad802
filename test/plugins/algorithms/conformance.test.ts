import * as tf from '@tensorflow/tfjs';
import type { AdvantageInput, PolicyLossInput } from '../../../core/index.js';
import { testAdvantage, testKl, testLossAggregator, testPolicyLoss } from '../../../core/testkit/index.js';
import algorithms from '../../../plugins/algorithms/index.js';
import { build } from './helpers.js';

// Core's test-kit conformance suites over every registered algorithm component.

const mask = [
  [0, 1, 1, 0, 1],
  [1, 1, 0, 0, 0],
  [0, 0, 1, 1, 1],
];
const advInput = (): AdvantageInput => ({
  rewards: Float32Array.from([1, 0, 0.5]),
  groupIds: ['a', 'a', 'b'],
  responseMask: tf.tensor2d(mask),
  fields: { selfConsistency: Float32Array.from([0.4, 0.4, 0.9]) },
});
const lossInput = (agg: string) => (): PolicyLossInput => ({
  logProbs: tf.tensor2d([
    [-1, -0.5, -2, 50, -0.1],
    [-0.3, -1.2, 80, 80, 80],
    [-9, -9, -0.7, -1.1, -0.2],
  ]),
  oldLogProbs: tf.tensor2d([
    [-1, -0.6, -1.7, 0, -0.3],
    [-0.3, -1.0, 0, 0, 0],
    [0, 0, -0.9, -1.0, -0.5],
  ]),
  advantages: tf.tensor2d([
    [0, 1, 1, 0, 1],
    [-1, -1, 0, 0, 0],
    [0, 0, 0.5, 0.5, 0.5],
  ]),
  responseMask: tf.tensor2d(mask),
  fields: { selfConsistency: tf.tensor1d([0.4, 0.4, 0.9]) },
  aggregator: build('loss-agg', agg),
});

for (const c of algorithms.components) {
  if (c.kind === 'advantage') testAdvantage(`advantage/${c.name}`, build('advantage', c.name), [{ input: advInput }]);
  if (c.kind === 'policy-loss') {
    testPolicyLoss(
      `policy-loss/${c.name}`,
      build('policy-loss', c.name),
      ['token-mean', 'seq-mean-token-mean'].map((a) => ({ input: lossInput(a) })),
    );
  }
  if (c.kind === 'kl')
    testKl(`kl/${c.name}`, build('kl', c.name), [{ logProbs: [[-1, -2]], refLogProbs: [[-1.5, -2]] }]);
  if (c.kind === 'loss-agg')
    testLossAggregator(`loss-agg/${c.name}`, build('loss-agg', c.name), [
      {
        loss: [
          [1, 2],
          [3, 4],
        ],
        mask: [
          [1, 0],
          [1, 1],
        ],
        expected: {
          'token-mean': 8 / 3,
          'seq-mean-token-sum': 4,
          'seq-mean-token-mean': (1 + 3.5) / 2,
          'seq-mean-token-sum-norm': 8 / 2,
        }[c.name] as number,
      },
    ]);
}
