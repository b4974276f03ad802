import * as tf from '@tensorflow/tfjs';
import { expect } from 'chai';
import { promises as fs } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { createRegistry, DefaultCliEnv, type LossOutput, type PolicyForward } from '../../../core/index.js';
import { builtinPlugins } from '../../../plugins/index.js';
import { OpenAIRolloutEngine } from '../../../plugins/openai-engine/engine.js';
import { startServe } from '../../../plugins/serve/public.js';
import { ServiceProcess } from '../../../plugins/engine-torch/launch.js';
import { selectBackend } from '../../../plugins/engine-tfjs/backend/select.js';
import { engineOptions } from '../openai-engine/helpers.js';
import { FIXTURE, torchAvailable, torchOptions, torchPolicy } from './helpers.js';

const CKPT = path.join(FIXTURE, 'untied');
const ROWS = [
  [5, 9, 30, 41, 7, 8, 12, 100, 33],
  [7, 8, 9, 10, 11, 0, 0, 0, 0],
  [40, 41, 42, 43, 44, 45, 46, 0, 0],
];
const BATCH = { inputIds: ROWS, attentionMask: ROWS.map((r, i) => r.map((_, t) => (t < [9, 5, 7][i]! ? 1 : 0))) };
const nll = (fwd: PolicyForward): LossOutput => ({ loss: tf.neg(tf.mean(fwd.logProbs)) as tf.Scalar });

function maxDiff(a: Float32Array[], b: Float32Array[]): number {
  let m = 0;
  a.forEach((r, i) =>
    r.forEach((x, j) => {
      m = Math.max(m, Math.abs(x - (b[i] as Float32Array)[j]!));
    }),
  );
  return m;
}

async function fakeService(
  handler: (req: http.IncomingMessage, res: http.ServerResponse) => void,
): Promise<{ url: string; close: () => Promise<void> }> {
  const srv = http.createServer(handler);
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  const port = (srv.address() as { port: number }).port;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise((r) => {
        srv.closeAllConnections();
        srv.close(() => r());
      }),
  };
}

const info = (protocol: number) =>
  JSON.stringify({
    service: 'agent0-trainer',
    protocol,
    version: '9.9.9',
    torch: 'x',
    transformers: null,
    world_size: 1,
    device: 'cpu',
    device_name: 'cpu',
    models: [],
  });

