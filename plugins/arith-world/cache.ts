import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';

/** JSON with object keys sorted at every level, so equal values hash equally. */
export function stableJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(stableJson).join(',')}]`;
  if (v && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    return `{${Object.keys(o)
      .sort()
      .filter((k) => o[k] !== undefined)
      .map((k) => `${JSON.stringify(k)}:${stableJson(o[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(v) ?? 'null';
}

export function contentHash(v: unknown, length = 16): string {
  return createHash('sha256').update(stableJson(v)).digest('hex').slice(0, length);
}

/**
 * Root of the bootstrap cache: the option when set, else `$AGENT0_CACHE/bootstrap`, else
 * `.cache/agent0/bootstrap` under the working directory.
 */
export function bootstrapCacheRoot(option: string, cwd = process.cwd(), env: NodeJS.ProcessEnv = process.env): string {
  if (option) return path.resolve(cwd, option);
  if (env.AGENT0_CACHE) return path.resolve(cwd, env.AGENT0_CACHE, 'bootstrap');
  return path.resolve(cwd, '.cache', 'agent0', 'bootstrap');
}

/** Marker written last into a cache entry: an entry without it is incomplete and ignored. */
export const CACHE_MARKER = 'bootstrap.json';

export async function cacheHit(dir: string): Promise<boolean> {
  try {
    await fs.access(path.join(dir, CACHE_MARKER));
    return true;
  } catch {
    return false;
  }
}
