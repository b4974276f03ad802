/**
 * A data-parallel worker: one thread with its own tfjs backend and a copy of each model. The pool
 * (pool.ts) sends requests; training steps exchange log-probs and their gradients with the main
 * thread mid-tape over a side channel (see train()).
 */
import * as tf from '@tensorflow/tfjs';
// Registered before anything touches a tensor, so tfjs never starts (and announces) its cpu backend here.
import '@tensorflow/tfjs-backend-wasm';
import { parentPort, receiveMessageOnPort, workerData } from 'node:worker_threads';
import type { TfjsPolicy } from '../policy.js';
import { forwardLogProbs } from '../train/logprobs.js';
import { accumulateGrads } from '../train/step.js';
import type { TokenEvent } from '../../../core/index.js';
import {
  type Envelope,
  type EventsMessage,
  FINGERPRINT_MAX_PARAMS,
  type InitResult,
  type Request,
  type SyncMessage,
  type SyncReply,
  type TrainResult,
} from './protocol.js';
import type { WorkerBoot } from './protocol.js';

const boot = workerData as WorkerBoot;
const signal = new Int32Array(boot.signal);
const models = new Map<string, TfjsPolicy>();
const aborts = new Map<number, AbortController>();

function modelOf(id: string): TfjsPolicy {
  const p = models.get(id);
  if (!p) throw new Error(`worker ${boot.index}: no model '${id}'`);
  return p;
}

/** Blocks this thread until main answers on the side channel (a tape cannot await). */
function waitReply(): SyncReply | undefined {
  Atomics.wait(signal, boot.index, 0);
  Atomics.store(signal, boot.index, 0);
  return receiveMessageOnPort(boot.port)?.message as SyncReply | undefined;
}

function post(m: SyncMessage, transfer: ArrayBuffer[] = []): void {
  boot.port.postMessage(m, transfer);
}

function fingerprint(p: TfjsPolicy): string | null {
  if (p.model.numParams > FINGERPRINT_MAX_PARAMS) return null;
  let h = 0x811c9dc5;
  for (const v of p.model.params.values()) {
    const bytes = new Uint8Array((v.dataSync() as Float32Array).buffer);
    for (let i = 0; i < bytes.length; i++) h = Math.imul(h ^ (bytes[i] as number), 0x01000193);
  }
  return (h >>> 0).toString(16);
}

/**
 * One optimizer step on this worker's rows. For each micro-batch the forward pass runs under the
 * tape, its log-probs go to main, which runs the loss over the whole micro-batch and answers with
 * d loss / d logProbs; sum(logProbs · that) is then this worker's share of the loss as far as the
 * weights are concerned, so its gradient is exact. Gradients are summed across workers through
 * shared memory and every worker applies the same AdamW update to its own copy.
 */
function train(req: Extract<Request, { type: 'train' }>): TrainResult {
  const policy = modelOf(req.model);
  const model = policy.model;
  while (receiveMessageOnPort(boot.port)) {
    /* drop replies meant for a failed earlier step */
  }
  Atomics.store(signal, boot.index, 0);
  const vars = model.trainableVariables();
  const nameOf = new Map<string, string>();
  for (const [k, v] of model.params) nameOf.set(v.name, k);
  const accum = new Map<string, tf.Tensor>();
  const T = req.batch.inputIds[0]?.length ?? 0;
  try {
    req.parts.forEach((rows, mb) => {
      if (!rows || rows.length === 0) return;
      const { value, grads } = tf.variableGrads(() => {
        const fwd = forwardLogProbs(model, req.batch, rows, req.needEntropy);
        const lp = (fwd.logProbs.dataSync() as Float32Array).slice();
        const ent = fwd.entropy ? (fwd.entropy.dataSync() as Float32Array).slice() : undefined;
        post(
          { seq: req.seq, kind: 'lp', mb, lp, ...(ent ? { ent } : {}) },
          ent ? [lp.buffer, ent.buffer] : [lp.buffer],
        );
        const reply = waitReply();
        if (!reply) throw new Error(`worker ${boot.index}: woken without a reply`);
        if ('abort' in reply) throw new Error(`step abandoned: ${reply.abort}`);
        let y = tf.sum(tf.mul(fwd.logProbs, tf.tensor2d(reply.dlp, [rows.length, T])));
        if (fwd.entropy && reply.dent)
          y = tf.add(y, tf.sum(tf.mul(fwd.entropy, tf.tensor2d(reply.dent, [rows.length, T]))));
        return y as tf.Scalar;
      }, vars);
      value.dispose();
      accumulateGrads(accum, grads, nameOf);
    });
    return allReduceAndApply(policy, req, accum);
  } finally {
    for (const g of accum.values()) g.dispose();
  }
}

