import { promises as fs } from 'node:fs';
import path from 'node:path';
import { LineCounter, isMap, isScalar, isSeq, parseDocument, type Node } from 'yaml';
import { RecipeError, type RecipeProblem } from './errors.js';

export interface Location {
  source: string;
  line: number;
  col: number;
}

/** A recipe tree plus where each value came from (dotted path → file:line:col). */
export interface Layered {
  data: Record<string, unknown>;
  locations: Map<string, Location>;
  files: string[];
}

export function joinPath(parts: readonly (string | number)[]): string {
  return parts.map(String).join('.');
}

function displayName(file: string, cwd: string): string {
  const rel = path.relative(cwd, file);
  return rel.startsWith('..') ? file : rel;
}

function recordLocations(node: Node | null, prefix: (string | number)[], lc: LineCounter, source: string, out: Map<string, Location>): void {
  if (!node) return;
  const at = (n: Node): Location => {
    const pos = lc.linePos(n.range?.[0] ?? 0);
    return { source, line: pos.line, col: pos.col };
  };
  out.set(joinPath(prefix), at(node));
  if (isMap(node)) {
    for (const pair of node.items) {
      const key = isScalar(pair.key) ? String(pair.key.value) : String(pair.key);
      const child = pair.value as Node | null;
      // keys get their own entry: an unknown key is best pointed at where the key is written
      if (isScalar(pair.key)) out.set(`${joinPath([...prefix, key])}#key`, at(pair.key));
      if (child) recordLocations(child, [...prefix, key], lc, source, out);
      else if (isScalar(pair.key)) out.set(joinPath([...prefix, key]), at(pair.key));
    }
  } else if (isSeq(node)) {
    node.items.forEach((item, i) => recordLocations(item as Node, [...prefix, i], lc, source, out));
  }
}

async function readLayer(file: string, cwd: string): Promise<{ data: Record<string, unknown>; locations: Map<string, Location> }> {
  const source = displayName(file, cwd);
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (e) {
    throw new RecipeError([{ source, path: '', message: `cannot read recipe: ${(e as Error).message}` }]);
  }
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc, prettyErrors: false });
  if (doc.errors.length > 0) {
    throw new RecipeError(
      doc.errors.map((err) => {
        const pos = lc.linePos(err.pos[0]);
        return { source, line: pos.line, col: pos.col, path: '', message: `invalid YAML: ${err.message.split('\n')[0]}` };
      }),
    );
  }
  // A JSON round trip unshares YAML aliases (`options: *tiny`): toJS hands both places one object,
  // and a later --set on one would silently change the other.
  const data = JSON.parse(JSON.stringify(doc.toJS() ?? {})) as unknown;
  if (typeof data !== 'object' || data === null || Array.isArray(data)) {
    throw new RecipeError([{ source, line: 1, col: 1, path: '', message: `expected a mapping at the top of the recipe, found ${Array.isArray(data) ? 'a list' : typeof data}` }]);
  }
  const locations = new Map<string, Location>();
  recordLocations(doc.contents as Node | null, [], lc, source, locations);
  return { data: data as Record<string, unknown>, locations };
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Deep merge, later wins; lists are replaced whole. A component whose `use` changes is replaced
 * whole too, so the old component's options never leak into the new one.
 */
export function mergeRecipe(base: Record<string, unknown>, over: Record<string, unknown>, pathParts: string[] = []): Record<string, unknown> {
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
    throw new RecipeError([{ source: where, path: where, message: `no stage named '${name}'; stages here: ${list.map(stageName).join(', ')}` }]);
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
    else throw new RecipeError([{ source: where, path: `${where}.${name}`, message: `expected a stage patch (mapping) or null, found ${JSON.stringify(patch)}` }]);
  }
  return out;
}

/** Loads a recipe file and everything it `extends` (a path or a list, relative to the file). */
export async function loadLayers(file: string, cwd = process.cwd(), stack: string[] = []): Promise<Layered> {
  const abs = path.resolve(cwd, file);
  if (stack.includes(abs)) {
    const cycle = [...stack.slice(stack.indexOf(abs)), abs].map((f) => displayName(f, cwd)).join(' → ');
    throw new RecipeError([{ source: displayName(stack[stack.length - 1] ?? abs, cwd), path: 'extends', message: `extends cycle: ${cycle}` }]);
  }
  const layer = await readLayer(abs, cwd);
  const ext = layer.data.extends;
  delete layer.data.extends;
  const parents = ext === undefined ? [] : Array.isArray(ext) ? ext : [ext];
  let merged: Layered = { data: {}, locations: new Map(), files: [] };
  for (const [i, parent] of parents.entries()) {
    if (typeof parent !== 'string') {
      const loc = layer.locations.get(Array.isArray(ext) ? `extends.${i}` : 'extends');
      throw new RecipeError([{ ...loc, path: 'extends', message: `expected a recipe path (string), found ${typeof parent}` }]);
    }
    const p = await loadLayers(path.resolve(path.dirname(abs), parent), cwd, [...stack, abs]);
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

/** Splits `a.b.0.c=value`; the value is parsed as YAML (`x=3` is a number, `x=[1,2]` a list). */
export function parseSet(expr: string): { parts: (string | number)[]; value: unknown } {
  const eq = expr.indexOf('=');
  const problem = (message: string): RecipeError => new RecipeError([{ source: `--set ${expr}`, path: '', message }]);
  if (eq <= 0) throw problem(`expected key.path=value, found no '=' (or an empty key)`);
  const key = expr.slice(0, eq).trim();
  const raw = expr.slice(eq + 1);
  const parts = key.split('.');
  if (parts.some((p) => p === '')) throw problem(`expected a dotted key like a.b.c, found an empty segment in '${key}'`);
  const doc = parseDocument(raw);
  if (doc.errors.length > 0) throw problem(`value is not valid YAML: ${doc.errors[0]?.message.split('\n')[0]}`);
  return { parts: parts.map((p) => (/^\d+$/.test(p) ? Number(p) : p)), value: doc.toJS() };
}

/** Applies `--set` overrides in order, recording their provenance. */
export function applySets(layered: Layered, sets: readonly string[]): void {
  const problems: RecipeProblem[] = [];
  for (const expr of sets) {
    let parsed: { parts: (string | number)[]; value: unknown };
    try {
      parsed = parseSet(expr);
    } catch (e) {
      if (e instanceof RecipeError) { problems.push(...e.problems); continue; }
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
          if (e instanceof RecipeError) { problems.push(...e.problems); node = undefined; break; }
          throw e;
        }
      }
      let next = container[k];
      if (next === undefined) {
        next = typeof parts[i + 1] === 'number' ? [] : {};
        container[k] = next;
      }
      if (typeof next !== 'object' || next === null) {
        problems.push({ source: `--set ${expr}`, path: joinPath(parts.slice(0, i + 1)), message: `cannot set a key inside a ${typeof next} value (${JSON.stringify(next)})` });
        node = undefined;
        break;
      }
      node = next;
    }
    if (node === undefined) continue;
    const last = parts[parts.length - 1] as string | number;
    (node as Record<string | number, unknown>)[last] = value;
    // everything under the overridden path now comes from the override
    const set = joinPath(parts);
    for (const k of [...layered.locations.keys()]) if (k === set || k.startsWith(`${set}.`) || k.startsWith(`${set}#`)) layered.locations.delete(k);
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
