import { constants, promises as fs } from 'node:fs';
import path from 'node:path';
import { LineCounter, isAlias, isMap, isScalar, isSeq, parseDocument, visit, type Document, type Node } from 'yaml';
import { RecipeError, type RecipeProblem } from './errors.js';

export interface Location {
  source: string;
  line: number;
  col: number;
}

/** Recipes are a few KiB; this refuses a huge file before it is read (a 50 MB one took 2 GB). */
export const MAX_RECIPE_BYTES = 1024 * 1024;
/** Alias uses one YAML document may expand (the yaml library's billion-laughs guard). */
export const MAX_ALIAS_COUNT = 100;
/** Keys that would reach Object.prototype when merged or set. */
export const FORBIDDEN_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

export function joinPath(parts: readonly (string | number)[]): string {
  return parts.map(String).join('.');
}

export function displayName(file: string, cwd: string): string {
  const rel = path.relative(cwd, file);
  return rel.startsWith('..') ? file : rel;
}

export function forbiddenKeyMessage(key: string): string {
  return `expected an ordinary key, found '${key}' (refused: it would change or hide an object prototype)`;
}

/** Records where each value (and key) sits, and refuses prototype keys anywhere in the tree. */
function walk(
  node: Node | null,
  prefix: (string | number)[],
  at: (n: Node) => Location,
  out: Map<string, Location>,
  problems: RecipeProblem[],
): void {
  if (!node) return;
  out.set(joinPath(prefix), at(node));
  if (isMap(node)) {
    for (const pair of node.items) {
      const key = isScalar(pair.key) ? String(pair.key.value) : String(pair.key);
      const child = pair.value as Node | null;
      if (FORBIDDEN_KEYS.has(key))
        problems.push({ ...at(pair.key as Node), path: joinPath([...prefix, key]), message: forbiddenKeyMessage(key) });
      // keys get their own entry: an unknown key is best pointed at where the key is written
      if (isScalar(pair.key)) out.set(`${joinPath([...prefix, key])}#key`, at(pair.key));
      if (child) walk(child, [...prefix, key], at, out, problems);
      else if (isScalar(pair.key)) out.set(joinPath([...prefix, key]), at(pair.key));
    }
  } else if (isSeq(node)) {
    node.items.forEach((item, i) => walk(item as Node, [...prefix, i], at, out, problems));
  }
}

/**
 * A parsed YAML text as plain data plus locations; syntax errors, prototype keys and alias bombs
 * are RecipeErrors located in `source`.
 */
export function parseYaml(text: string, source: string): { data: unknown; locations: Map<string, Location> } {
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc, prettyErrors: false });
  const atPos = (pos: number): Location => ({ source, ...lc.linePos(pos) });
  if (doc.errors.length > 0) {
    throw new RecipeError(
      doc.errors.map((err) => ({
        ...atPos(err.pos[0]),
        path: '',
        message: `invalid YAML: ${err.message.split('\n')[0]}`,
      })),
    );
  }
  const locations = new Map<string, Location>();
  const problems: RecipeProblem[] = [];
  walk(doc.contents as Node | null, [], (n) => atPos(n.range?.[0] ?? 0), locations, problems);
  if (problems.length > 0) throw new RecipeError(problems);
  let js: unknown;
  try {
    js = doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
  } catch (e) {
    throw new RecipeError([
      {
        ...firstAlias(doc, atPos),
        path: '',
        message: `expected YAML aliases to expand to at most ${MAX_ALIAS_COUNT} nodes, found more (${(e as Error).message})`,
      },
    ]);
  }
  // A JSON round trip unshares YAML aliases (`options: *tiny`): toJS hands both places one object,
  // and a later --set on one would silently change the other.
  return { data: JSON.parse(JSON.stringify(js ?? null)) as unknown, locations };
}

function firstAlias(doc: Document, atPos: (pos: number) => Location): Partial<Location> {
  let pos: number | undefined;
  visit(doc, {
    Alias(_, n) {
      if (isAlias(n)) pos = n.range?.[0];
      return visit.BREAK;
    },
  });
  return pos === undefined ? { source: atPos(0).source } : atPos(pos);
}

/** Where an `extends` entry was written, to blame it for a parent file that cannot be a recipe. */
export interface Referrer {
  loc: Partial<Location>;
  path: string;
}

/**
 * Reads a recipe file: only a regular file of at most MAX_RECIPE_BYTES (a FIFO would block the
 * read forever, a device or a huge file would exhaust memory), checked on the opened handle.
 */
export async function readRecipeText(file: string, source: string, from?: Referrer): Promise<string> {
  const refuse = (message: string): RecipeError =>
    new RecipeError([
      from ? { ...from.loc, path: from.path, message: `${message} (${source})` } : { source, path: '', message },
    ]);
  let h: fs.FileHandle;
  try {
    // O_NONBLOCK: opening a FIFO must not wait for a writer; it changes nothing for regular files
    h = await fs.open(file, constants.O_RDONLY | (constants.O_NONBLOCK ?? 0));
  } catch (e) {
    throw refuse(`cannot read recipe: ${(e as Error).message}`);
  }
  try {
    const st = await h.stat();
    if (!st.isFile()) {
      const kind = st.isFIFO()
        ? 'a FIFO'
        : st.isDirectory()
          ? 'a directory'
          : st.isSocket()
            ? 'a socket'
            : st.isCharacterDevice() || st.isBlockDevice()
              ? 'a device'
              : 'not a regular file';
      throw refuse(`expected a regular recipe file, found ${kind}`);
    }
    if (st.size > MAX_RECIPE_BYTES) {
      throw refuse(`expected a recipe of at most ${MAX_RECIPE_BYTES} bytes, found ${st.size} bytes`);
    }
    const buf = Buffer.alloc(st.size + 1);
    const { bytesRead } = await h.read(buf, 0, buf.length, 0);
    // the file grew after fstat: still refuse rather than read an unbounded amount
    if (bytesRead > MAX_RECIPE_BYTES)
      throw refuse(`expected a recipe of at most ${MAX_RECIPE_BYTES} bytes, found more`);
    return buf.subarray(0, bytesRead).toString('utf8');
  } catch (e) {
    if (e instanceof RecipeError) throw e;
    throw refuse(`cannot read recipe: ${(e as Error).message}`);
  } finally {
    await h.close();
  }
}

/** One recipe file as data and locations; it must hold a mapping. */
export async function readLayer(
  file: string,
  cwd: string,
  from?: Referrer,
): Promise<{ data: Record<string, unknown>; locations: Map<string, Location> }> {
  const source = displayName(file, cwd);
  const { data, locations } = parseYaml(await readRecipeText(file, source, from), source);
  if (data === null) return { data: {}, locations };
  if (typeof data !== 'object' || Array.isArray(data)) {
    throw new RecipeError([
      {
        source,
        line: 1,
        col: 1,
        path: '',
        message: `expected a mapping at the top of the recipe, found ${Array.isArray(data) ? 'a list' : typeof data}`,
      },
    ]);
  }
  return { data: data as Record<string, unknown>, locations };
}
