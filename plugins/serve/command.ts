import path from 'node:path';
import { parseArgs } from 'node:util';
import {
  checkpointOption,
  unprotectedExposure,
  type AgentLoop,
  type CliCommand,
  type CliEnv,
  type CliOptions,
  type Policy,
  type ResolvedRecipe,
  type Session,
} from '../../core/index.js';
import { BatchingEngine } from './batcher.js';
import { createServer, listen, TOOLS_SUFFIX, type RunningServer } from './server.js';

export const SERVE_USAGE =
  'agent0 serve --checkpoint DIR [--recipe R] [--set k=v ...] [--port 8000] [--host 127.0.0.1] [--model NAME] ' +
  '[--policy NAME] [--loop NAME] [--api-key-env VAR] [--allow-reload] [--batch-window-ms 5] [--max-batch 32] [--max-tokens 2048] [--max-n 64] ' +
  '[--max-request-samples 1024] [--max-total-body-mb 64]';

const SERVE_OPTIONS = {
  checkpoint: {
    type: 'string',
    value: 'DIR',
    description: "policy checkpoint to serve (weights + tokenizer); loaded into the recipe's policy with --recipe",
  },
  recipe: {
    type: 'string',
    value: 'R',
    description: "build the recipe's policy, agent loop and tools (enables the <model>:tools mode)",
  },
  set: {
    type: 'string',
    multiple: true,
    value: 'PATH=VALUE',
    description: 'override one recipe value (dotted path, YAML value); repeatable',
  },
  port: { type: 'string', default: '8000', value: 'P', description: 'TCP port (0: any free port)' },
  host: {
    type: 'string',
    default: '127.0.0.1',
    value: 'H',
    description: 'address to listen on; set --api-key-env before a non-loopback one',
  },
  model: {
    type: 'string',
    value: 'NAME',
    description: 'model id in /v1/models (default: the checkpoint or recipe file name)',
  },
  policy: { type: 'string', value: 'NAME', description: 'policy instance of the recipe (default: the first policy/)' },
  loop: {
    type: 'string',
    value: 'NAME',
    description: 'agent-loop instance of the recipe (default: the first agent-loop/)',
  },
  'api-key-env': {
    type: 'string',
    value: 'VAR',
    description: 'require Authorization: Bearer $VAR on every route but /health',
  },
  'allow-reload': {
    type: 'boolean',
    default: false,
    description: "add POST /update_weights_from_disk (SGLang's contract)",
  },
  'batch-window-ms': {
    type: 'string',
    default: '5',
    value: 'MS',
    description: 'how long to gather concurrent requests into one policy call',
  },
  'max-batch': { type: 'string', default: '32', value: 'N', description: 'rows per policy call' },
  'max-tokens': {
    type: 'string',
    default: '2048',
    value: 'N',
    description: 'largest max_tokens a request may ask for',
  },
  'max-n': { type: 'string', default: '64', value: 'N', description: 'largest n a request may ask for' },
  'max-request-samples': {
    type: 'string',
    default: '1024',
    value: 'N',
    description: 'prompts × n per request (400 beyond it)',
  },
  'max-total-body-mb': {
    type: 'string',
    default: '64',
    value: 'MB',
    description: 'request bodies being read at once, in MiB',
  },
} satisfies CliOptions;

export interface Serving extends RunningServer {
  models: string[];
  batcher: BatchingEngine;
}

const intArg = (name: string, v: string | undefined, min: number): number => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) throw new UsageError(`--${name}: expected an integer >= ${min}, found '${v}'`);
  return n;
};

class UsageError extends Error {}

/** The first instance of a kind in a recipe, for commands that need "the" policy or loop. */
function firstOfKind(recipe: ResolvedRecipe, kind: string): string | undefined {
  return Object.entries(recipe.components).find(([, c]) => c.use.startsWith(`${kind}/`))?.[0];
}

