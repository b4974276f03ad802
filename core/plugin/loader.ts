import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Plugin } from './define.js';
import { RegistryError } from './registry.js';

interface PackageJson {
  main?: string;
  exports?: unknown;
  version?: string;
  name?: string;
}

function exportEntry(exp: unknown): string | undefined {
  if (typeof exp === 'string') return exp;
  if (exp && typeof exp === 'object') {
    const o = exp as Record<string, unknown>;
    const dot = '.' in o ? o['.'] : o;
    if (typeof dot === 'string') return dot;
    if (dot && typeof dot === 'object') {
      const c = dot as Record<string, unknown>;
      for (const cond of ['import', 'node', 'default']) {
        const v = c[cond];
        const s = exportEntry(v);
        if (s) return s;
      }
    }
  }
  return undefined;
}

function entryOfDir(dir: string): string {
  const pj = path.join(dir, 'package.json');
  if (existsSync(pj)) {
    const pkg = JSON.parse(readFileSync(pj, 'utf8')) as PackageJson;
    const e = exportEntry(pkg.exports) ?? pkg.main ?? 'index.js';
    return path.join(dir, e);
  }
  for (const f of ['index.js', 'index.mjs', 'index.ts']) if (existsSync(path.join(dir, f))) return path.join(dir, f);
  throw new RegistryError(`plugin folder ${dir} has no package.json and no index file`);
}

/**
 * Where a plugin named in a recipe lives: a path (relative to the recipe's folder) or an npm
 * package found in node_modules from the recipe's folder up, then from the working directory up.
 */
export function resolvePlugin(spec: string, fromDirs: string[]): string {
  if (spec.startsWith('.') || path.isAbsolute(spec)) {
    for (const from of fromDirs) {
      const abs = path.resolve(from, spec);
      if (existsSync(abs)) return statSync(abs).isDirectory() ? entryOfDir(abs) : abs;
    }
    throw new RegistryError(`plugin '${spec}' not found (looked relative to ${fromDirs.join(', ')})`);
  }
  for (const from of fromDirs) {
    let dir = path.resolve(from);
    for (;;) {
      const cand = path.join(dir, 'node_modules', spec);
      if (existsSync(path.join(cand, 'package.json'))) return entryOfDir(cand);
      const up = path.dirname(dir);
      if (up === dir) break;
      dir = up;
    }
  }
  throw new RegistryError(
    `plugin package '${spec}' is not installed (npm install ${spec}); looked in node_modules from ${fromDirs.join(', ')}`,
  );
}

/** Imports a plugin module; its default export (or `plugin` export) must be a plugin object. */
export async function importPlugin(spec: string, fromDirs: string[]): Promise<Plugin> {
  const file = resolvePlugin(spec, fromDirs);
  let mod: Record<string, unknown>;
  try {
    mod = (await import(pathToFileURL(file).href)) as Record<string, unknown>;
  } catch (e) {
    throw new RegistryError(`plugin '${spec}' failed to load from ${file}: ${(e as Error).message}`);
  }
  const plugin = (mod.default ?? mod.plugin) as Plugin | undefined;
  if (!plugin)
    throw new RegistryError(`plugin '${spec}' (${file}) has no default export; export default definePlugin({...})`);
  return plugin;
}
