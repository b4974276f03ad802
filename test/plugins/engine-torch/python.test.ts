import { expect } from 'chai';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { findPython } from '../../../plugins/engine-torch/launch.js';
import { ROOT, torchAvailable } from './helpers.js';

/*
 * The trainer service's own tests (plugins/engine-torch/python/tests, stdlib unittest): the built-in
 * Qwen3 against transformers' logits, the fused agent0_ppo loss against the custom path in float64,
 * checkpoints, safetensors, the wire format, detokenising, row plans, and the real service over
 * HTTP on one and two CPU ranks. They run on whichever torch the service would be started with.
 */
const PYTHON_DIR = path.join(ROOT, 'plugins/engine-torch/python');
const ARGS = ['-m', 'unittest', 'discover', '-s', 'tests', '-t', '.'];

function run(python: string): Promise<{ code: number | null; signal: string | null; output: string }> {
  // a launcher's rank variables would make the in-process engines join a process group
  const env: NodeJS.ProcessEnv = { ...process.env, PYTHONDONTWRITEBYTECODE: '1', PYTHONUNBUFFERED: '1' };
  for (const k of ['RANK', 'LOCAL_RANK', 'WORLD_SIZE', 'MASTER_ADDR', 'MASTER_PORT']) delete env[k];
  return new Promise((resolve, reject) => {
    const child = spawn(python, ARGS, { cwd: PYTHON_DIR, env, stdio: ['ignore', 'pipe', 'pipe'] });
    const chunks: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => chunks.push(b));
    child.stderr.on('data', (b: Buffer) => chunks.push(b));
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, output: Buffer.concat(chunks).toString('utf8') }));
  });
}

describe("policy/torch: the trainer service's Python tests", function () {
  this.timeout(600_000);

  before(function () {
    if (!torchAvailable()) this.skip();
  });

  it('python -m unittest discover passes', async () => {
    const python = findPython(null);
    const r = await run(python);
    const what = `${python} ${ARGS.join(' ')} (in ${PYTHON_DIR}) exited with ${r.signal ?? r.code}`;
    if (r.code !== 0) console.log(`${what}:\n${r.output}`);
    expect(r.code, what).to.equal(0);
    expect(r.output).to.match(/\nOK\b/);
  });
});
