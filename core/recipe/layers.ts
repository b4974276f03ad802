import path from 'node:path';
import { RecipeError, type RecipeProblem } from './errors.js';
import {
  displayName,
  FORBIDDEN_KEYS,
  forbiddenKeyMessage,
  joinPath,
  parseYaml,
  readLayer,
  type Location,
  type Referrer,
} from './read.js';

export { joinPath, type Location } from './read.js';

/** A recipe tree plus where each value came from (dotted path → file:line:col). */
export interface Layered {
  data: Record<string, unknown>;
  locations: Map<string, Location>;
  files: string[];
}

/** Recipe files one load may read through `extends` (each read counts: a parent named twice, twice). */
export const MAX_RECIPE_FILES = 64;

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Deep merge, later wins; lists are replaced whole. A component whose `use` changes is replaced
 * whole too, so the old component's options never leak into the new one.
 */
export function mergeRecipe(
  base: Record<string, unknown>,
  over: Record<string, unknown>,
  pathParts: string[] = [],
): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(over)) {
    const b = out[k];
    const here = [...pathParts, k];
    const isComponentEntry = here.length === 2 && here[0] === 'components';
    if (isComponentEntry && isPlainObject(b) && isPlainObject(v) && v.use !== undefined && v.use !== b.use) {
      out[k] = v;
    } else if (here.length === 2 && here[0] === 'pipeline' && Array.isArray(b) && isPlainObject(v)) {
      out[k] = patchStages(b, v, here.join('.'));
    } else if (isPlainObject(b) && isPlainObject(v)) {
      out[k] = mergeRecipe(b, v, here);
    } else {
      out[k] = v;
    }
  }
  return out;
}

/** A stage's name in a pipeline list: its `name`, else the part of `use` after the kind. */
export function stageName(stage: unknown): string | undefined {
  if (!isPlainObject(stage)) return undefined;
  if (typeof stage.name === 'string') return stage.name;
  return typeof stage.use === 'string' ? stage.use.slice(stage.use.indexOf('/') + 1) : undefined;
}

function stageIndex(list: readonly unknown[], name: string, where: string): number {
  const i = list.findIndex((s) => stageName(s) === name);
  if (i < 0) {
    throw new RecipeError([
      {
        source: where,
        path: where,
        message: `no stage named '${name}'; stages here: ${list.map(stageName).join(', ')}`,
      },
    ]);
  }
  return i;
}

/**
 * An override that gives a stage list as a map patches stages by name instead of replacing the
 * list, so an ablation recipe can change one stage's options (`null` removes the stage).
 */
function patchStages(base: unknown[], patches: Record<string, unknown>, where: string): unknown[] {
  const out = [...base];
  for (const [name, patch] of Object.entries(patches)) {
    const i = stageIndex(out, name, where);
    if (patch === null) out.splice(i, 1);
    else if (isPlainObject(patch)) out[i] = mergeRecipe(out[i] as Record<string, unknown>, patch, [where, name]);
    else
      throw new RecipeError([
        {
          source: where,
          path: `${where}.${name}`,
          message: `expected a stage patch (mapping) or null, found ${JSON.stringify(patch)}`,
        },
      ]);
  }
  return out;
}

/** Loads a recipe file and everything it `extends` (a path or a list, relative to the file). */
export async function loadLayers(
  file: string,
  cwd = process.cwd(),
  stack: string[] = [],
  from?: Referrer,
  budget = { files: 0 },
): Promise<Layered> {
  const abs = path.resolve(cwd, file);
  if (stack.includes(abs)) {
    const cycle = [...stack.slice(stack.indexOf(abs)), abs].map((f) => displayName(f, cwd)).join(' → ');
    throw new RecipeError([
      { source: displayName(stack[stack.length - 1] ?? abs, cwd), path: 'extends', message: `extends cycle: ${cycle}` },
    ]);
  }
  if (++budget.files > MAX_RECIPE_FILES) {
    throw new RecipeError([
      {
        ...from?.loc,
        path: from?.path ?? 'extends',
        message: `expected at most ${MAX_RECIPE_FILES} recipe files through extends, found more`,
      },
    ]);
  }
  const layer = await readLayer(abs, cwd, from);
  const ext = layer.data.extends;
  delete layer.data.extends;
  const parents = ext === undefined ? [] : Array.isArray(ext) ? ext : [ext];
  let merged: Layered = { data: {}, locations: new Map(), files: [] };
  for (const [i, parent] of parents.entries()) {
    const at = Array.isArray(ext) ? `extends.${i}` : 'extends';
    const loc = layer.locations.get(at) ?? { source: displayName(abs, cwd) };
    if (typeof parent !== 'string') {
      throw new RecipeError([
        { ...loc, path: 'extends', message: `expected a recipe path (string), found ${typeof parent}` },
      ]);
    }
    const p = await loadLayers(
      path.resolve(path.dirname(abs), parent),
      cwd,
      [...stack, abs],
      { loc, path: at },
      budget,
    );
    merged = {
      data: mergeRecipe(merged.data, p.data),
      locations: new Map([...merged.locations, ...p.locations]),
      files: [...merged.files, ...p.files],
    };
  }
  return {
    data: mergeRecipe(merged.data, layer.data),
    locations: new Map([...merged.locations, ...layer.locations]),
    files: [...merged.files, displayName(abs, cwd)],
  };
}

/** Segments a `--set` key may have: recipes nest a few levels; thousands overflowed the stack in validation. */
export const MAX_SET_DEPTH = 64;

