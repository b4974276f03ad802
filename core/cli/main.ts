import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { RecipeError } from '../recipe/errors.js';
import { runPipeline } from '../run/pipeline.js';
import type { CliCommand } from './command.js';
import { createRegistry, DefaultCliEnv, type EnvOptions } from './env.js';

export function packageVersion(): string {
  try {
    const here = path.dirname(fileURLToPath(import.meta.url));
    for (const up of ['../..', '../../..']) {
      try {
        return (JSON.parse(readFileSync(path.join(here, up, 'package.json'), 'utf8')) as { version: string }).version;
      } catch { /* try the next level (dist/ adds one) */ }
    }
  } catch { /* fall through */ }
  return 'unknown';
}

const CORE_COMMANDS: CliCommand[] = [
  {
    name: 'validate',
    summary: 'check a recipe (extends, --set, option schemas) without running it',
    usage: 'agent0 validate <recipe> [--set k=v ...]',
    async run(args, env) {
      const { positionals, values } = parseArgs({ args, allowPositionals: true, options: { set: { type: 'string', multiple: true } } });
      if (positionals.length !== 1) { env.stderr(`usage: ${this.usage}`); return 2; }
      try {
        const r = await env.loadRecipe(positionals[0] as string, values.set ?? []);
        env.stdout(`${positionals[0]}: valid (${Object.keys(r.components).length} components, ${r.pipeline.setup.length + r.pipeline.loop.length + r.pipeline.teardown.length} stages, ${r.pipeline.iterations} iterations)`);
        return 0;
      } catch (e) {
        if (e instanceof RecipeError) { env.stderr(e.message); return 2; }
        throw e;
      }
    },
  },
  {
    name: 'plugins',
    summary: 'list every registered component with its options',
    usage: 'agent0 plugins [--json] [--recipe R]',
    async run(args, env) {
      const { values } = parseArgs({ args, options: { json: { type: 'boolean' }, recipe: { type: 'string' } } });
      if (values.recipe) await env.loadRecipe(values.recipe);
      const rows = env.registry.list();
      if (values.json) {
        env.stdout(JSON.stringify(rows.map((r) => ({ id: r.id, kind: r.def.kind, description: r.def.description, plugin: r.plugin.name, options: r.def.options })), null, 2));
        return 0;
      }
      for (const r of rows) {
        env.stdout(`${r.id.padEnd(36)} ${r.def.description}  [${r.plugin.name}]`);
        const props = (r.def.options as { properties?: Record<string, { type?: unknown; default?: unknown; description?: string }> }).properties ?? {};
        for (const [k, s] of Object.entries(props)) {
          const def = s.default === undefined ? '' : ` = ${JSON.stringify(s.default)}`;
          env.stdout(`    ${k}: ${Array.isArray(s.type) ? s.type.join('|') : (s.type ?? 'any')}${def}${s.description ? `  — ${s.description}` : ''}`);
        }
      }
      return 0;
    },
  },
  {
    name: 'run',
    summary: 'run a recipe\'s pipeline (resumable)',
    usage: 'agent0 run <recipe> [--set k=v ...] [--run-dir DIR] [--resume]',
    async run(args, env) {
      const { positionals, values } = parseArgs({ args, allowPositionals: true, options: { set: { type: 'string', multiple: true }, 'run-dir': { type: 'string' }, resume: { type: 'boolean' } } });
      if (positionals.length !== 1) { env.stderr(`usage: ${this.usage}`); return 2; }
      let recipe;
      try {
        recipe = await env.loadRecipe(positionals[0] as string, values.set ?? []);
      } catch (e) {
        if (e instanceof RecipeError) { env.stderr(e.message); return 2; }
        throw e;
      }
      const runDir = values['run-dir'] ?? path.join('runs', recipe.name);
      const ac = new AbortController();
      const onSig = () => { env.log.warn('interrupted: finishing the current step, then stopping (state is saved; rerun with --resume)'); ac.abort(new Error('interrupted')); };
      process.once('SIGINT', onSig);
      process.once('SIGTERM', onSig);
      try {
        const res = await runPipeline(recipe, env.registry, { runDir, resume: values.resume, log: env.log, signal: ac.signal, version: packageVersion() });
        env.log.info(`run finished: ${res.executed.length} stage(s) run, ${res.skipped.length} skipped (already done); outputs in ${res.runDir}`);
        env.stdout(JSON.stringify({ runDir: res.runDir, executed: res.executed, skipped: res.skipped }));
        return 0;
      } finally {
        process.off('SIGINT', onSig);
        process.off('SIGTERM', onSig);
      }
    },
  },
];

function help(commands: CliCommand[]): string {
  const lines = ['agent0 — self-evolving tool-integrated agents (Agent0) as a plugin framework', '', 'usage:'];
  for (const c of commands) lines.push(`  ${c.usage.padEnd(64)} ${c.summary}`);
  return lines.join('\n');
}

/** Longest command name that prefixes argv ('bench engine' before 'bench'). */
export function matchCommand(commands: CliCommand[], argv: string[]): { command: CliCommand; rest: string[] } | undefined {
  let best: { command: CliCommand; rest: string[] } | undefined;
  for (const c of commands) {
    const words = c.name.split(' ');
    if (words.every((w, i) => argv[i] === w) && (!best || words.length > best.command.name.split(' ').length)) {
      best = { command: c, rest: argv.slice(words.length) };
    }
  }
  return best;
}

/** `bench all` runs every contributed 'bench <x>' command in turn. */
function benchAll(commands: CliCommand[]): CliCommand {
  return {
    name: 'bench all',
    summary: 'run every benchmark',
    usage: 'agent0 bench all [--json]',
    async run(args, env) {
      let code = 0;
      for (const c of commands.filter((x) => x.name.startsWith('bench ') && x.name !== 'bench all')) {
        env.stderr(`== ${c.name}`);
        code = Math.max(code, await c.run(args, env));
      }
      return code;
    },
  };
}

/** The CLI, with the built-in plugins passed in (core never imports plugins). Returns the exit code. */
export async function main(argv: string[], opts: EnvOptions): Promise<number> {
  let registry;
  try {
    registry = await createRegistry(opts.builtins);
  } catch (e) {
    (opts.stderr ?? ((s) => process.stderr.write(s)))(`agent0: ${(e as Error).message}\n`);
    return 1;
  }
  const env = new DefaultCliEnv(registry, opts);
  const contributed = opts.builtins.flatMap((p) => p.commands ?? []);
  const commands = [...CORE_COMMANDS, ...contributed];
  commands.push(benchAll(commands));
  if (argv.length === 0 || argv[0] === 'help' || argv[0] === '--help' || argv[0] === '-h') {
    env.stdout(help(commands));
    return argv.length === 0 ? 2 : 0;
  }
  if (argv[0] === '--version') { env.stdout(packageVersion()); return 0; }
  const m = matchCommand(commands, argv);
  if (!m) {
    env.stderr(`agent0: unknown command '${argv.join(' ')}'\n\n${help(commands)}`);
    return 2;
  }
  try {
    return await m.command.run(m.rest, env);
  } catch (e) {
    if (e instanceof RecipeError) { env.stderr(e.message); return 2; }
    const err = e as Error;
    env.stderr(`agent0 ${m.command.name}: ${err.message}`);
    if (process.env.AGENT0_DEBUG) env.stderr(err.stack ?? '');
    return 1;
  }
}
