import type { LazyPlugin, Plugin } from '../core/index.js';

/**
 * The built-in plugins (`agent0/plugins`), listed explicitly: a manifest per plugin (its component
 * ids and commands) and an `import()` that runs only when a recipe or a command needs it, so that
 * `agent0 --help`, `agent0 validate` of a recipe without tensors and `import 'agent0'` load neither
 * every plugin nor TensorFlow.js. test/plugins/builtins.test.ts checks each manifest against what
 * the module registers. Third-party plugins are named in a recipe's `plugins:` list instead.
 */

/**
 * The tfjs backends every built-in saw when all of them were imported at start: @tensorflow/tfjs
 * (cpu) and the wasm backend, which engine-tfjs registers on import and which tfjs then prefers
 * by priority. Imported before any plugin that touches tensors, so the default backend does not
 * depend on which plugins a recipe happens to load.
 */
export async function loadTensorBackends(): Promise<void> {
  await import('@tensorflow/tfjs');
  await import('@tensorflow/tfjs-backend-wasm');
}

type Manifest = Omit<LazyPlugin, 'load'> & {
  /** The module imports TensorFlow.js (then the backends are registered first). */
  tensors: boolean;
  module: () => Promise<{ default: Plugin }>;
};

const v = '0.1.0';
const manifests: Manifest[] = [
  {
    meta: { name: 'agent0/algorithms', version: v },
    tensors: true,
    module: () => import('./algorithms/index.js'),
    components: [
      'advantage/grpo',
      'advantage/drgrpo',
      'advantage/rloo',
      'advantage/reinforce_plus_plus',
      'advantage/reinforce_plus_plus_baseline',
      'advantage/adpo',
      'policy-loss/vanilla',
      'policy-loss/dapo',
      'policy-loss/gspo',
      'policy-loss/adpo',
      'kl/k1',
      'kl/k1+',
      'kl/abs',
      'kl/abs+',
      'kl/k2',
      'kl/k2+',
      'kl/mse',
      'kl/mse+',
      'kl/k3',
      'kl/k3+',
      'kl/low_var_kl',
      'kl/low_var_kl+',
      'loss-agg/token-mean',
      'loss-agg/seq-mean-token-sum',
      'loss-agg/seq-mean-token-mean',
      'loss-agg/seq-mean-token-sum-norm',
      'reward/overlong',
    ],
  },
  {
    meta: { name: 'agent0/rewards', version: v },
    tensors: false,
    module: () => import('./rewards/index.js'),
    components: ['reward/outcome', 'reward/tool-use', 'reward/curriculum', 'reward/sum'],
  },
  {
    meta: { name: 'agent0/arith-world', version: v },
    tensors: true,
    module: () => import('./arith-world/index.js'),
    components: ['task-source/arith', 'stage/bootstrap'],
  },
  {
    meta: { name: 'agent0/benchmarks', version: v },
    tensors: false,
    module: () => import('./benchmarks/index.js'),
    components: ['task-source/files'],
  },
  {
    meta: { name: 'agent0/pipeline', version: v },
    tensors: true,
    module: () => import('./pipeline/index.js'),
    components: [
      'stage/curriculum-train',
      'stage/generate',
      'stage/curate',
      'stage/executor-train',
      'stage/evaluate',
      'stage/report',
    ],
    commands: [
      { name: 'report', summary: 'rebuild report.md and plots of a run folder' },
      { name: 'eval', summary: 'evaluate a saved policy on a benchmark file (greedy pass@1, mean@k / maj@k)' },
      {
        name: 'ablate',
        summary: 'run ablation variants (and the full recipe they extend) over seeds; write ablation.md / .csv / .svg',
      },
    ],
  },
  {
    meta: { name: 'agent0/openai-engine', version: v },
    tensors: false,
    module: () => import('./openai-engine/index.js'),
    components: ['rollout/openai', 'policy/remote-rollout'],
  },
  {
    meta: { name: 'agent0/serve', version: v },
    tensors: false,
    module: () => import('./serve/index.js'),
    components: [],
    commands: [
      {
        name: 'serve',
        summary:
          'OpenAI-compatible server for a policy (completions, chat, streaming; <model>:tools runs the agent loop)',
      },
      {
        name: 'bench serve',
        summary: 'agent0 serve throughput: concurrent /v1/completions with and without request batching',
      },
    ],
  },
  {
    meta: { name: 'agent0/sandbox-fusion', version: v },
    tensors: false,
    module: () => import('./sandbox-fusion/index.js'),
    components: ['tool/sandbox-fusion'],
  },
  {
    meta: { name: 'agent0/tool-server', version: v },
    tensors: false,
    module: () => import('./tool-server/index.js'),
    components: ['tool/remote-tools'],
    commands: [
      {
        name: 'tool-server',
        summary: "serve tools over HTTP with VeRL-Tool's contract (POST /get_observation, GET /health, GET /metrics)",
      },
      {
        name: 'bench tool-server',
        summary:
          'tool-server round trip: calls/s and latency through HTTP, batched and unbatched, against in-process calls',
      },
    ],
  },
  {
    meta: { name: 'agent0/agent-loop', version: v },
    tensors: false,
    module: () => import('./agent-loop/index.js'),
    components: ['agent-loop/tool-loop'],
  },
  {
    meta: { name: 'agent0/python-sandbox', version: v },
    tensors: false,
    module: () => import('./python-sandbox/index.js'),
    components: ['tool/python'],
    commands: [
      {
        name: 'sandbox exec',
        summary: 'run one Python file through the configured sandbox tool; prints one JSON result',
      },
      {
        name: 'bench sandbox',
        summary: 'python sandbox latency: warm workers vs a fresh interpreter per call (a call importing sympy)',
      },
    ],
  },
  {
    meta: { name: 'agent0/engine-tfjs', version: v },
    tensors: true,
    module: () => import('./engine-tfjs/index.js'),
    components: ['policy/tfjs', 'rollout/tfjs'],
    commands: [
      {
        name: 'bench engine',
        summary: 'tfjs engine throughput (train, log-prob, KV-cache sampling) vs the same model in PyTorch',
      },
    ],
  },
  {
    meta: { name: 'agent0/engine-torch', version: v },
    tensors: true,
    module: () => import('./engine-torch/index.js'),
    components: ['policy/torch'],
    commands: [
      {
        name: 'bench trainer',
        summary:
          'trainer service throughput (fused training steps, /v1/completions decode) vs a plain PyTorch loop and transformers generate()',
      },
    ],
  },
  {
    meta: { name: 'agent0/math-verifier', version: v },
    tensors: false,
    module: () => import('./math-verifier/index.js'),
    components: ['verifier/math'],
    commands: [
      {
        name: 'verify',
        summary: 'check {"gold","pred"} JSONL lines with the math verifier; one result line per input, in order',
      },
      {
        name: 'bench verifier',
        summary: 'math verifier latency per comparison (median, p95) and accuracy on the verification cases',
      },
    ],
  },
];

/** The built-ins, in registration order; each imports its module (once) on `load()`. */
export const builtinPlugins: (LazyPlugin & { tensors: boolean })[] = manifests.map(({ module, ...m }) => {
  let loaded: Promise<Plugin> | undefined;
  return {
    ...m,
    load: () =>
      (loaded ??= (async () => {
        if (m.tensors) await loadTensorBackends();
        return (await module()).default;
      })()),
  };
});

/** Every built-in imported (scripts and tests that want the plugin objects themselves). */
export async function loadBuiltinPlugins(): Promise<Plugin[]> {
  const out: Plugin[] = [];
  for (const p of builtinPlugins) out.push(await p.load());
  return out;
}
