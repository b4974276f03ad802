import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { Worker, type WorkerOptions } from 'node:worker_threads';

let tsxApi: string | undefined;

/**
 * tsx's ESM registration API, found through its package exports (import.meta.resolve is missing under mocha's
 * transform).
 */
function tsxApiUrl(): string {
  if (tsxApi) return tsxApi;
  const req = createRequire(import.meta.url);
  const pkgFile = req.resolve('tsx/package.json');
  const pkg = JSON.parse(readFileSync(pkgFile, 'utf8')) as { exports: Record<string, { import: { default: string } }> };
  tsxApi = pathToFileURL(path.join(path.dirname(pkgFile), pkg.exports['./esm/api']!.import.default)).href;
  return tsxApi;
}

/**
 * A worker thread running the module `name` beside the caller (`callerUrl`: its import.meta.url).
 * Compiled (`.js`) it starts directly; under tsx (tests, `tsx` scripts) Node 20 does not apply the
 * parent's `--import tsx` inside workers, so a bootstrap registers tsx first.
 */
export function startWorkerBeside(callerUrl: string, name: string, options?: WorkerOptions): Worker {
  const isTs = callerUrl.endsWith('.ts');
  const url = new URL(`./${name}${isTs ? '.ts' : '.js'}`, callerUrl);
  if (!isTs) return new Worker(url, options);
  const code = `import(${JSON.stringify(tsxApiUrl())}).then((m) => { m.register(); return import(${JSON.stringify(url.href)}); });`;
  return new Worker(code, { ...options, eval: true });
}
