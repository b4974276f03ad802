/**
 * HF safetensors, read and written without a third-party library (npm has no well-kept one for
 * Node). Layout: an 8-byte little-endian u64 N, N bytes of UTF-8 JSON header (right-padded with
 * spaces), then the data buffer. Each header entry is `{dtype, shape, data_offsets: [begin, end]}`
 * relative to the data buffer; the optional `__metadata__` maps strings to strings. Like the
 * reference (Rust) implementation, the reader insists that the entries tile the buffer exactly.
 *
 * Files are read with positioned reads, one tensor at a time, so multi-GiB checkpoints load
 * without one giant Buffer (Node's readFile stops at 2 GiB).
 */
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DTYPE_SIZES, f32ToBf16, toFloat32 } from './dtypes.js';

export interface LoadedTensor {
  /** The dtype stored in the file (the data is always widened to f32). */
  dtype: string;
  shape: number[];
  data: Float32Array;
}

export interface TensorToWrite {
  shape: number[];
  data: Float32Array;
  /** Stored dtype; F32 unless BF16 is asked for (rounded to nearest even). */
  dtype?: 'F32' | 'BF16';
}

export interface HeaderEntry {
  dtype: string;
  shape: number[];
  /** Byte range inside the data buffer (after the header). */
  begin: number;
  end: number;
}

export interface SafetensorsHeader {
  entries: Map<string, HeaderEntry>;
  metadata: Record<string, string>;
  /** Absolute file offset of the data buffer: 8 + N. */
  dataStart: number;
}

/** The header of the largest real checkpoints is a few MB; the reference implementation caps it at 100 MB. */
const MAX_HEADER = 100_000_000;
const INDEX_FILE = 'model.safetensors.index.json';
const SINGLE_FILE = 'model.safetensors';

if (os.endianness() !== 'LE') throw new Error('safetensors: only little-endian hosts are supported');

function fail(file: string, msg: string): never {
  throw new Error(`safetensors: ${file}: ${msg}`);
}

