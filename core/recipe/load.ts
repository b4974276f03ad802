import type { Registry } from '../plugin/registry.js';
import { applySets, loadLayers } from './layers.js';
import { validateRecipe } from './validate.js';
import type { ResolvedRecipe } from './types.js';

/**
 * The whole path from a recipe file to a validated recipe: extends → --set → the plugins of the
 * components it uses are imported (lazy ones) → validation.
 */
export async function loadRecipe(
  file: string,
  registry: Registry,
  sets: readonly string[] = [],
  cwd = process.cwd(),
): Promise<ResolvedRecipe> {
  const layered = await loadLayers(file, cwd);
  applySets(layered, sets);
  await registry.load(recipeUses(layered.data));
  return validateRecipe(layered, registry, sets);
}

/** Every `use:` id of a (possibly not yet validated) recipe: its components and stages. */
export function recipeUses(data: unknown): string[] {
  const out: string[] = [];
  const take = (spec: unknown) => {
    const use = (spec as { use?: unknown } | null)?.use;
    if (typeof use === 'string') out.push(use);
  };
  const d = data as { components?: unknown; pipeline?: Record<string, unknown> } | null;
  if (d?.components && typeof d.components === 'object') Object.values(d.components).forEach(take);
  for (const section of ['setup', 'loop', 'teardown']) {
    const list = d?.pipeline?.[section];
    if (Array.isArray(list)) list.forEach(take);
  }
  return out;
}

/** Only the plugin list of a recipe (to load third-party plugins before validation). */
export async function recipePlugins(
  file: string,
  sets: readonly string[] = [],
  cwd = process.cwd(),
): Promise<string[]> {
  const layered = await loadLayers(file, cwd);
  applySets(layered, sets);
  const p = layered.data.plugins;
  return Array.isArray(p) ? p.filter((x): x is string => typeof x === 'string') : [];
}
