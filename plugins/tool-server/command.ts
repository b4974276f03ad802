import { parseArgs } from 'node:util';
import {
  RecipeError,
  RegistryError,
  unprotectedExposure,
  type CliCommand,
  type CliEnv,
  type CliOptions,
  type Session,
  type Tool,
} from '../../core/index.js';
import type { ToolSet } from './dispatcher.js';
import { OBSERVATION_FORMATS_HELP, parseObservationFormat } from './observation-format.js';
import { startToolServer } from './server.js';

const USAGE =
  'agent0 tool-server [--recipe R [--set k=v ...]] [--tool NAME ...] [--options JSON] [--host H] [--port P] ' +
  '[--workers N] [--max-concurrency N] [--request-timeout-ms T] [--done-if-invalid] [--idle-trajectory-s S] [--max-body-mb M] ' +
  '[--max-total-body-mb 256] [--max-items 16384] [--api-key-env VAR] [--observation-format [TOOL=]FORMAT ...]';

const TOOL_SERVER_OPTIONS = {
  recipe: { type: 'string', value: 'R', description: 'serve tool instances of this recipe (one session per worker)' },
  set: {
    type: 'string',
    multiple: true,
    value: 'PATH=VALUE',
    description: 'override one recipe value (dotted path, YAML value); repeatable',
  },
  tool: {
    type: 'string',
    multiple: true,
    value: 'NAME',
    description:
      'with --recipe: an instance (default: every tool/); without: a tool component (python, sandbox-fusion, ...)',
  },
  options: { type: 'string', value: 'JSON', description: 'options of the one --tool component, without --recipe' },
  host: {
    type: 'string',
    value: 'H',
    description: 'address to listen on (default: 127.0.0.1); set --api-key-env before a non-loopback one',
  },
  port: { type: 'string', value: 'P', description: 'TCP port (default: 5000; 0 picks a free one)' },
  workers: { type: 'string', value: 'N', description: 'independent tool sets calls are spread over (default: 1)' },
  'max-concurrency': { type: 'string', value: 'N', description: 'tool calls running at once (default: 64)' },
  'request-timeout-ms': {
    type: 'string',
    value: 'T',
    description: 'deadline per request; tools are cancelled past it (default: 60000)',
  },
  'done-if-invalid': {
    type: 'boolean',
    description: "an action no tool recognises ends the trajectory (VeRL-Tool's done_if_invalid)",
  },
  'idle-trajectory-s': {
    type: 'string',
    value: 'S',
    description: "free a trajectory's state after S idle seconds (default: 600; 0: never)",
  },
  'max-body-mb': { type: 'string', value: 'M', description: 'largest request body in MiB (default: 64; 413 beyond)' },
  'max-total-body-mb': {
    type: 'string',
    value: 'M',
    description: 'request bodies being read at once in MiB (default: 256; 503 beyond)',
  },
  'max-items': { type: 'string', value: 'N', description: 'actions per request (default: 16384; 413 beyond)' },
  'api-key-env': {
    type: 'string',
    value: 'VAR',
    description: 'require Authorization: Bearer $VAR on every route but /health',
  },
  'observation-format': {
    type: 'string',
    multiple: true,
    value: '[TOOL=]FORMAT',
    description: `how observations are written, for every tool or one: ${OBSERVATION_FORMATS_HELP}`,
  },
} satisfies CliOptions;

function intArg(v: string | undefined, name: string, def: number, min: number): number {
  if (v === undefined) return def;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) throw new UsageError(`--${name}: expected an integer >= ${min}, found '${v}'`);
  return n;
}

class UsageError extends Error {}

/** `--observation-format FORMAT` (every tool) and `--observation-format TOOL=FORMAT` (one tool). */
function observationFormats(
  values: string[],
  tools: string[],
): { observationFormat?: string; toolObservationFormats: Record<string, string> } {
  let observationFormat: string | undefined;
  const toolObservationFormats: Record<string, string> = {};
  for (const v of values) {
    const at = v.indexOf('=');
    const [tool, spec] = at < 0 ? [undefined, v] : [v.slice(0, at), v.slice(at + 1)];
    try {
      parseObservationFormat(spec);
    } catch (e) {
      throw new UsageError(`--observation-format: ${(e as Error).message}`);
    }
    if (tool === undefined) observationFormat = spec;
    else if (!tools.includes(tool))
      throw new UsageError(`--observation-format ${v}: no served tool is named '${tool}' (tools: ${tools.join(', ')})`);
    else toolObservationFormats[tool] = spec;
  }
  return { ...(observationFormat ? { observationFormat } : {}), toolObservationFormats };
}

/**
 * Builds the tool sets (one per worker) and serves them until `signal` aborts. With `--recipe`,
 * `--tool` names instances of the recipe (default: every `tool/...` instance) and each worker is
 * its own session; without, `--tool` names tool components (`sandbox-fusion` or `tool/sandbox-fusion`)
 * built with `--options` (JSON) and schema defaults. Prints one JSON line (url, tools, workers) once
 * listening.
 */