function numel(shape: number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** Parses and validates the header of one `.safetensors` file. */
export async function readSafetensorsHeader(file: string): Promise<SafetensorsHeader> {
  const fh = await fs.open(file, 'r');
  try {
    const { size } = await fh.stat();
    if (size < 8) fail(file, `file is ${size} bytes, shorter than the 8-byte header length`);
    const lenBuf = Buffer.alloc(8);
    await fh.read(lenBuf, 0, 8, 0);
    const n = lenBuf.readBigUInt64LE(0);
    if (n > BigInt(MAX_HEADER)) fail(file, `header length ${n} exceeds ${MAX_HEADER}`);
    const headerLen = Number(n);
    if (8 + headerLen > size) fail(file, `header length ${headerLen} runs past the end of the file (${size} bytes)`);
    const headerBuf = Buffer.alloc(headerLen);
    await fh.read(headerBuf, 0, headerLen, 8);
    let json: unknown;
    try {
      json = JSON.parse(headerBuf.toString('utf8'));
    } catch (e) {
      fail(file, `header is not valid JSON (${(e as Error).message})`);
    }
    if (typeof json !== 'object' || json === null || Array.isArray(json)) fail(file, 'header is not a JSON object');
    const dataStart = 8 + headerLen;
    const dataLen = size - dataStart;
    const entries = new Map<string, HeaderEntry>();
    let metadata: Record<string, string> = {};
    for (const [name, raw] of Object.entries(json as Record<string, unknown>)) {
      if (name === '__metadata__') {
        if (typeof raw !== 'object' || raw === null) fail(file, '__metadata__ must be an object');
        for (const [k, v] of Object.entries(raw)) {
          if (typeof v !== 'string') fail(file, `__metadata__.${k} must be a string`);
        }
        metadata = raw as Record<string, string>;
        continue;
      }
      const e = raw as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
      if (typeof e.dtype !== 'string') fail(file, `${name}: dtype missing`);
      const size1 = DTYPE_SIZES[e.dtype];
      if (size1 === undefined)
        fail(file, `${name}: dtype ${e.dtype} is not supported (supported: ${Object.keys(DTYPE_SIZES).join(', ')})`);
      if (!Array.isArray(e.shape) || !e.shape.every((d) => Number.isInteger(d) && d >= 0))
        fail(file, `${name}: bad shape`);
      const off = e.data_offsets;
      if (!Array.isArray(off) || off.length !== 2 || !off.every((d) => Number.isInteger(d) && d >= 0))
        fail(file, `${name}: bad data_offsets`);
      const [begin, end] = off as [number, number];
      const shape = e.shape as number[];
      if (end < begin || end > dataLen)
        fail(file, `${name}: data_offsets [${begin}, ${end}] outside the ${dataLen}-byte data buffer`);
      if (end - begin !== numel(shape) * size1)
        fail(file, `${name}: ${end - begin} bytes for shape [${shape.join(', ')}] of ${e.dtype}`);
      entries.set(name, { dtype: e.dtype, shape, begin, end });
    }
    // The entries must tile [0, dataLen) exactly: no holes, no overlaps.
    const ranges = [...entries.values()].sort((a, b) => a.begin - b.begin || a.end - b.end);
    let cursor = 0;
    for (const r of ranges) {
      if (r.begin !== cursor)
        fail(file, `tensor data is not contiguous at byte ${cursor} (next tensor starts at ${r.begin})`);
      cursor = r.end;
    }
    if (cursor !== dataLen) fail(file, `data buffer has ${dataLen - cursor} trailing bytes no tensor covers`);
    return { entries, metadata, dataStart };
  } finally {
    await fh.close();
  }
}

async function readOneFile(file: string, want?: Set<string>): Promise<Map<string, LoadedTensor>> {
  const header = await readSafetensorsHeader(file);
  const out = new Map<string, LoadedTensor>();
  const fh = await fs.open(file, 'r');
  try {
    for (const [name, e] of header.entries) {
      if (want && !want.has(name)) continue;
      const bytes = new Uint8Array(e.end - e.begin);
      let done = 0;
      while (done < bytes.length) {
        const { bytesRead } = await fh.read(bytes, done, bytes.length - done, header.dataStart + e.begin + done);
        if (bytesRead === 0) fail(file, `${name}: unexpected end of file`);
        done += bytesRead;
      }
      out.set(name, { dtype: e.dtype, shape: e.shape, data: toFloat32(e.dtype, bytes, numel(e.shape)) });
    }
  } finally {
    await fh.close();
  }
  return out;
}

async function isDir(p: string): Promise<boolean> {
  return (await fs.stat(p)).isDirectory();
}

async function exists(p: string): Promise<boolean> {
  try {
    await fs.access(p);
    return true;
  } catch {
    return false;
  }
}

async function readSharded(indexFile: string): Promise<Map<string, LoadedTensor>> {
  const index = JSON.parse(await fs.readFile(indexFile, 'utf8')) as { weight_map?: Record<string, string> };
  if (!index.weight_map || typeof index.weight_map !== 'object') fail(indexFile, 'no weight_map');
  const dir = path.dirname(indexFile);
  const byFile = new Map<string, Set<string>>();
  for (const [name, shard] of Object.entries(index.weight_map)) {
    if (!byFile.has(shard)) byFile.set(shard, new Set());
    byFile.get(shard)!.add(name);
  }
  const out = new Map<string, LoadedTensor>();
  for (const [shard, names] of byFile) {
    const part = await readOneFile(path.join(dir, shard), names);
    for (const name of names) {
      const t = part.get(name);
      if (!t) fail(indexFile, `${name} is mapped to ${shard}, which does not hold it`);
      out.set(name, t);
    }
  }
  return out;
}

/**
 * Reads every tensor of a checkpoint, widened to f32. `p` is a `.safetensors` file, a
 * `model.safetensors.index.json`, or a directory holding either (the index wins).
 */
export async function readSafetensors(p: string): Promise<Map<string, LoadedTensor>> {
  if (await isDir(p)) {
    const index = path.join(p, INDEX_FILE);
    if (await exists(index)) return readSharded(index);
    const single = path.join(p, SINGLE_FILE);
    if (await exists(single)) return readOneFile(single);
    throw new Error(`safetensors: ${p} holds neither ${INDEX_FILE} nor ${SINGLE_FILE}`);
  }
  if (p.endsWith('.index.json')) return readSharded(p);
  return readOneFile(p);
}

/** The header bytes: JSON padded with spaces so the data buffer starts 8-byte aligned, as the reference writer does. */
function encodeHeader(json: Record<string, unknown>): Buffer {
  const text = Buffer.from(JSON.stringify(json), 'utf8');
  const padded = Math.ceil((8 + text.length) / 8) * 8 - 8;
  const out = Buffer.alloc(8 + padded, 0x20);
  out.writeBigUInt64LE(BigInt(padded), 0);
  text.copy(out, 8);
  return out;
}

/**
 * Writes one `.safetensors` file atomically (temp file, fsync, rename). Tensors are laid out in
 * name order; `metadata` becomes `__metadata__` (HF loaders like `{format: 'pt'}`).
 */
export async function writeSafetensors(
  file: string,
  tensors: Map<string, TensorToWrite>,
  metadata?: Record<string, string>,
): Promise<void> {
  const names = [...tensors.keys()].sort();
  const header: Record<string, unknown> = {};
  if (metadata && Object.keys(metadata).length > 0) header.__metadata__ = metadata;
  const payloads: Uint8Array[] = [];
  let offset = 0;
  for (const name of names) {
    if (name === '__metadata__') throw new Error('safetensors: "__metadata__" is not a valid tensor name');
    const t = tensors.get(name)!;
    if (!t.shape.every((d) => Number.isInteger(d) && d >= 0))
      throw new Error(`safetensors: ${name}: bad shape [${t.shape.join(', ')}]`);
    if (numel(t.shape) !== t.data.length) {
      throw new Error(
        `safetensors: ${name}: shape [${t.shape.join(', ')}] needs ${numel(t.shape)} values, got ${t.data.length}`,
      );
    }
    const dtype = t.dtype ?? 'F32';
    const typed = dtype === 'BF16' ? f32ToBf16(t.data) : t.data;
    const bytes = new Uint8Array(typed.buffer, typed.byteOffset, typed.byteLength);
    header[name] = { dtype, shape: t.shape, data_offsets: [offset, offset + bytes.length] };
    payloads.push(bytes);
    offset += bytes.length;
  }
  await fs.mkdir(path.dirname(file), { recursive: true });
  const tmp = `${file}.tmp-${process.pid}-${Date.now()}-${Math.random().toString(36).slice(2)}`;
  const fh = await fs.open(tmp, 'w');
  try {
    await fh.write(encodeHeader(header));
    for (const bytes of payloads) {
      // Chunked: a single write of more than 2 GiB fails in Node.
      for (let i = 0; i < bytes.length; i += 1 << 30)
        await fh.write(bytes.subarray(i, Math.min(bytes.length, i + (1 << 30))));
    }
    await fh.sync();
    await fh.close();
    await fs.rename(tmp, file);
  } catch (e) {
    await fh.close().catch(() => undefined);
    await fs.rm(tmp, { force: true });
    throw e;
  }
}
