/**
 * Names made available to every program before it runs (`preImport`). VeRL-Tool's python tool
 * star-imports a set of standard modules, so a model trained against it writes `factorial(5)` or
 * `Counter(s)` without importing them; `preImport: verl-tool` gives those programs the same names.
 */
export type PreImport = 'none' | 'verl-tool' | string[];

/**
 * VeRL-Tool's modules in its order. `builtins` comes after `math`, `re`, `io` and `sys`, so
 * `pow`, `compile`, `open` and friends are the builtins again, not the star-imported namesakes.
 * VeRL-Tool also raises the recursion limit to 600000; that is left out here, because deep
 * recursion then overflows the C stack and kills the program instead of raising RecursionError.
 */
export const VERL_TOOL_MODULES = [
  'string',
  're',
  'datetime',
  'collections',
  'heapq',
  'bisect',
  'copy',
  'math',
  'random',
  'statistics',
  'itertools',
  'functools',
  'operator',
  'io',
  'sys',
  'json',
  'builtins',
  'typing',
];

const SENTINEL = '__agent0_preimported__';

/**
 * The modules `spec` imports; the sandbox preloads them, so a forked program only binds the names (about 13 ms instead
 * of 33 ms here).
 */
export function preImportModules(spec: PreImport): string[] {
  return spec === 'none' ? [] : spec === 'verl-tool' ? VERL_TOOL_MODULES : spec;
}

/**
 * One line of Python run before the program: star imports, then the modules themselves by name
 * (`math.pi` works too). It is one line so that tracebacks shift by exactly one line
 * (`shiftCodeLines` undoes it), and it runs once per interpreter, so in a stateful session a
 * later call does not overwrite the model's own `e` or `gcd` with the imported ones.
 */
export function preludeOf(spec: PreImport): string {
  const mods = preImportModules(spec);
  if (mods.length === 0) return '';
  const stmts = [...mods.map((m) => `from ${m} import *`), `import ${mods.join(', ')}`, `${SENTINEL} = True`];
  return `if '${SENTINEL}' not in globals(): ${stmts.join('; ')}\n`;
}

/** Tracebacks and warnings of a program that ran after the one-line prelude, with the model's own line numbers. */
export function shiftCodeLines(text: string): string {
  return text
    .replace(/(File "<code>", line )(\d+)/g, (_, head: string, n: string) => `${head}${Number(n) - 1}`)
    .replace(/<code>:(\d+):/g, (_, n: string) => `<code>:${Number(n) - 1}:`);
}