export async function serveTools(args: string[], env: CliEnv, signal: AbortSignal): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({ args, options: TOOL_SERVER_OPTIONS }));
  } catch (e) {
    env.stderr(`${(e as Error).message}\nusage: ${USAGE}`);
    return 2;
  }
  const sessions: Session[] = [];
  const standalone: Tool[] = [];
  try {
    const port = intArg(values.port, 'port', 5000, 0);
    if (port > 65535) throw new UsageError(`--port: expected at most 65535, found ${port}`);
    const workers = intArg(values.workers, 'workers', 1, 1);
    const maxConcurrency = intArg(values['max-concurrency'], 'max-concurrency', 64, 1);
    const requestTimeoutMs = intArg(values['request-timeout-ms'], 'request-timeout-ms', 60_000, 1);
    const idleTrajectoryMs = intArg(values['idle-trajectory-s'], 'idle-trajectory-s', 600, 0) * 1000;
    const maxBodyBytes = intArg(values['max-body-mb'], 'max-body-mb', 64, 1) * 1024 * 1024;
    const maxTotalBodyBytes = intArg(values['max-total-body-mb'], 'max-total-body-mb', 256, 1) * 1024 * 1024;
    const maxItemsPerRequest = intArg(values['max-items'], 'max-items', 16384, 1);
    const keyVar = values['api-key-env'];
    const apiKey = keyVar === undefined ? undefined : process.env[keyVar];
    if (keyVar !== undefined && !apiKey)
      throw new UsageError(`--api-key-env names '${keyVar}', which is not set in the environment`);
    const host = values.host ?? '127.0.0.1';
    const exposed = unprotectedExposure(host, apiKey, '--api-key-env');
    if (exposed) throw new UsageError(exposed);
    const sets: ToolSet[] = [];
    if (values.recipe) {
      if (values.options)
        throw new UsageError(
          '--options applies without --recipe; with a recipe, use --set components.NAME.options.KEY=VALUE',
        );
      const recipe = await env.loadRecipe(values.recipe, values.set ?? []);
      const names =
        values.tool ??
        Object.entries(recipe.components)
          .filter(([, c]) => c.use.startsWith('tool/'))
          .map(([n]) => n);
      if (names.length === 0) throw new UsageError(`${values.recipe} defines no tool instance; name one with --tool`);
      for (const n of names) {
        const spec = recipe.components[n];
        if (!spec)
          throw new UsageError(
            `--tool ${n}: the recipe has no instance '${n}' (its instances: ${Object.keys(recipe.components).join(', ') || 'none'})`,
          );
        if (!spec.use.startsWith('tool/')) throw new UsageError(`--tool ${n}: '${n}' is a ${spec.use}, not a tool`);
      }
      for (let w = 0; w < workers; w++) {
        const s = await env.openSession(recipe);
        sessions.push(s);
        sets.push(await Promise.all(names.map((n) => s.get(n, 'tool'))));
      }
    } else {
      if (!values.tool || values.tool.length === 0)
        throw new UsageError('name the tools to serve: --tool sandbox-fusion (a tool component), or --recipe R');
      if (values.set)
        throw new UsageError('--set needs --recipe; without one, pass component options with --options JSON');
      let options: Record<string, unknown> = {};
      if (values.options) {
        try {
          options = JSON.parse(values.options) as Record<string, unknown>;
        } catch (e) {
          throw new UsageError(`--options: not valid JSON (${(e as Error).message})`);
        }
        if (typeof options !== 'object' || options === null || Array.isArray(options))
          throw new UsageError('--options: expected a JSON object');
        if (values.tool.length > 1)
          throw new UsageError('--options applies to a single --tool; use a recipe to configure several tools');
      }
      for (let w = 0; w < workers; w++) {
        const set: Tool[] = [];
        for (const n of values.tool) {
          const t = await env.createComponent('tool', n.replace(/^tool\//, ''), options);
          standalone.push(t);
          set.push(t);
        }
        sets.push(set);
      }
    }
    const formats = observationFormats(
      values['observation-format'] ?? [],
      sets[0].map((t) => t.name),
    );
    const handle = await startToolServer(sets, {
      host,
      port,
      maxConcurrency,
      requestTimeoutMs,
      doneIfInvalid: values['done-if-invalid'] ?? false,
      idleTrajectoryMs,
      maxBodyBytes,
      maxTotalBodyBytes,
      maxItemsPerRequest,
      ...(apiKey ? { apiKey } : {}),
      ...formats,
      log: env.log,
    });
    env.log.info(
      `tool-server: serving ${handle.dispatcher.toolNames.join(', ')} (${workers} worker(s), ${maxConcurrency} concurrent calls) on ${handle.url}/get_observation`,
    );
    env.stdout(
      JSON.stringify({
        url: handle.url,
        endpoint: `${handle.url}/get_observation`,
        tools: handle.dispatcher.toolNames,
        workers,
        observationFormats: handle.dispatcher.observationFormats,
      }),
    );
    await new Promise<void>((r) =>
      signal.aborted ? r() : signal.addEventListener('abort', () => r(), { once: true }),
    );
    env.log.info('tool-server: stopping');
    await handle.close();
    return 0;
  } catch (e) {
    if (e instanceof UsageError) {
      env.stderr(`tool-server: ${e.message}\nusage: ${USAGE}`);
      return 2;
    }
    if (e instanceof RecipeError) {
      env.stderr(e.message);
      return 2;
    }
    const err = e as Error & { code?: string };
    if (err.code === 'EADDRINUSE' || err.code === 'EACCES') {
      env.stderr(`tool-server: cannot listen: ${err.message}`);
      return 1;
    }
    if (e instanceof RegistryError) {
      env.stderr(`tool-server: ${err.message}`);
      return 2;
    }
    throw e;
  } finally {
    await Promise.all(
      standalone.map(async (t) => {
        try {
          await t.dispose?.();
        } catch {
          /* already reported by the tool */
        }
      }),
    );
    await Promise.all(sessions.map((s) => s.close()));
  }
}

export const toolServerCommand: CliCommand = {
  name: 'tool-server',
  summary: "serve tools over HTTP with VeRL-Tool's contract (POST /get_observation, GET /health, GET /metrics)",
  usage: USAGE,
  options: TOOL_SERVER_OPTIONS,
  async run(args, env) {
    const ac = new AbortController();
    const stop = () => ac.abort();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    try {
      return await serveTools(args, env, ac.signal);
    } finally {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
    }
  },
};
