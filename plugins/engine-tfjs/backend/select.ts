import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { registerWasmFixes } from './wasm-kernels.js';

export type BackendChoice = 'auto' | 'tensorflow' | 'wasm' | 'cpu';

export interface BackendInfo {
  /** tfjs backend name now active: 'tensorflow' (tfjs-node or tfjs-node-gpu), 'wasm' or 'cpu'. */
  name: string;
  /** Where it came from, for logs: e.g. '@tensorflow/tfjs-node-gpu', 'wasm (simd)'. */
  detail: string;
  /** Backends tried and why they were passed over. */
  skipped: string[];
}

let current: Promise<BackendInfo> | undefined;
let currentChoice: BackendChoice | undefined;

/** Loads an optional package by a name the type checker cannot follow (neither is a dependency). */
async function importOptional(name: string): Promise<unknown> {
  const dynamicImport = new Function('n', 'return import(n)') as (n: string) => Promise<unknown>;
  return dynamicImport(name);
}

async function tryTensorflow(skipped: string[]): Promise<BackendInfo | undefined> {
  for (const pkg of ['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node']) {
    try {
      await importOptional(pkg);
      if (await tf.setBackend('tensorflow')) return { name: 'tensorflow', detail: pkg, skipped };
      skipped.push(`${pkg}: setBackend returned false`);
    } catch (e) {
      skipped.push(`${pkg}: ${(e as Error).message.split('\n')[0]}`);
    }
  }
  return undefined;
}

async function tryWasm(skipped: string[]): Promise<BackendInfo | undefined> {
  try {
    if (await tf.setBackend('wasm')) {
      registerWasmFixes();
      const simd = await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT');
      return { name: 'wasm', detail: `@tensorflow/tfjs-backend-wasm (${simd ? 'simd' : 'no simd'})`, skipped };
    }
    skipped.push('wasm: setBackend returned false');
  } catch (e) {
    skipped.push(`wasm: ${(e as Error).message.split('\n')[0]}`);
  }
  return undefined;
}

async function choose(choice: BackendChoice): Promise<BackendInfo> {
  const skipped: string[] = [];
  if (choice === 'auto' || choice === 'tensorflow') {
    const t = await tryTensorflow(skipped);
    if (t) return t;
    if (choice === 'tensorflow') throw new Error(`backend 'tensorflow' unavailable: ${skipped.join('; ')}`);
  }
  if (choice === 'auto' || choice === 'wasm') {
    const w = await tryWasm(skipped);
    if (w) return w;
    if (choice === 'wasm') throw new Error(`backend 'wasm' unavailable: ${skipped.join('; ')}`);
  }
  if (!(await tf.setBackend('cpu'))) throw new Error('no tfjs backend could start');
  return { name: 'cpu', detail: '@tensorflow/tfjs cpu (pure JS)', skipped };
}

/**
 * Picks the tfjs backend once per process (tfjs has one global engine): tfjs-node-gpu, then
 * tfjs-node, then wasm, then cpu. A later call with a different explicit choice switches.
 */
export async function selectBackend(choice: BackendChoice = 'auto'): Promise<BackendInfo> {
  if (current && (choice === 'auto' || choice === currentChoice)) {
    const info = await current;
    if (tf.getBackend() === info.name) return info;
  }
  currentChoice = choice;
  current = choose(choice);
  try {
    return await current;
  } catch (e) {
    current = undefined;
    throw e;
  }
}
