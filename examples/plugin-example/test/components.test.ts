import * as tf from '@tensorflow/tfjs-core';
import { testAdvantage, testReward, testTool } from 'agent0/testkit';
import { expect } from 'chai';
import { calculate, CalculatorTool, CenteredAdvantage, LengthPenalty } from '../src/index.js';

// agent0's conformance suites: the checks every built-in of the same kind passes.
testTool('calculator', () => new CalculatorTool(3), {
  valid: [
    { text: 'so <calc>1+2</calc>', action: '1+2' },
    { text: '<calc> (4) </calc>\n', action: '(4)' },
  ],
  invalid: ['no action here', '<calc>1+2</calc> and more text', '<calc>1+2'],
  run: [
    { action: '2*(3+4)', check: (r) => expect([r.observation, r.valid]).to.deep.equal(['14', true]) },
    {
      action: '2*',
      check: (r) => expect([r.observation, r.valid]).to.deep.equal(['error: expected a number, found the end', false]),
    },
  ],
});

const task = { id: 't', problem: 'p' };
testReward('length-penalty', () => new LengthPenalty({ budget: 4, coef: 0.25 }), {
  batches: [
    {
      batch: [
        { response: 'abcdefgh', task },
        { response: 'ab', task },
      ],
      expected: [-0.25 * (8 - 4), 0],
    },
  ],
});

// groups a = {1, 0} (mean 0.5) and b = {3, 5} (mean 4), scale 2, weights 1, 0.5, 1, 2:
// 2·0.5·1 = 1, 2·(−0.5)·0.5 = −0.5, 2·(−1)·1 = −2, 2·1·2 = 4 on each row's masked tokens
testAdvantage('centered', new CenteredAdvantage({ scale: 2, weightField: 'weight' }), [
  {
    input: () => ({
      rewards: Float32Array.from([1, 0, 3, 5]),
      groupIds: ['a', 'a', 'b', 'b'],
      responseMask: tf.tensor2d([
        [1, 1, 0],
        [1, 0, 0],
        [1, 1, 1],
        [0, 1, 1],
      ]),
      fields: { weight: Float32Array.from([1, 0.5, 1, 2]) },
    }),
    expected: [1, 1, 0, -0.5, 0, 0, -2, -2, -2, 0, 4, 4],
  },
]);

describe('calculate', () => {
  it('follows precedence, parentheses and unary minus', () => {
    expect(calculate('2*(3+4) - 1/2')).to.equal(13.5);
    expect(calculate('-(2+3)*2')).to.equal(-10);
    expect(calculate('10/4')).to.equal(2.5);
  });

  it('refuses what is not arithmetic, without eval', () => {
    expect(() => calculate('process.exit(1)')).to.throw("unexpected character in 'process.exit(1)'");
    expect(() => calculate('1/0')).to.throw('division by zero');
    expect(() => calculate('(1+2')).to.throw('missing )');
  });
});
