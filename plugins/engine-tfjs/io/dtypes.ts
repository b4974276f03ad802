/**
 * Element conversions between safetensors dtypes and float32. bf16 and f16 widen to f32 exactly;
 * f32 -> bf16 rounds to nearest even, as PyTorch's `.to(torch.bfloat16)` does.
 */

/** Bytes per element of the safetensors dtypes this engine reads. */
export const DTYPE_SIZES: Readonly<Record<string, number>> = {
  F64: 8,
  F32: 4,
  F16: 2,
  BF16: 2,
  I64: 8,
  I32: 4,
  I16: 2,
  I8: 1,
  U8: 1,
  BOOL: 1,
};

export function bf16ToF32(src: Uint16Array): Float32Array {
  const bits = new Uint32Array(src.length);
  for (let i = 0; i < src.length; i++) bits[i] = src[i]! << 16;
  return new Float32Array(bits.buffer);
}

/** Round-to-nearest-even; NaN stays a (quiet) NaN instead of rounding into infinity. */
export function f32ToBf16(src: Float32Array): Uint16Array {
  const bits = new Uint32Array(src.buffer, src.byteOffset, src.length);
  const out = new Uint16Array(src.length);
  for (let i = 0; i < src.length; i++) {
    const b = bits[i]!;
    if ((b & 0x7f800000) === 0x7f800000 && (b & 0x007fffff) !== 0) {
      out[i] = (b >>> 16) | 0x0040;
      continue;
    }
    out[i] = (b + 0x7fff + ((b >>> 16) & 1)) >>> 16;
  }
  return out;
}

let f16Table: Float32Array | undefined;

/** All 65536 half-precision values as f32, built once (256 KiB) so conversion is a lookup. */
function halfTable(): Float32Array {
  if (f16Table) return f16Table;
  const table = new Float32Array(65536);
  const bits = new Uint32Array(table.buffer);
  for (let h = 0; h < 65536; h++) {
    const sign = (h & 0x8000) << 16;
    const exp = (h >>> 10) & 0x1f;
    const mant = h & 0x3ff;
    if (exp === 0) {
      // zero and subnormals: mant * 2^-24 is exact in f32
      table[h] = (sign ? -1 : 1) * mant * 2 ** -24;
    } else if (exp === 31) {
      bits[h] = sign | 0x7f800000 | (mant << 13);
    } else {
      bits[h] = sign | ((exp - 15 + 127) << 23) | (mant << 13);
    }
  }
  f16Table = table;
  return table;
}

export function f16ToF32(src: Uint16Array): Float32Array {
  const table = halfTable();
  const out = new Float32Array(src.length);
  for (let i = 0; i < src.length; i++) out[i] = table[src[i]!]!;
  return out;
}

/** Widens `count` little-endian elements of `dtype` held in `bytes` to f32. */
export function toFloat32(dtype: string, bytes: Uint8Array, count: number): Float32Array {
  // Copy into a fresh, aligned buffer first: file reads give arbitrary byte offsets.
  const aligned = new Uint8Array(bytes).buffer;
  switch (dtype) {
    case 'F32':
      return new Float32Array(aligned, 0, count);
    case 'BF16':
      return bf16ToF32(new Uint16Array(aligned, 0, count));
    case 'F16':
      return f16ToF32(new Uint16Array(aligned, 0, count));
    case 'F64':
      return Float32Array.from(new Float64Array(aligned, 0, count));
    case 'I64':
      return Float32Array.from(new BigInt64Array(aligned, 0, count), (v) => Number(v));
    case 'I32':
      return Float32Array.from(new Int32Array(aligned, 0, count));
    case 'I16':
      return Float32Array.from(new Int16Array(aligned, 0, count));
    case 'I8':
      return Float32Array.from(new Int8Array(aligned, 0, count));
    case 'U8':
    case 'BOOL':
      return Float32Array.from(new Uint8Array(aligned, 0, count));
    default:
      throw new Error(
        `safetensors: dtype ${dtype} is not supported (supported: ${Object.keys(DTYPE_SIZES).join(', ')})`,
      );
  }
}
