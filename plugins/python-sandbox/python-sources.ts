import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const PACKAGE = 'agent0_sandbox';

/**
 * The folder holding the agent0_sandbox Python package: beside this file in a checkout, or in the
 * npm package's plugins/ when this runs from dist/ (tsc does not copy .py files).
 */
export function sandboxPythonPath(): string {
  const candidates = [
    path.join(here, 'python'),
    path.resolve(here, '..', '..', '..', 'plugins', 'python-sandbox', 'python'),
  ];
  const found = candidates.find((c) => existsSync(path.join(c, PACKAGE, 'bootstrap.py')));
  if (!found) throw new Error(`the agent0_sandbox Python package is missing (looked in ${candidates.join(', ')})`);
  return found;
}

const cache = new Map<string, string>();

function source(file: string): string {
  let s = cache.get(file);
  if (s === undefined) {
    s = readFileSync(path.join(sandboxPythonPath(), PACKAGE, `${file}.py`), 'utf8');
    cache.set(file, s);
  }
  return s;
}

/** bootstrap.py: builds the package from the sources it is handed (run with -c, or exec'd in pyodide). */
export function bootstrapSource(): string {
  return source('bootstrap');
}

/** The package and the named modules of it ({ 'agent0_sandbox.worker': source, ... }), for bootstrap.py's load(). */
export function sandboxModules(names: string[]): Record<string, string> {
  return Object.fromEntries([[PACKAGE, source('__init__')], ...names.map((n) => [`${PACKAGE}.${n}`, source(n)])]);
}

/** What the process worker reads on stdin before its first request: a 12-digit length, then the sources. */
export function workerSourcesOnStdin(): Buffer {
  const blob = Buffer.from(
    JSON.stringify({ modules: sandboxModules(['guard', 'run_program', 'worker']), main: `${PACKAGE}.worker` }),
    'utf8',
  );
  return Buffer.concat([Buffer.from(String(blob.length).padStart(12, '0'), 'ascii'), blob]);
}
