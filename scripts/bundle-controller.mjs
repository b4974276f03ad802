#!/usr/bin/env node
// Bundles the agent0 controller into one folder that runs with a bare `node` (no node_modules),
// for machines that have Python and GPUs but no npm registry (docs/scaling.md, "A GPU box without
// Node"). Usage: node scripts/bundle-controller.mjs [OUT_DIR] (default .gpu/agent0)
// OUT_DIR/agent0.js is the CLI; worker.js the math verifier's thread; python/ the trainer service.
import { build } from 'esbuild';
import { cpSync, mkdirSync, rmSync, writeFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const out = path.resolve(process.argv[2] ?? path.join(root, '.gpu', 'agent0'));
rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });

const common = {
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  sourcemap: false,
  minify: false,
  logLevel: 'warning',
  // CommonJS dependencies call require(); an ESM bundle has none of its own
  banner: {
    js: "import { createRequire as __cr } from 'node:module'; import { fileURLToPath as __fu } from 'node:url'; import { dirname as __dn } from 'node:path'; const require = __cr(import.meta.url); const __filename = __fu(import.meta.url); const __dirname = __dn(__filename);",
  },
  external: ['@tensorflow/tfjs-node', '@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-backend-webgpu', 'webgpu'],
};
const entry = path.join(out, 'entry.ts');
writeFileSync(
  entry,
  [
    `import { main } from ${JSON.stringify(path.join(root, 'core/cli/main.ts'))};`,
    `import { builtinPlugins } from ${JSON.stringify(path.join(root, 'plugins/index.ts'))};`,
    'const code = await main(process.argv.slice(2), { builtins: builtinPlugins });',
    "process.stdout.write('', () => process.exit(code));",
  ].join('\n'),
);
await build({ ...common, entryPoints: [entry], outfile: path.join(out, 'agent0.js') });
await build({
  ...common,
  entryPoints: [path.join(root, 'plugins/math-verifier/worker.ts')],
  outfile: path.join(out, 'worker.js'),
});
rmSync(entry);
writeFileSync(path.join(out, 'package.json'), JSON.stringify({ type: 'module', private: true }) + '\n');
const wasmDir = path.join(root, 'node_modules/@tensorflow/tfjs-backend-wasm/dist');
for (const f of readdirSync(wasmDir).filter((f) => f.endsWith('.wasm')))
  cpSync(path.join(wasmDir, f), path.join(out, f));
cpSync(path.join(root, 'plugins/engine-torch/python'), path.join(out, 'python'), {
  recursive: true,
  filter: (s) => !s.includes('__pycache__'),
});
process.stdout.write(`bundled the controller into ${out}\n`);
