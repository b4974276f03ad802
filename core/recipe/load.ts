import type { Registry } from '../plugin/registry.js';
import { applySets, loadLayers } from './layers.js';
import { validateRecipe } from './validate.js';
import type { ResolvedRecipe } from './types.js';

/** The whole path from a recipe file to a validated recipe: extends → --set → validation. */
export async function loadRecipe(file: string, registry: Registry, sets: readonly string[] = [], cwd = process.cwd()): Promise<ResolvedRecipe> {
  const layered = await loadLayers(file, cwd);
  applySets(layered, sets);
  return validateRecipe(layered, registry, sets);
}

/** Only the plugin list of a recipe (to load third-party plugins before validation). */
export async function recipePlugins(file: string, sets: readonly string[] = [], cwd = process.cwd()): Promise<string[]> {
  const layered = await loadLayers(file, cwd);
  applySets(layered, sets);
  const p = layered.data.plugins;
  return Array.isArray(p) ? p.filter((x): x is string => typeof x === 'string') : [];
}
