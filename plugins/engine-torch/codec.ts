/**
 * The trainer service's binary body: "A0T1", u32 LE header length, JSON header, zero padding to a
 * multiple of 8, then the blob. A typed array anywhere in the message travels as
 * {"$blob": [offset, nbytes], "dtype", "shape"} in the header and its raw little-endian bytes in the
 * blob (docs/trainer-protocol.md). 512 rows × 8k tokens × 5 arrays is ~80 MB this way, against
 * ~300 MB of JSON number text.
 */
export const BINARY_TYPE = 'application/x-agent0-tensors';
const MAGIC = Buffer.from('A0T1', 'ascii');

type Typed = Float32Array | Float64Array | Int32Array | BigInt64Array;
const DTYPE_OF: [new (...a: never[]) => Typed, string, number][] = [
  [Float32Array, 'float32', 4],
  [Float64Array, 'float64', 8],
  [Int32Array, 'int32', 4],
  [BigInt64Array, 'int64', 8],
];

function typedInfo(x: unknown): { dtype: string } | undefined {
  for (const [C, dtype] of DTYPE_OF) if (x instanceof C) return { dtype };
  return undefined;
}

/** Message → binary body. Typed arrays become blobs; everything else stays JSON. */
export function encodeBinary(msg: unknown): Buffer {
  const parts: Buffer[] = [];
  let size = 0;
  const walk = (x: unknown): unknown => {
    if (ArrayBuffer.isView(x) && !(x instanceof DataView)) {
      const info = typedInfo(x);
      if (!info) throw new Error(`cannot send a ${x.constructor.name} (float32, float64, int32 or int64 arrays)`);
      const raw = Buffer.from(x.buffer, x.byteOffset, x.byteLength);
      const ref = { $blob: [size, raw.length], dtype: info.dtype, shape: [(x as Typed).length] };
      const pad = (8 - (raw.length % 8)) % 8;
      parts.push(raw);
      if (pad) parts.push(Buffer.alloc(pad));
      size += raw.length + pad;
      return ref;
    }
    if (Array.isArray(x)) return x.map(walk);
    if (x && typeof x === 'object') return Object.fromEntries(Object.entries(x).map(([k, v]) => [k, walk(v)]));
    return x;
  };
  const head = Buffer.from(JSON.stringify(walk(msg)), 'utf8');
  const len = Buffer.alloc(4);
  len.writeUInt32LE(head.length, 0);
  const pad = (8 - ((8 + head.length) % 8)) % 8;
  return Buffer.concat([MAGIC, len, head, Buffer.alloc(pad), ...parts]);
}

/** Binary body → message, blobs as typed arrays (copied, so alignment never matters). */
export function decodeBinary(body: Uint8Array): unknown {
  const buf = Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  if (buf.length < 8 || !buf.subarray(0, 4).equals(MAGIC))
    throw new Error('trainer reply: binary body does not start with A0T1');
  const n = buf.readUInt32LE(4);
  if (8 + n > buf.length) throw new Error('trainer reply: binary header runs past the body');
  const head = JSON.parse(buf.subarray(8, 8 + n).toString('utf8')) as unknown;
  const base = 8 + n + ((8 - ((8 + n) % 8)) % 8);
  const walk = (x: unknown): unknown => {
    if (Array.isArray(x)) return x.map(walk);
    if (x && typeof x === 'object') {
      const o = x as Record<string, unknown>;
      if (Array.isArray(o.$blob)) {
        const [off, nbytes] = o.$blob as [number, number];
        const entry = DTYPE_OF.find(([, d]) => d === o.dtype);
        if (!entry) throw new Error(`trainer reply: tensor dtype ${String(o.dtype)} is not supported`);
        if (base + off + nbytes > buf.length) throw new Error('trainer reply: a tensor points past the body');
        const [C, , width] = entry;
        const copy = new Uint8Array(nbytes);
        copy.set(buf.subarray(base + off, base + off + nbytes));
        return new (C as unknown as new (b: ArrayBuffer, o: number, l: number) => Typed)(
          copy.buffer,
          0,
          nbytes / width,
        );
      }
      return Object.fromEntries(Object.entries(o).map(([k, v]) => [k, walk(v)]));
    }
    return x;
  };
  return walk(head);
}

/** A Tinker TensorData or a decoded blob → numbers. */
export function tensorValues(x: unknown, where: string): ArrayLike<number> {
  if (x instanceof Float32Array || x instanceof Float64Array || x instanceof Int32Array) return x;
  const data = x && typeof x === 'object' ? (x as { data?: unknown }).data : undefined;
  if (Array.isArray(data)) return data as number[];
  throw new Error(`trainer reply: ${where} is not a tensor`);
}
