import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import type { Plugin } from '../plugin/define.js';
import { importPlugin } from '../plugin/loader.js';
import { RegistryError } from '../plugin/registry.js';
import { recipePlugins } from '../recipe/load.js';

/** A third-party plugin the CLI loads before it picks the command, and who named it. */
export interface PluginSource {
  spec: string;
  /** Folders a path spec is relative to, and where node_modules lookups start. */
  from: string[];
  origin: string;
}

/** The nearest package.json from `cwd` up, where `agent0.plugins` may list plugins for this project. */
function projectPackage(cwd: string): string | undefined {
  let dir = path.resolve(cwd);
  for (;;) {
    const f = path.join(dir, 'package.json');
    if (existsSync(f)) return f;
    const up = path.dirname(dir);
    if (up === dir) return undefined;
    dir = up;
  }
}

function packagePlugins(file: string): string[] {
  let pkg: unknown;
  try {
    pkg = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new RegistryError(`${file}: not valid JSON (${(e as Error).message})`);
  }
  const list = (pkg as { agent0?: { plugins?: unknown } } | null)?.agent0?.plugins;
  if (list === undefined) return [];
  if (!Array.isArray(list) || !list.every((x) => typeof x === 'string' && x.length > 0)) {
    throw new RegistryError(
      `${file}: agent0.plugins must be a list of npm package names or paths, found ${JSON.stringify(list)}`,
    );
  }
  return list as string[];
}

/**
 * Every plugin named outside a recipe, in load order: `--plugin SPEC` flags, then the comma-separated
 * `AGENT0_PLUGINS`, then `agent0.plugins` in the project's package.json (paths relative to it).
 */
export function cliPluginSources(
  flags: readonly string[],
  cwd: string,
  environment: Record<string, string | undefined>,
): PluginSource[] {
  const out: PluginSource[] = flags.map((spec) => ({ spec, from: [cwd], origin: '--plugin' }));
  for (const spec of (environment.AGENT0_PLUGINS ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)) {
    out.push({ spec, from: [cwd], origin: 'AGENT0_PLUGINS' });
  }
  const pkg = projectPackage(cwd);
  if (pkg) {
    for (const spec of packagePlugins(pkg))
      out.push({
        spec,
        from: [path.dirname(pkg)],
        origin: `${path.relative(cwd, pkg) || 'package.json'} (agent0.plugins)`,
      });
  }
  return out;
}

/**
 * The plugins a command's `--recipe R` names under `plugins:` (after its `--set`s), relative to the
 * recipe's folder: an unknown command may be one of theirs. Other operands are not read as recipes.
 */
export async function recipePluginSources(args: readonly string[], cwd: string): Promise<PluginSource[]> {
  const end = args.indexOf('--');
  const options = { recipe: { type: 'string' }, set: { type: 'string', multiple: true } } as const;
  const { tokens } = parseArgs({
    args: end < 0 ? [...args] : args.slice(0, end),
    options,
    strict: false,
    allowPositionals: true,
    tokens: true,
  });
  let recipe: string | undefined;
  const sets: string[] = [];
  for (const t of tokens) {
    if (t.kind !== 'option' || typeof t.value !== 'string') continue;
    if (t.name === 'recipe') recipe = t.value;
    else if (t.name === 'set') sets.push(t.value);
  }
  if (recipe === undefined) return [];
  const specs = await recipePlugins(recipe, sets, cwd);
  const from = [path.dirname(path.resolve(cwd, recipe)), cwd];
  return specs.map((spec) => ({ spec, from, origin: `${recipe} (plugins:)` }));
}

/**
 * Imports each source once (a plugin named in two places loads once, by its meta.name; one in
 * `already` is not loaded again); `beforeImport` runs first when there is anything to import.
 */
export async function loadCliPlugins(
  sources: readonly PluginSource[],
  beforeImport?: () => Promise<void>,
  already: readonly Plugin[] = [],
): Promise<Plugin[]> {
  const loaded: Plugin[] = [];
  if (sources.length > 0) await beforeImport?.();
  for (const s of sources) {
    let p: Plugin;
    try {
      p = await importPlugin(s.spec, s.from);
    } catch (e) {
      throw new RegistryError(`${(e as Error).message} (named by ${s.origin})`);
    }
    if (![...already, ...loaded].some((q) => q.meta?.name === p.meta?.name)) loaded.push(p);
  }
  return loaded;
}