function allReduceAndApply(
  policy: TfjsPolicy,
  req: Extract<Request, { type: 'train' }>,
  accum: Map<string, tf.Tensor>,
): TrainResult {
  const model = policy.model;
  const names = [...model.params.keys()];
  const sizes = names.map((k) => model.params.get(k)!.size);
  const total = sizes.reduce((a, b) => a + b, 0);
  const W = req.grads.byteLength / (4 * (total + names.length));
  const flat = new Float32Array(req.grads, 0, W * total);
  const has = new Int32Array(req.grads, 4 * W * total, W * names.length);
  let off = 0;
  names.forEach((k, i) => {
    const g = accum.get(k);
    const slot = flat.subarray(boot.index * total + off, boot.index * total + off + (sizes[i] as number));
    if (g) slot.set(g.dataSync() as Float32Array);
    else slot.fill(0);
    has[boot.index * names.length + i] = g ? 1 : 0;
    off += sizes[i] as number;
  });
  post({ seq: req.seq, kind: 'grads' });
  const go = waitReply();
  if (go && 'abort' in go) throw new Error(`step abandoned: ${go.abort}`);
  // Every worker adds the slots in the same order, so every copy gets the same bits.
  const summed = new Map<string, tf.Tensor>();
  try {
    off = 0;
    names.forEach((k, i) => {
      const n = sizes[i] as number;
      const shape = model.params.get(k)!.shape;
      const parts: tf.Tensor[] = [];
      for (let w = 0; w < W; w++) {
        if (has[w * names.length + i])
          parts.push(tf.tensor(flat.subarray(w * total + off, w * total + off + n), shape));
      }
      if (parts.length === 1) summed.set(k, parts[0] as tf.Tensor);
      else if (parts.length > 1) {
        summed.set(k, tf.addN(parts));
        for (const t of parts) t.dispose();
      }
      off += n;
    });
    const { gradNorm, lr } = policy.opt.apply(model.params, summed, req.lr);
    return { gradNorm, lr, step: policy.opt.step };
  } finally {
    for (const t of summed.values()) t.dispose();
  }
}

async function handle(req: Envelope): Promise<{ result: unknown; transfer?: ArrayBuffer[] }> {
  switch (req.type) {
    case 'init': {
      const mod = (await import(req.factory.module)) as Record<string, (a: unknown) => Promise<TfjsPolicy>>;
      const make = mod[req.factory.export];
      if (typeof make !== 'function')
        throw new Error(`${req.factory.module} exports no function '${req.factory.export}'`);
      const p = await make(req.factory.args);
      models.set(req.model, p);
      const r: InitResult = {
        describe: p.describe(),
        paramTensors: p.model.params.size,
        weightValues: [...p.model.params.values()].reduce((a, v) => a + v.size, 0),
        fingerprint: fingerprint(p),
      };
      return { result: r };
    }
    case 'generate': {
      const p = modelOf(req.model);
      const ac = new AbortController();
      aborts.set(req.id, ac);
      try {
        const out = await p.sample(req.prompts, req.params, {
          seed: req.seed,
          rowOffset: req.rowOffset,
          signal: ac.signal,
          ...(req.sampleKeys ? { sampleKeys: req.sampleKeys } : {}),
          ...(req.stream ? { onToken: streamTo(req.id) } : {}),
        });
        return { result: out };
      } finally {
        aborts.delete(req.id);
      }
    }
    case 'abort':
      aborts.get(req.target)?.abort();
      return { result: null };
    case 'logprobs': {
      const out = await modelOf(req.model).computeLogProbs(req.batch, { microBatchSize: req.microBatchSize });
      return { result: out, transfer: out.map((a) => a.buffer as ArrayBuffer) };
    }
    case 'train':
      return { result: train(req) };
    case 'snapshot':
      models.set(req.target, (await modelOf(req.model).snapshot()) as TfjsPolicy);
      return { result: null };
    case 'save':
      await modelOf(req.model).save(req.dir);
      return { result: null };
    case 'load': {
      const p = modelOf(req.model);
      await p.load(req.dir);
      return { result: fingerprint(p) };
    }
    case 'dispose':
      models.get(req.model)?.dispose();
      models.delete(req.model);
      return { result: tf.memory().numTensors };
    case 'memory':
      return { result: tf.memory().numTensors };
  }
}

/**
 * A step's tokens go to main in one message, posted once the step's synchronous work is done
 * (a microtask), so every event leaves before the request's reply.
 */
function streamTo(id: number): (e: TokenEvent) => void {
  let batch: TokenEvent[] = [];
  return (e) => {
    if (batch.length === 0) {
      queueMicrotask(() => {
        parentPort!.postMessage({ id, events: batch } satisfies EventsMessage);
        batch = [];
      });
    }
    batch.push(e);
  };
}

parentPort!.on('message', (req: Envelope) => {
  handle(req).then(
    ({ result, transfer }) => parentPort!.postMessage({ id: req.id, ok: true, result }, transfer ?? []),
    (e: unknown) =>
      parentPort!.postMessage({
        id: req.id,
        ok: false,
        error: e instanceof Error ? e.message : String(e),
        ...(e instanceof Error && e.stack ? { stack: e.stack } : {}),
      }),
  );
});
