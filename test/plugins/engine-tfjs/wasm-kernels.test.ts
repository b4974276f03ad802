import { expect } from 'chai';
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '../../../plugins/engine-tfjs/backend/select.js';

/** Row-major index of `idx` in `shape`. */
function flat(idx: number[], shape: number[]): number {
  return idx.reduce((a, i, d) => a * (shape[d] as number) + i, 0);
}

/** Every index tuple of `shape`, in row-major order. */
function* indices(shape: number[]): Generator<number[]> {
  const n = shape.reduce((a, b) => a * b, 1);
  for (let k = 0; k < n; k++) {
    const idx: number[] = [];
    let r = k;
    for (let d = shape.length - 1; d >= 0; d--) {
      idx.unshift(r % (shape[d] as number));
      r = Math.floor(r / (shape[d] as number));
    }
    yield idx;
  }
}

/** Transpose by the definition out[i_0..] = x[i_perm^-1 ...], in plain JS. */
function refTranspose(x: number[], shape: number[], perm: number[]): number[] {
  const outShape = perm.map((p) => shape[p] as number);
  const out: number[] = [];
  for (const o of indices(outShape)) {
    const src = new Array<number>(shape.length);
    perm.forEach((p, d) => {
      src[p] = o[d] as number;
    });
    out.push(x[flat(src, shape)] as number);
  }
  return out;
}

describe('engine-tfjs: wasm kernel replacements (Slice, Unpack, Transpose)', () => {
  before(async () => {
    await selectBackend('wasm');
  });

  const cases: [number[], number[], tf.DataType][] = [
    [[3, 5], [1, 0], 'float32'],
    [[37, 70], [1, 0], 'float32'], // tiles of 32 with remainders
    [[2, 3, 4], [0, 2, 1], 'float32'],
    [[2, 3, 4, 5], [0, 1, 3, 2], 'int32'],
    [[2, 3, 4], [1, 0, 2], 'float32'], // not a last-two swap: the backend's own kernel
    [[4, 1, 2, 3], [0, 2, 1, 3], 'float32'],
    [[0, 3], [1, 0], 'float32'],
  ];
  for (const [shape, perm, dtype] of cases) {
    it(`transpose [${shape}] by [${perm}] (${dtype}) equals the definition`, () => {
      const n = shape.reduce((a, b) => a * b, 1);
      const x = Array.from({ length: n }, (_, i) => (dtype === 'int32' ? i * 7 - 50 : Math.sin(i) * 3));
      const t = tf.tensor(x, shape, dtype);
      const y = tf.transpose(t, perm);
      expect(y.shape).to.deep.equal(perm.map((p) => shape[p]));
      expect(y.dtype).to.equal(dtype);
      const want = refTranspose(x, shape, perm);
      const got = Array.from(y.dataSync());
      got.forEach((v, i) => expect(v).to.be.closeTo(want[i] as number, 1e-6));
      expect(got).to.have.length(want.length);
      t.dispose();
      y.dispose();
    });
  }

  it('slice and unstack copy exactly the region', () => {
    const shape = [3, 4, 5];
    const x = Array.from({ length: 60 }, (_, i) => i);
    const t = tf.tensor(x, shape);
    const s = tf.slice(t, [1, 1, 2], [2, 2, 3]);
    const want: number[] = [];
    for (let a = 1; a < 3; a++)
      for (let b = 1; b < 3; b++) for (let c = 2; c < 5; c++) want.push(x[flat([a, b, c], shape)] as number);
    expect(Array.from(s.dataSync())).to.deep.equal(want);
    const parts = tf.unstack(t, 1);
    expect(parts).to.have.length(4);
    parts.forEach((p, b) => {
      expect(p.shape).to.deep.equal([3, 5]);
      const w: number[] = [];
      for (let a = 0; a < 3; a++) for (let c = 0; c < 5; c++) w.push(x[flat([a, b, c], shape)] as number);
      expect(Array.from(p.dataSync())).to.deep.equal(w);
      p.dispose();
    });
    t.dispose();
    s.dispose();
  });
});