/** Builds the policy (and loop), then listens; `close()` stops the server and frees the model. */
export async function startServe(args: string[], env: CliEnv): Promise<Serving> {
  const { values } = parseArgs({ args, options: SERVE_OPTIONS });
  if (!values.checkpoint && !values.recipe) throw new UsageError('give --checkpoint DIR, --recipe R, or both');
  const port = intArg('port', values.port, 0);
  const windowMs = intArg('batch-window-ms', values['batch-window-ms'], 0);
  const maxRows = intArg('max-batch', values['max-batch'], 1);
  const limits = {
    maxTokens: intArg('max-tokens', values['max-tokens'], 1),
    maxN: intArg('max-n', values['max-n'], 1),
    maxSamples: intArg('max-request-samples', values['max-request-samples'], 1),
  };
  const maxTotalBodyBytes = intArg('max-total-body-mb', values['max-total-body-mb'], 1) * 1024 * 1024;
  const checkpoint = values.checkpoint ? path.resolve(env.cwd, values.checkpoint) : undefined;
  const keyVar = values['api-key-env'];
  const apiKey = keyVar === undefined ? undefined : process.env[keyVar];
  if (keyVar !== undefined && !apiKey)
    throw new UsageError(`--api-key-env names '${keyVar}', which is not set in the environment`);
  const exposed = unprotectedExposure(values.host ?? '127.0.0.1', apiKey, '--api-key-env');
  if (exposed) throw new UsageError(exposed);

  let session: Session | undefined;
  let policy: Policy;
  let loop: AgentLoop | undefined;
  if (values.recipe) {
    const recipe = await env.loadRecipe(values.recipe, values.set ?? []);
    session = await env.openSession(recipe);
    const pname = values.policy ?? firstOfKind(recipe, 'policy');
    if (!pname) throw new UsageError(`${values.recipe} defines no policy instance; name one with --policy`);
    policy = await session.get(pname, 'policy');
    if (checkpoint) await policy.load(checkpoint);
    const lname = values.loop ?? firstOfKind(recipe, 'agent-loop');
    if (lname) loop = await session.get(lname, 'agent-loop');
  } else {
    policy = await env.createComponent('policy', 'tfjs', checkpointOption(checkpoint as string));
  }

  const modelName = values.model ?? path.basename(checkpoint ?? values.recipe ?? 'agent0').replace(/\.ya?ml$/, '');
  const batcher = new BatchingEngine(policy, {
    windowMs,
    maxRows,
    randomSeed: () => Math.floor(Math.random() * 2 ** 31),
  });
  const loadWeights = values['allow-reload']
    ? (dir: string) => batcher.exclusive(() => policy.load(path.resolve(env.cwd, dir)))
    : undefined;
  const server = createServer({
    engine: batcher,
    modelName,
    loop,
    limits,
    maxTotalBodyBytes,
    log: env.log,
    ...(apiKey ? { apiKey } : {}),
    ...(loadWeights ? { loadWeights } : {}),
  });
  let running: RunningServer;
  try {
    running = await listen(server, values.host ?? '127.0.0.1', port);
  } catch (e) {
    await session?.close();
    if (!session) await policy.dispose();
    throw e;
  }
  return {
    ...running,
    models: [modelName, ...(loop ? [modelName + TOOLS_SUFFIX] : [])],
    batcher,
    async close() {
      await running.close();
      if (session) await session.close();
      else await policy.dispose();
    },
  };
}

export const serveCommand: CliCommand = {
  name: 'serve',
  summary: 'OpenAI-compatible server for a policy (completions, chat, streaming; <model>:tools runs the agent loop)',
  usage: SERVE_USAGE,
  options: SERVE_OPTIONS,
  async run(args, env) {
    let s: Serving;
    try {
      s = await startServe(args, env);
    } catch (e) {
      if (e instanceof UsageError || (e as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
        env.stderr(`${(e as Error).message}\nusage: ${SERVE_USAGE}`);
        return 2;
      }
      throw e;
    }
    env.stdout(JSON.stringify({ url: s.url, models: s.models }));
    env.log.info(`serving ${s.models.join(', ')} at ${s.url} (Ctrl-C stops)`);
    await new Promise<void>((resolve) => {
      process.once('SIGINT', resolve);
      process.once('SIGTERM', resolve);
    });
    await s.close();
    const st = s.batcher.stats();
    env.log.info(
      `served ${st.requests} generate requests in ${st.calls} policy calls (largest ${st.largestCall} rows)`,
    );
    return 0;
  },
};