describe('policy/torch: checkpoints, resume, failures', function () {
  this.timeout(300_000);
  let work: string;

  before(async function () {
    if (!torchAvailable()) this.skip();
    await selectBackend('wasm');
    work = await fs.mkdtemp(path.join(os.tmpdir(), 'a0-torch-'));
  });

  it('saves an HF folder that policy/tfjs and agent0 serve --allow-reload load with the trained weights', async () => {
    const env = new DefaultCliEnv(await createRegistry(builtinPlugins), { builtins: builtinPlugins, stderr: () => {} });
    const t = await torchPolicy({ checkpoint: CKPT, optimizer: { lr: 0.05 } });
    const live = await startServe(['--checkpoint', CKPT, '--port', '0', '--allow-reload'], env);
    const remote = new OpenAIRolloutEngine(engineOptions({ urls: [live.url], weightSync: 'from-disk' }), t.tokenizer);
    try {
      const stats = await t.trainStep(BATCH, nll);
      expect(stats.step).to.equal(1);
      const dir = path.join(work, 'saved');
      await t.save(dir);
      for (const f of ['config.json', 'model.safetensors', 'tokenizer.json', 'optimizer.torch.safetensors'])
        expect(
          await fs.stat(path.join(dir, f)).then(
            () => true,
            () => false,
          ),
          f,
        ).to.equal(true);
      const f = await env.createComponent('policy', 'tfjs', { checkpoint: dir, workers: 1 });
      try {
        expect(maxDiff(await f.computeLogProbs(BATCH), await t.computeLogProbs(BATCH))).to.be.lessThan(1e-5);
      } finally {
        await f.dispose();
      }
      const prompt = [5, 9, 30];
      const params = { maxNewTokens: 6, temperature: 0 };
      const [want] = await t.generate([prompt], params);
      await remote.loadWeights!(dir);
      const [got] = await remote.generate([prompt], params);
      expect(got!.tokenIds).to.deep.equal(want!.tokenIds);
      got!.logProbs.forEach((lp, i) => expect(lp).to.be.closeTo(want!.logProbs[i]!, 1e-4));
    } finally {
      await remote.dispose();
      await live.close();
      await t.dispose();
    }
  });

  it('resuming from save() (weights, AdamW moments, step) continues exactly as if never stopped', async () => {
    const opt = { lr: 0.02, warmupSteps: 3 };
    const a = await torchPolicy({ checkpoint: CKPT, optimizer: opt });
    for (let i = 0; i < 3; i++) await a.trainStep(BATCH, nll);
    const straight = await a.computeLogProbs(BATCH);
    await a.dispose();
    const b = await torchPolicy({ checkpoint: CKPT, optimizer: opt });
    await b.trainStep(BATCH, nll);
    const dir = path.join(work, 'resume');
    await b.save(dir);
    await b.dispose();
    const c = await torchPolicy({ checkpoint: CKPT, optimizer: opt });
    try {
      await c.load(dir);
      expect(c.describe().step).to.equal(1);
      const s2 = await c.trainStep(BATCH, nll);
      expect(s2.lr, 'warmup continues from step 2').to.be.closeTo((0.02 * 2) / 3, 1e-12);
      await c.trainStep(BATCH, nll);
      expect(maxDiff(await c.computeLogProbs(BATCH), straight)).to.be.lessThan(1e-6);
    } finally {
      await c.dispose();
    }
  });

  it('a service killed in the middle of a step fails the call with a located error, not a hang', async () => {
    const t = await torchPolicy({ checkpoint: CKPT, launch: { args: ['--threads', '1'] } });
    const proc = (t as unknown as { conn: { process: ServiceProcess } }).conn.process;
    const rows = Array.from({ length: 64 }, (_, i) => Array.from({ length: 200 }, (_, j) => (i * 7 + j) % 384));
    const big = { inputIds: rows, attentionMask: rows.map((r) => r.map(() => 1)) };
    const pending = t.trainStep(big, nll).then(
      () => 'finished',
      (e: Error) => e.message,
    );
    setTimeout(() => proc.kill('SIGKILL'), 300);
    const msg = await pending;
    expect(msg).to.match(
      /trainer service died during \/api\/v1\/(forward|forward_backward|optim_step) \(rank 0 killed by SIGKILL\)/,
    );
    const again = await t.computeLogProbs(BATCH).then(
      () => 'answered',
      (e: Error) => e.message,
    );
    expect(again).to.match(/died|unreachable/);
    await t.dispose();
  });

  it('attaches to a running service by url with its bearer token; refuses without it', async () => {
    const svc = await ServiceProcess.start(torchOptions({}).launch, () => {});
    process.env.A0_TEST_TRAINER_TOKEN = svc.token;
    try {
      const t = await torchPolicy({ url: svc.url, apiKeyEnv: 'A0_TEST_TRAINER_TOKEN', checkpoint: CKPT });
      expect((await t.computeLogProbs(BATCH))[0]!.length).to.equal(9);
      await t.dispose();
      expect(svc.alive, 'an attached service outlives its policies').to.equal(true);
      const denied = await torchPolicy({ url: svc.url, checkpoint: CKPT }).then(
        () => 'ok',
        (e: Error) => e.message,
      );
      expect(denied).to.match(/401.*bearer token/);
    } finally {
      svc.kill();
      await svc.stop(10_000);
      delete process.env.A0_TEST_TRAINER_TOKEN;
    }
  });

  it('refuses a service that speaks another protocol version, or something that is no trainer', async () => {
    const other = await fakeService((_req, res) => {
      res.setHeader('content-type', 'application/json');
      res.end(info(99));
    });
    const wrong = await fakeService((_req, res) => {
      res.setHeader('content-type', 'application/json');
      res.end('{"object":"list","data":[]}');
    });
    try {
      expect(
        await torchPolicy({ url: other.url, checkpoint: CKPT }).then(
          () => 'ok',
          (e: Error) => e.message,
        ),
      ).to.match(/speaks protocol 99, this agent0 speaks 1/);
      expect(
        await torchPolicy({ url: wrong.url, checkpoint: CKPT }).then(
          () => 'ok',
          (e: Error) => e.message,
        ),
      ).to.match(/is not an agent0 trainer service/);
    } finally {
      await other.close();
      await wrong.close();
    }
  });

  it('an operation that never finishes times out with the option to raise named', async () => {
    const stuck = await fakeService((req, res) => {
      res.setHeader('content-type', 'application/json');
      if (req.url === '/agent0/info') return res.end(info(1));
      if (req.url === '/api/v1/retrieve_future') {
        res.statusCode = 408;
        return setTimeout(() => res.end('{"type":"try_again"}'), 50);
      }
      res.end('{"request_id":"1"}');
    });
    try {
      const msg = await torchPolicy({ url: stuck.url, checkpoint: CKPT, requestTimeoutMs: 1000 }).then(
        () => 'ok',
        (e: Error) => e.message,
      );
      expect(msg).to.match(/create_model did not finish within 1000 ms \(requestTimeoutMs\)/);
    } finally {
      await stuck.close();
    }
  });
});
