#!/usr/bin/env node
// Runs the compiled CLI; `npm install` builds dist/ through the `prepare` script.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const dist = new URL('../dist/', import.meta.url);
if (!existsSync(fileURLToPath(new URL('core/cli/main.js', dist)))) {
  process.stderr.write('agent0: dist/ is missing; run `npm install` (or `npm run build`) in the agent0 folder first\n');
  process.exit(1);
}
const { main } = await import(new URL('core/cli/main.js', dist).href);
// the built-ins are a manifest: each plugin module (and tfjs) is imported when a recipe or command needs it
const { builtinPlugins, loadTensorBackends } = await import(new URL('plugins/index.js', dist).href);
const code = await main(process.argv.slice(2), { builtins: builtinPlugins, beforePluginImport: loadTensorBackends });
// tfjs backends and worker pools may hold the event loop open: exit explicitly once output is flushed
process.stdout.write('', () => process.exit(code));
