import * as tf from '@tensorflow/tfjs';

/** The parts of the wasm backend these kernels touch (not in its public typings). */
interface WasmBackendLike {
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  typedArrayFromHeap(t: tf.TensorInfo): Float32Array | Int32Array | Uint8Array;
}

/** Copies the region [begin, begin + size) of x into out, both row-major. */
export function stridedCopy(
  x: ArrayLike<number> & { subarray?: unknown },
  xShape: number[],
  out: Float32Array | Int32Array | Uint8Array,
  begin: number[],
  size: number[],
): void {
  const rank = xShape.length;
  const strides = new Array<number>(rank).fill(1);
  for (let i = rank - 2; i >= 0; i--) strides[i] = (strides[i + 1] as number) * (xShape[i + 1] as number);
  // Collapse to rows: the innermost dimension is copied with one subarray set.
  const inner = size[rank - 1] as number;
  const src = x as Float32Array;
  const outer = size.slice(0, -1);
  const nRows = outer.reduce((a, b) => a * b, 1);
  const idx = new Array<number>(rank - 1).fill(0);
  for (let r = 0; r < nRows; r++) {
    let off = begin[rank - 1] as number;
    for (let d = 0; d < rank - 1; d++) off += ((begin[d] as number) + (idx[d] as number)) * (strides[d] as number);
    out.set(src.subarray(off, off + inner), r * inner);
    for (let d = rank - 2; d >= 0; d--) {
      idx[d] = (idx[d] as number) + 1;
      if ((idx[d] as number) < (outer[d] as number)) break;
      idx[d] = 0;
    }
  }
}

function sliceKernel(args: {
  inputs: tf.NamedTensorInfoMap;
  attrs?: tf.NamedAttrMap;
  backend: unknown;
}): tf.TensorInfo {
  const x = args.inputs.x as tf.TensorInfo;
  const backend = args.backend as WasmBackendLike;
  const { begin, size } = args.attrs as unknown as { begin: number | number[]; size: number | number[] };
  const [b, s] = tf.slice_util.parseSliceParams(x as tf.Tensor, begin, size);
  const out = backend.makeOutput(s, x.dtype);
  if (tf.util.sizeFromShape(s) === 0) return out;
  // Views are taken after makeOutput: allocating may grow (and move) the heap.
  const xv = backend.typedArrayFromHeap(x);
  const ov = backend.typedArrayFromHeap(out);
  if (x.shape.length === 0) ov.set(xv);
  else stridedCopy(xv, x.shape, ov, b, s);
  return out;
}

function unpackKernel(args: {
  inputs: tf.NamedTensorInfoMap;
  attrs?: tf.NamedAttrMap;
  backend: unknown;
}): tf.TensorInfo[] {
  const value = args.inputs.value as tf.TensorInfo;
  let axis = (args.attrs as { axis: number }).axis;
  if (axis < 0) axis += value.shape.length;
  const n = value.shape[axis] as number;
  const outShape = value.shape.filter((_, i) => i !== axis);
  const size = value.shape.slice();
  size[axis] = 1;
  const outs: tf.TensorInfo[] = [];
  for (let i = 0; i < n; i++) {
    const begin = new Array<number>(value.shape.length).fill(0);
    begin[axis] = i;
    const o = sliceKernel({ inputs: { x: value }, attrs: { begin, size }, backend: args.backend });
    outs.push({ dataId: o.dataId, dtype: o.dtype, shape: outShape });
  }
  return outs;
}

/** dst = each of `n` [R, C] matrices of src transposed, in 32 × 32 tiles (cache-friendly). */
export function transposeLastTwo(
  src: ArrayLike<number>,
  dst: Float32Array | Int32Array | Uint8Array,
  n: number,
  R: number,
  C: number,
): void {
  const B = 32;
  for (let b = 0; b < n; b++) {
    const off = b * R * C;
    for (let i0 = 0; i0 < R; i0 += B) {
      const i1 = Math.min(R, i0 + B);
      for (let j0 = 0; j0 < C; j0 += B) {
        const j1 = Math.min(C, j0 + B);
        for (let i = i0; i < i1; i++) {
          const row = off + i * C;
          for (let j = j0; j < j1; j++) dst[off + j * R + i] = src[row + j] as number;
        }
      }
    }
  }
}

type Kernel = (args: {
  inputs: tf.NamedTensorInfoMap;
  attrs?: tf.NamedAttrMap;
  backend: unknown;
}) => tf.TensorInfo | tf.TensorInfo[];

/**
 * The wasm backend's Transpose is a plain strided loop: ~2.5x slower than a tiled copy for the
 * swaps training does every step (weights and activations for the rank-2 backward matmuls, keys
 * and probabilities in attention). Perms that swap the last two axes after identical leading ones
 * are done here; any other perm goes to the backend's own kernel.
 */
function transposeKernel(prev: Kernel | undefined): Kernel {
  return (args) => {
    const x = args.inputs.x as tf.TensorInfo;
    const perm = (args.attrs as { perm: number[] }).perm;
    const r = x.shape.length;
    const swapsLastTwo =
      r >= 2 && perm[r - 1] === r - 2 && perm[r - 2] === r - 1 && perm.slice(0, r - 2).every((p, i) => p === i);
    if (!swapsLastTwo || x.dtype === 'string' || x.dtype === 'complex64') {
      if (!prev) throw new Error(`Transpose: no kernel for perm [${perm}]`);
      return prev(args);
    }
    const backend = args.backend as WasmBackendLike;
    const R = x.shape[r - 2] as number;
    const C = x.shape[r - 1] as number;
    const outShape = perm.map((p) => x.shape[p] as number);
    const out = backend.makeOutput(outShape, x.dtype);
    const n = R * C === 0 ? 0 : tf.util.sizeFromShape(x.shape) / (R * C);
    if (n === 0) return out;
    transposeLastTwo(backend.typedArrayFromHeap(x), backend.typedArrayFromHeap(out), n, R, C);
    return out;
  };
}

let registered = false;

/**
 * The wasm backend's Slice (and Unpack, built on it) first copies the whole input out of the heap
 * (`readSync`), so slicing a row off a large tensor costs the full tensor. These versions copy only
 * the region, straight from a heap view. Transpose: see transposeKernel.
 */
export function registerWasmFixes(): void {
  if (registered) return;
  const prevTranspose = tf.getKernel('Transpose', 'wasm');
  const kernels: [string, Kernel][] = [
    ['Slice', sliceKernel],
    ['Unpack', unpackKernel],
    ['Transpose', transposeKernel(prevTranspose?.kernelFunc as unknown as Kernel | undefined)],
  ];
  for (const [name, fn] of kernels) {
    const prev = tf.getKernel(name, 'wasm');
    if (prev) tf.unregisterKernel(name, 'wasm');
    tf.registerKernel({
      kernelName: name,
      backendName: 'wasm',
      kernelFunc: fn as unknown as tf.KernelFunc,
      setupFunc: prev?.setupFunc,
    });
  }
  registered = true;
}
