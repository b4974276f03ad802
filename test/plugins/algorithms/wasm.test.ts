import * as tf from '@tensorflow/tfjs';
import { expect } from 'chai';
import '@tensorflow/tfjs-backend-wasm';
import { referenceSuite } from './reference.test.js';

// The tfjs engine trains on the wasm backend, where some kernels and gradients are missing (e.g.
// gather's): run the whole reference check there too, then give the previous backend back.
referenceSuite('algorithms vs the Python reference on the wasm backend', () => {
  let previous = '';
  before(async () => {
    previous = tf.getBackend();
    if (!(await tf.setBackend('wasm'))) throw new Error('setBackend(wasm) returned false');
  });
  after(async () => {
    await tf.setBackend(previous);
  });
  it('runs on wasm', () => {
    expect(tf.getBackend()).to.equal('wasm');
  });
});
