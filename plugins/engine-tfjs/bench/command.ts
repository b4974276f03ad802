import { parseArgs } from 'node:util';
import type { CliCommand } from '../../../core/index.js';
import { BACKEND_CHOICES, type BackendChoice, selectBackend } from '../backend/select.js';
import { resolveWorkers } from '../create.js';
import { countParams, type Qwen3Config, SMALL_CONFIG, TINY_CONFIG } from '../model/config.js';
import { type BenchResult, benchModel, DEFAULT_SHAPE } from './measure.js';
import { findPeerScript, findTorchPython, type PeerResult, runPeer } from './peer.js';

/** The embedded model uses the tiny tokenizer's vocabulary (99 ids); the bench does too. */
const MODELS: Record<string, Qwen3Config> = {
  tiny: { ...TINY_CONFIG, vocab_size: 99 },
  small: { ...SMALL_CONFIG, vocab_size: 99 },
};

const METRICS = [
  ['train', 'trainTokensPerSec'],
  ['log-prob', 'logProbTokensPerSec'],
  ['sample B16', 'sampleTokensPerSec'],
] as const;

interface Row {
  model: string;
  params: number;
  tfjs: BenchResult;
  torch?: PeerResult;
  ratio?: BenchResult;
  peerError?: string;
}

function table(rows: Row[], backend: string, workers: number): string {
  const lines = [`tokens/s on ${backend}, ${workers === 1 ? 'one thread' : `${workers} worker threads (data parallel)`}; PyTorch peer in the same run (ratio = tfjs / torch)`, ''];
  lines.push(['model', 'params', 'metric', 'tfjs', 'torch', 'ratio'].map((s, i) => (i < 3 ? s.padEnd(12) : s.padStart(10))).join(''));
  for (const r of rows) {
    for (const [label, key] of METRICS) {
      const t = r.torch?.[key];
      lines.push([
        r.model.padEnd(12), `${(r.params / 1e6).toFixed(2)}M`.padEnd(12), label.padEnd(12),
        r.tfjs[key].toFixed(0).padStart(10), (t === undefined ? '-' : t.toFixed(0)).padStart(10),
        (r.ratio ? `${r.ratio[key].toFixed(2)}x` : '-').padStart(10),
      ].join(''));
    }
    if (r.peerError) lines.push(`  (peer: ${r.peerError})`);
  }
  return lines.join('\n');
}

function best<T extends BenchResult>(a: T, b: T): T {
  return {
    ...b,
    trainTokensPerSec: Math.max(a.trainTokensPerSec, b.trainTokensPerSec),
    logProbTokensPerSec: Math.max(a.logProbTokensPerSec, b.logProbTokensPerSec),
    sampleTokensPerSec: Math.max(a.sampleTokensPerSec, b.sampleTokensPerSec),
  };
}

export const benchEngineCommand: CliCommand = {
  name: 'bench engine',
  summary: 'tfjs engine throughput (train, log-prob, KV-cache sampling) vs the same model in PyTorch',
  usage: 'agent0 bench engine [--json] [--models tiny,small] [--backend auto|wasm|cpu|...] [--reps N] [--rounds N] [--workers N] [--no-peer]',
  async run(args, env) {
    const { values } = parseArgs({
      args,
      options: {
        json: { type: 'boolean', default: false },
        models: { type: 'string', default: 'tiny,small' },
        backend: { type: 'string', default: 'auto' },
        reps: { type: 'string', default: String(DEFAULT_SHAPE.reps) },
        rounds: { type: 'string', default: '3' },
        workers: { type: 'string', default: 'auto' },
        'no-peer': { type: 'boolean', default: false },
      },
    });
    if (!(BACKEND_CHOICES as readonly string[]).includes(values.backend)) {
      env.stderr(`--backend must be one of ${BACKEND_CHOICES.join(', ')}`);
      return 2;
    }
    const names = values.models.split(',').map((s) => s.trim()).filter(Boolean);
    const unknown = names.filter((n) => !MODELS[n]);
    if (unknown.length) {
      env.stderr(`unknown model(s) ${unknown.join(', ')}; known: ${Object.keys(MODELS).join(', ')}`);
      return 2;
    }
    const reps = Number(values.reps);
    if (!Number.isInteger(reps) || reps < 1) {
      env.stderr('--reps must be a positive integer');
      return 2;
    }
    const asked = values.workers === 'auto' ? null : Number(values.workers);
    if (asked !== null && (!Number.isInteger(asked) || asked < 1)) {
      env.stderr("--workers must be 'auto' or a positive integer");
      return 2;
    }
    const rounds = Number(values.rounds);
    if (!Number.isInteger(rounds) || rounds < 1) {
      env.stderr('--rounds must be a positive integer');
      return 2;
    }
    const shape = { ...DEFAULT_SHAPE, reps };
    const info = await selectBackend(values.backend as BackendChoice);
    // The same default as policy/tfjs: one worker per core on wasm/cpu.
    const workers = resolveWorkers(asked, info.name);
    env.log.info(`tfjs backend: ${info.detail}; ${workers} worker thread(s)`);
    let peer: { python: string; script: string } | undefined;
    let noPeer = values['no-peer'] ? 'skipped (--no-peer)' : undefined;
    if (!noPeer) {
      const script = findPeerScript();
      const python = script ? findTorchPython() : undefined;
      if (script && python) peer = { python, script };
      else noPeer = script ? 'no python3 with torch found (Debian: apt-get install python3-torch libopenblas0-pthread)' : 'bench/peers/qwen3_torch.py not found';
    }
    const rows: Row[] = [];
    for (const name of names) {
      const config = MODELS[name] as Qwen3Config;
      const row: Row = { model: name, params: countParams(config), tfjs: { trainTokensPerSec: 0, logProbTokensPerSec: 0, sampleTokensPerSec: 0 } };
      // Rounds alternate the engines and keep each one's best: on a shared machine a slow minute
      // then hits both engines' chances alike instead of deciding the ratio.
      for (let round = 1; round <= rounds; round++) {
        const tag = rounds > 1 ? ` (round ${round}/${rounds})` : '';
        env.log.info(`bench ${name}: tfjs${tag} ...`);
        row.tfjs = best(row.tfjs, await benchModel(config, shape, workers, info.choice));
        if (!peer) continue;
        env.log.info(`bench ${name}: PyTorch peer${tag} ...`);
        try {
          const t = await runPeer(peer.python, peer.script, config, shape);
          row.torch = row.torch ? best(row.torch, t) : t;
        } catch (e) {
          row.peerError = (e as Error).message;
        }
      }
      if (row.torch) {
        const t = row.torch;
        row.ratio = {
          trainTokensPerSec: row.tfjs.trainTokensPerSec / t.trainTokensPerSec,
          logProbTokensPerSec: row.tfjs.logProbTokensPerSec / t.logProbTokensPerSec,
          sampleTokensPerSec: row.tfjs.sampleTokensPerSec / t.sampleTokensPerSec,
        };
      } else if (noPeer) {
        row.peerError = noPeer;
      }
      rows.push(row);
    }
    if (values.json) {
      env.stdout(JSON.stringify({ date: new Date().toISOString(), backend: info.detail, workers, rounds, shape, results: rows }, null, 2));
    } else {
      env.stdout(table(rows, info.detail, workers));
    }
    return 0;
  },
};