/** Splits `a.b.0.c=value`; the value is parsed as YAML (`x=3` is a number, `x=[1,2]` a list). */
export function parseSet(expr: string): { parts: (string | number)[]; value: unknown } {
  const eq = expr.indexOf('=');
  const source = `--set ${expr}`;
  const problem = (message: string, at = ''): RecipeError => new RecipeError([{ source, path: at, message }]);
  if (eq <= 0) throw problem(`expected key.path=value, found no '=' (or an empty key)`);
  const key = expr.slice(0, eq).trim();
  const raw = expr.slice(eq + 1);
  const parts = key.split('.');
  if (parts.some((p) => p === ''))
    throw problem(`expected a dotted key like a.b.c, found an empty segment in '${key}'`);
  if (parts.length > MAX_SET_DEPTH)
    throw problem(`expected a key of at most ${MAX_SET_DEPTH} segments, found ${parts.length}`);
  const bad = parts.findIndex((p) => FORBIDDEN_KEYS.has(p));
  if (bad >= 0) throw problem(forbiddenKeyMessage(parts[bad] as string), parts.slice(0, bad + 1).join('.'));
  let value: unknown;
  try {
    value = parseYaml(raw, source).data;
  } catch (e) {
    if (!(e instanceof RecipeError)) throw e;
    // locations inside a one-line value say nothing: name the override (and the key) instead
    throw new RecipeError(
      e.problems.map((p) =>
        p.message.startsWith('invalid YAML: ')
          ? { source, path: '', message: `value is not valid YAML: ${p.message.slice('invalid YAML: '.length)}` }
          : { source, path: p.path ? `${key}.${p.path}` : key, message: p.message },
      ),
    );
  }
  return { parts: parts.map((p) => (/^\d+$/.test(p) ? Number(p) : p)), value };
}

/** A list index a --set may write: an existing item, or the next one (no holes: a huge index would allocate them). */
function indexProblem(list: unknown[], k: number, expr: string, at: (string | number)[]): RecipeProblem | undefined {
  if (k <= list.length) return undefined;
  return {
    source: `--set ${expr}`,
    path: joinPath(at),
    message: `expected a list index from 0 to ${list.length} (the list has ${list.length} item(s); ${list.length} appends), found ${k}`,
  };
}

/** Applies `--set` overrides in order, recording their provenance. */
export function applySets(layered: Layered, sets: readonly string[]): void {
  const problems: RecipeProblem[] = [];
  for (const expr of sets) {
    let parsed: { parts: (string | number)[]; value: unknown };
    try {
      parsed = parseSet(expr);
    } catch (e) {
      if (e instanceof RecipeError) {
        problems.push(...e.problems);
        continue;
      }
      throw e;
    }
    const { parts, value } = parsed;
    let node: unknown = layered.data;
    for (let i = 0; i < parts.length - 1; i++) {
      let k = parts[i] as string | number;
      const container = node as Record<string | number, unknown>;
      if (Array.isArray(container) && typeof k === 'string') {
        // pipeline.loop.<stage name>.options... addresses a stage by name
        try {
          k = stageIndex(container, k, `--set ${expr}`);
          parts[i] = k;
        } catch (e) {
          if (e instanceof RecipeError) {
            problems.push(...e.problems);
            node = undefined;
            break;
          }
          throw e;
        }
      }
      if (Array.isArray(container) && typeof k === 'number') {
        const p = indexProblem(container, k, expr, parts.slice(0, i + 1));
        if (p) {
          problems.push(p);
          node = undefined;
          break;
        }
      }
      // own keys only: an inherited one (toString, ...) is not part of the recipe
      let next = Object.hasOwn(container, k) ? container[k] : undefined;
      if (next === undefined) {
        next = typeof parts[i + 1] === 'number' ? [] : {};
        container[k] = next;
      }
      if (typeof next !== 'object' || next === null) {
        problems.push({
          source: `--set ${expr}`,
          path: joinPath(parts.slice(0, i + 1)),
          message: `cannot set a key inside a ${typeof next} value (${JSON.stringify(next)})`,
        });
        node = undefined;
        break;
      }
      node = next;
    }
    if (node === undefined) continue;
    const last = parts[parts.length - 1] as string | number;
    if (Array.isArray(node) && typeof last === 'number') {
      const p = indexProblem(node, last, expr, parts);
      if (p) {
        problems.push(p);
        continue;
      }
    }
    (node as Record<string | number, unknown>)[last] = value;
    // everything under the overridden path now comes from the override
    const set = joinPath(parts);
    for (const k of [...layered.locations.keys()])
      if (k === set || k.startsWith(`${set}.`) || k.startsWith(`${set}#`)) layered.locations.delete(k);
    layered.locations.set(joinPath(parts), { source: `--set ${expr}`, line: 0, col: 0 });
  }
  if (problems.length > 0) throw new RecipeError(problems);
}

/** Where a path's value came from: the path itself, else its nearest recorded ancestor. */
export function locate(locations: Map<string, Location>, pathStr: string, preferKey = false): Partial<Location> {
  const key = preferKey ? locations.get(`${pathStr}#key`) : undefined;
  if (key) return key;
  let p = pathStr;
  for (;;) {
    const loc = locations.get(p);
    if (loc) return loc.line === 0 ? { source: loc.source } : loc;
    if (p === '') return {};
    const dot = p.lastIndexOf('.');
    p = dot < 0 ? '' : p.slice(0, dot);
  }
}
