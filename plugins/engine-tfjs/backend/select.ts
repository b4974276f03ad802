import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { registerFusedKernels } from './fused-kernels.js';
import { registerWasmFixes } from './wasm-kernels.js';
import { BACKEND_CHOICES, type BackendChoice } from './choices.js';

export { BACKEND_CHOICES, type BackendChoice };

export interface BackendInfo {
  /** The choice that was honoured ('tfjs-node-gpu', 'wasm', ...; never 'auto'). */
  choice: Exclude<BackendChoice, 'auto'>;
  /** tfjs backend name now active: 'tensorflow', 'webgpu', 'wasm' or 'cpu'. */
  name: string;
  /** For logs, e.g. '@tensorflow/tfjs-backend-wasm (simd)'. */
  detail: string;
  /** Backends tried before it and why each was passed over. */
  skipped: string[];
}

/** Loads a package by a name the type checker cannot follow: none of these is a dependency. */
async function importOptional(name: string): Promise<Record<string, unknown>> {
  const dynamicImport = new Function('n', 'return import(n)') as (n: string) => Promise<Record<string, unknown>>;
  return dynamicImport(name);
}

function reason(e: unknown): string {
  const err = e as NodeJS.ErrnoException;
  if (err?.code === 'ERR_MODULE_NOT_FOUND' || err?.code === 'MODULE_NOT_FOUND') return 'not installed';
  return String(err?.message ?? e).split('\n')[0] as string;
}

type Attempt = () => Promise<string>;

const attempts: Record<Exclude<BackendChoice, 'auto'>, Attempt> = {
  'tfjs-node-gpu': async () => {
    await importOptional('@tensorflow/tfjs-node-gpu');
    if (!(await tf.setBackend('tensorflow'))) throw new Error('setBackend(tensorflow) returned false');
    return '@tensorflow/tfjs-node-gpu';
  },
  'tfjs-node': async () => {
    await importOptional('@tensorflow/tfjs-node');
    if (!(await tf.setBackend('tensorflow'))) throw new Error('setBackend(tensorflow) returned false');
    return '@tensorflow/tfjs-node';
  },
  webgpu: async () => {
    // Node has no navigator.gpu: the `webgpu` package (Dawn) provides one where a GPU adapter exists.
    const g = globalThis as { navigator?: { gpu?: unknown } };
    if (!g.navigator?.gpu) {
      const dawn = (await importOptional('webgpu')) as { create?: (o: string[]) => unknown; globals?: object };
      if (!dawn.create || !dawn.globals) throw new Error("package 'webgpu' has no create/globals");
      Object.assign(globalThis, dawn.globals);
      Object.defineProperty(globalThis, 'navigator', {
        value: { ...(g.navigator ?? {}), gpu: dawn.create([]) },
        configurable: true,
      });
    }
    await importOptional('@tensorflow/tfjs-backend-webgpu');
    // setBackend can return false while getBackend() already reports webgpu: trust the boolean.
    if (!(await tf.setBackend('webgpu'))) throw new Error('no WebGPU adapter (setBackend returned false)');
    return '@tensorflow/tfjs-backend-webgpu';
  },
  wasm: async () => {
    if (!(await tf.setBackend('wasm'))) throw new Error('setBackend(wasm) returned false');
    registerWasmFixes();
    registerFusedKernels();
    const simd = await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT');
    return `@tensorflow/tfjs-backend-wasm (${simd ? 'simd' : 'no simd'})`;
  },
  cpu: async () => {
    if (!(await tf.setBackend('cpu'))) throw new Error('setBackend(cpu) returned false');
    return '@tensorflow/tfjs cpu (pure JS)';
  },
};

const AUTO_ORDER = ['tfjs-node-gpu', 'tfjs-node', 'webgpu', 'wasm', 'cpu'] as const;

let current: { choice: BackendChoice; info: Promise<BackendInfo> } | undefined;

/** Tries the backends for `choice` now, ignoring what was chosen before (selectBackend caches this). */
export async function chooseBackend(choice: BackendChoice): Promise<BackendInfo> {
  const skipped: string[] = [];
  for (const c of choice === 'auto' ? AUTO_ORDER : [choice]) {
    try {
      const detail = await attempts[c]();
      return { choice: c, name: tf.getBackend(), detail, skipped };
    } catch (e) {
      skipped.push(`${c}: ${reason(e)}`);
    }
  }
  throw new Error(`no tfjs backend could start for '${choice}': ${skipped.join('; ')}`);
}

/**
 * Picks the tfjs backend once per process (tfjs has one global engine): with 'auto' the first of
 * tfjs-node-gpu, tfjs-node, webgpu, wasm, cpu that starts. An explicit, different choice switches.
 */
export async function selectBackend(choice: BackendChoice = 'auto'): Promise<BackendInfo> {
  if (current) {
    const info = await current.info.catch(() => undefined);
    const same = choice === 'auto' || choice === current.choice || choice === info?.choice;
    if (same && info && tf.getBackend() === info.name) return info;
  }
  const info = chooseBackend(choice);
  current = { choice, info };
  return info;
}
