/**
 * Mocha root hooks shared by every test file. tfjs backends are process-global: whichever file
 * registers a backend first (wasm, by importing the engine) changes what `tf.memory()` and kernels
 * use everywhere, so initialise the active backend once before any test touches tensors.
 */
import * as tf from '@tensorflow/tfjs';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

// The example third-party plugin imports 'agent0' as a peer dependency; link this checkout in as
// that package before any spec file imports the example at load time.
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const nm = path.join(root, 'examples', 'plugin-example', 'node_modules');
fs.mkdirSync(nm, { recursive: true });
fs.rmSync(path.join(nm, 'agent0'), { force: true, recursive: true });
fs.symlinkSync(root, path.join(nm, 'agent0'), 'dir');

export const mochaHooks = {
  async beforeAll(): Promise<void> {
    await tf.ready();
  },
};
