/**
 * Writes a small safetensors file with the engine's own writer, for make_qwen3_fixture.py
 * --node-probe to load in the reference (Python) safetensors library and compare with torch's
 * rounding. The f32 source values, dtype and shape of each tensor go in `__metadata__.expected`.
 *
 *   npx tsx scripts/make_safetensors_probe.ts OUT_FILE
 */
import { writeSafetensors } from '../plugins/engine-tfjs/io/safetensors.js';

const out = process.argv[2];
if (!out) {
  console.error('usage: make_safetensors_probe.ts OUT_FILE');
  process.exit(2);
}

// bf16 keeps 7 mantissa bits: 1 + 2^-8 and 1 + 3·2^-8 are exact ties (round to even: down, then up).
const edge = [
  0,
  -0,
  1,
  -1,
  1 + 2 ** -8,
  1 + 3 * 2 ** -8,
  -(1 + 2 ** -8),
  0.1,
  1 / 3,
  65504,
  3.3e38,
  3.4e38,
  1e-40,
  2 ** -126,
  12345.678,
  -1.234e-5,
];
let s = 12345;
const rnd = (): number => {
  s = (Math.imul(s, 1103515245) + 12345) >>> 0;
  return (s / 2 ** 32 - 0.5) * 200;
};
const random = Array.from({ length: 24 }, rnd);

const tensors = new Map([
  ['edge.f32', { shape: [edge.length], data: Float32Array.from(edge), dtype: 'F32' as const }],
  ['edge.bf16', { shape: [edge.length], data: Float32Array.from(edge), dtype: 'BF16' as const }],
  ['rand.bf16', { shape: [2, 3, 4], data: Float32Array.from(random), dtype: 'BF16' as const }],
  ['rand.f32', { shape: [4, 6], data: Float32Array.from(random), dtype: 'F32' as const }],
  ['scalar.f32', { shape: [], data: Float32Array.from([2.5]), dtype: 'F32' as const }],
  ['empty.bf16', { shape: [0, 3], data: new Float32Array(0), dtype: 'BF16' as const }],
]);
const expected: Record<string, { dtype: string; shape: number[]; source: number[] }> = {};
for (const [k, t] of tensors) expected[k] = { dtype: t.dtype, shape: t.shape, source: Array.from(t.data) };
await writeSafetensors(out, tensors, { format: 'pt', expected: JSON.stringify(expected) });
console.log(`wrote ${out}: ${[...tensors.keys()].join(', ')}`);
