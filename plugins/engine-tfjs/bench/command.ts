import { availableParallelism } from 'node:os';
import { parseArgs } from 'node:util';
import type { CliCommand, CliOptions } from '../../../core/index.js';
import { BACKEND_CHOICES, type BackendChoice, selectBackend } from '../backend/select.js';
import { resolveWorkers } from '../create.js';
import { countParams, type Qwen3Config, SMALL_CONFIG, TINY_CONFIG } from '../model/config.js';
import { type BenchResult, benchModel, DEFAULT_SHAPE } from './measure.js';
import { findPeerScript, findTorchPython, probePeer, type PeerProbe, type PeerResult, runPeer } from './peer.js';
import { describePeer, judgePeer } from './peer-check.js';

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
  /** Why the ratio is withheld or flagged (a crippled peer); absent for a sound one. */
  peerProblems?: string[];
  peerError?: string;
}

/** The peer as probed before timing, with the verdict on it. */
interface PeerReport extends PeerProbe {
  problems: string[];
  /** No ratio is printed: the peer is crippled and --allow-slow-peer was not given. */
  withheld: boolean;
}

export function table(rows: Row[], backend: string, workers: number, peer?: PeerReport): string {
  const lines = [
    `tokens/s on ${backend}, ${workers === 1 ? 'one thread' : `${workers} worker threads (data parallel)`}; PyTorch peer in the same run (ratio = tfjs / torch)`,
  ];
  if (peer) lines.push(`peer: ${describePeer(peer)}`);
  lines.push('');
  lines.push(
    ['model', 'params', 'metric', 'tfjs', 'torch', 'ratio']
      .map((s, i) => (i < 3 ? s.padEnd(12) : s.padStart(10)))
      .join(''),
  );
  for (const r of rows) {
    for (const [label, key] of METRICS) {
      const t = r.torch?.[key];
      lines.push(
        [
          r.model.padEnd(12),
          `${(r.params / 1e6).toFixed(2)}M`.padEnd(12),
          label.padEnd(12),
          r.tfjs[key].toFixed(0).padStart(10),
          (t === undefined ? '-' : t.toFixed(0)).padStart(10),
          (r.ratio
            ? `${r.ratio[key].toFixed(2)}x${r.peerProblems?.length ? '!' : ''}`
            : peer?.withheld
              ? 'withheld'
              : '-'
          ).padStart(10),
        ].join(''),
      );
    }
    if (r.peerError) lines.push(`  (peer: ${r.peerError})`);
  }
  const problems = [...new Set([...(peer?.problems ?? []), ...rows.flatMap((r) => r.peerProblems ?? [])])];
  if (problems.length > 0) {
    lines.push(
      '',
      peer?.withheld
        ? 'ratios withheld: the PyTorch peer is crippled (--allow-slow-peer prints them anyway, flagged):'
        : 'ratios marked ! compare against a handicapped PyTorch:',
    );
    for (const p of problems) lines.push(`  ! ${p}`);
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

const OPTIONS = {
  json: {
    type: 'boolean',
    default: false,
    description: "print the result as JSON (with the peer's BLAS and any problems)",
  },
  models: {
    type: 'string',
    default: 'tiny,small',
    value: 'LIST',
    description: `models to measure (${Object.keys(MODELS).join(', ')})`,
  },
  backend: {
    type: 'string',
    default: 'auto',
    value: 'NAME',
    description: `tfjs backend (${BACKEND_CHOICES.join(', ')})`,
  },
  reps: {
    type: 'string',
    default: String(DEFAULT_SHAPE.reps),
    value: 'N',
    description: 'timed repetitions per measurement (the fastest counts)',
  },
  rounds: {
    type: 'string',
    default: '3',
    value: 'N',
    description: "alternate tfjs and PyTorch N times, keeping each one's best",
  },
  workers: {
    type: 'string',
    default: 'auto',
    value: 'N',
    description: 'tfjs worker threads (auto: as policy/tfjs); the peer gets as many torch threads',
  },
  'no-peer': { type: 'boolean', default: false, description: 'skip the PyTorch peer' },
  'allow-slow-peer': {
    type: 'boolean',
    default: false,
    description: 'print ratios even against a PyTorch on the reference BLAS (flagged with !)',
  },
} satisfies CliOptions;

export const benchEngineCommand: CliCommand = {
  name: 'bench engine',
  summary: 'tfjs engine throughput (train, log-prob, KV-cache sampling) vs the same model in PyTorch',
  usage:
    'agent0 bench engine [--json] [--models tiny,small] [--backend auto|wasm|cpu|...] [--reps N] [--rounds N] [--workers N] [--no-peer] [--allow-slow-peer]',
  options: OPTIONS,
  details:
    'The peer (bench/peers/qwen3_torch.py, python from AGENT0_PEER_PYTHON, python3 or /usr/bin/python3) reports which ' +
    'BLAS its matmuls ran on; against the reference BLAS (Debian libblas3 without libopenblas0-pthread) no ratio is printed.',
  async run(args, env) {
    const { values } = parseArgs({ args, options: OPTIONS });
    if (!(BACKEND_CHOICES as readonly string[]).includes(values.backend)) {
      env.stderr(`--backend must be one of ${BACKEND_CHOICES.join(', ')}`);
      return 2;
    }
    const names = values.models
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);
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
    // The peer gets the cores the tfjs side uses: its workers on wasm/cpu, every core on a native
    // backend (tfjs-node's TensorFlow threads itself).
    const peerThreads = info.name === 'wasm' || info.name === 'cpu' ? workers : availableParallelism();
    env.log.info(`tfjs backend: ${info.detail}; ${workers} worker thread(s)`);
    let peer: { python: string; script: string } | undefined;
    let noPeer = values['no-peer'] ? 'skipped (--no-peer)' : undefined;
    if (!noPeer) {
      const script = findPeerScript();
      const python = script ? findTorchPython() : undefined;
      if (script && python) peer = { python, script };
      else
        noPeer = script
          ? 'no python3 with torch found (Debian: apt-get install python3-torch libopenblas0-pthread)'
          : 'bench/peers/qwen3_torch.py not found';
    }
    // Probed before any timing: a peer on the reference BLAS is not worth minutes of measurement.
    let peerReport: PeerReport | undefined;
    if (peer) {
      try {
        const probe = await probePeer(peer.python, peer.script, peerThreads);
        const verdict = judgePeer(probe, peerThreads);
        peerReport = { ...probe, problems: verdict.problems, withheld: verdict.withhold && !values['allow-slow-peer'] };
        env.log.info(describePeer(probe));
        for (const p of verdict.problems) env.log.warn(`bench engine: ${p}`);
        if (peerReport.withheld) {
          noPeer = 'not timed: its BLAS is the reference implementation (see below)';
          peer = undefined;
        }
      } catch (e) {
        noPeer = (e as Error).message;
        peer = undefined;
      }
    }
    const rows: Row[] = [];
    for (const name of names) {
      const config = MODELS[name] as Qwen3Config;
      const row: Row = {
        model: name,
        params: countParams(config),
        tfjs: { trainTokensPerSec: 0, logProbTokensPerSec: 0, sampleTokensPerSec: 0 },
      };
      // Rounds alternate the engines and keep each one's best: on a shared machine a slow minute
      // then hits both engines' chances alike instead of deciding the ratio.
      for (let round = 1; round <= rounds; round++) {
        const tag = rounds > 1 ? ` (round ${round}/${rounds})` : '';
        env.log.info(`bench ${name}: tfjs${tag} ...`);
        row.tfjs = best(row.tfjs, await benchModel(config, shape, workers, info.choice));
        if (!peer) continue;
        env.log.info(`bench ${name}: PyTorch peer${tag} ...`);
        try {
          const t = await runPeer(peer.python, peer.script, config, shape, peerThreads);
          row.torch = row.torch ? best(row.torch, t) : t;
        } catch (e) {
          row.peerError = (e as Error).message;
        }
      }
      if (row.torch) {
        const t = row.torch;
        const problems = judgePeer(t, peerThreads).problems;
        if (problems.length > 0) row.peerProblems = problems;
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
      env.stdout(
        JSON.stringify(
          {
            date: new Date().toISOString(),
            backend: info.detail,
            workers,
            rounds,
            shape,
            peer: peerReport ?? null,
            results: rows,
          },
          null,
          2,
        ),
      );
    } else {
      env.stdout(table(rows, info.detail, workers, peerReport));
    }
    return 0;
  },
};
