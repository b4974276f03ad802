import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { RecipeError } from '../recipe/errors.js';
import { defaultRunDir } from '../run/layout.js';
import { runPipeline } from '../run/pipeline.js';
import type { Plugin } from '../plugin/define.js';
import { isLazyPlugin, type LazyCommand, type LazyPlugin } from '../plugin/lazy.js';
import type { CliCommand } from './command.js';
import { createRegistry, DefaultCliEnv, type EnvOptions } from './env.js';
import { commandHelp, wantsHelp, type CliOption, type CliOptions } from './help.js';
import { cliPluginSources, loadCliPlugins, recipePluginSources } from './plugins.js';

export function packageVersion(): string {
  try {
    const here = path.dirname(fileURLToPath(import.meta.url));
    for (const up of ['../..', '../../..']) {
      try {
        return (JSON.parse(readFileSync(path.join(here, up, 'package.json'), 'utf8')) as { version: string }).version;
      } catch {
        /* try the next level (dist/ adds one) */
      }
    }
  } catch {
    /* fall through */
  }
  return 'unknown';
}

const SET = {
  type: 'string',
  multiple: true,
  value: 'PATH=VALUE',
  description: 'override one recipe value (dotted path, YAML value); repeatable',
} satisfies CliOption;
const VALIDATE_OPTIONS = { set: SET } satisfies CliOptions;
const PLUGINS_OPTIONS = {
  json: { type: 'boolean', description: 'print the list as JSON (id, kind, description, plugin, options schema)' },
  recipe: {
    type: 'string',
    value: 'R',
    description: 'also load the third-party plugins the recipe names under plugins:',
  },
} satisfies CliOptions;
const RUN_OPTIONS = {
  set: SET,
  'run-dir': { type: 'string', value: 'DIR', description: 'the run folder (default: runs/<recipe name>)' },
  resume: { type: 'boolean', description: 'continue a stopped run from its state.json, skipping finished stages' },
} satisfies CliOptions;

const CORE_COMMANDS: CliCommand[] = [
  {
    name: 'validate',
    summary: 'check a recipe (extends, --set, option schemas) without running it',
    usage: 'agent0 validate <recipe> [--set k=v ...]',
    options: VALIDATE_OPTIONS,
    async run(args, env) {
      const { positionals, values } = parseArgs({ args, allowPositionals: true, options: VALIDATE_OPTIONS });
      if (positionals.length !== 1) {
        env.stderr(`usage: ${this.usage}`);
        return 2;
      }
      try {
        const r = await env.loadRecipe(positionals[0] as string, values.set ?? []);
        env.stdout(
          `${positionals[0]}: valid (${Object.keys(r.components).length} components, ${r.pipeline.setup.length + r.pipeline.loop.length + r.pipeline.teardown.length} stages, ${r.pipeline.iterations} iterations)`,
        );
        return 0;
      } catch (e) {
        if (e instanceof RecipeError) {
          env.stderr(e.message);
          return 2;
        }
        throw e;
      }
    },
  },
  {
    name: 'plugins',
    summary: 'list every registered component with its options',
    usage: 'agent0 plugins [--json] [--recipe R]',
    options: PLUGINS_OPTIONS,
    async run(args, env) {
      const { values } = parseArgs({ args, options: PLUGINS_OPTIONS });
      if (values.recipe) await env.loadRecipe(values.recipe);
      await env.registry.loadAll();
      const rows = env.registry.list();
      if (values.json) {
        env.stdout(
          JSON.stringify(
            rows.map((r) => ({
              id: r.id,
              kind: r.def.kind,
              description: r.def.description,
              plugin: r.plugin.name,
              options: r.def.options,
            })),
            null,
            2,
          ),
        );
        return 0;
      }
      for (const r of rows) {
        env.stdout(`${r.id.padEnd(36)} ${r.def.description}  [${r.plugin.name}]`);
        const props =
          (
            r.def.options as {
              properties?: Record<string, { type?: unknown; default?: unknown; description?: string }>;
            }
          ).properties ?? {};
        for (const [k, s] of Object.entries(props)) {
          const def = s.default === undefined ? '' : ` = ${JSON.stringify(s.default)}`;
          env.stdout(
            `    ${k}: ${Array.isArray(s.type) ? s.type.join('|') : (s.type ?? 'any')}${def}${s.description ? `  — ${s.description}` : ''}`,
          );
        }
      }
      return 0;
    },
  },
  {
    name: 'run',
    summary: "run a recipe's pipeline (resumable)",
    usage: 'agent0 run <recipe> [--set k=v ...] [--run-dir DIR] [--resume]',
    options: RUN_OPTIONS,
    async run(args, env) {
      const { positionals, values } = parseArgs({ args, allowPositionals: true, options: RUN_OPTIONS });
      if (positionals.length !== 1) {
        env.stderr(`usage: ${this.usage}`);
        return 2;
      }
      let recipe;
      try {
        recipe = await env.loadRecipe(positionals[0] as string, values.set ?? []);
      } catch (e) {
        if (e instanceof RecipeError) {
          env.stderr(e.message);
          return 2;
        }
        throw e;
      }
      const runDir = values['run-dir'] ?? defaultRunDir(recipe.name);
      const ac = new AbortController();
      const onSig = () => {
        env.log.warn('interrupted: finishing the current step, then stopping (state is saved; rerun with --resume)');
        ac.abort(new Error('interrupted'));
      };
      process.once('SIGINT', onSig);
      process.once('SIGTERM', onSig);
      try {
        const res = await runPipeline(recipe, env.registry, {
          runDir,
          resume: values.resume,
          log: env.log,
          signal: ac.signal,
          version: packageVersion(),
        });
        env.log.info(
          `run finished: ${res.executed.length} stage(s) run, ${res.skipped.length} skipped (already done); outputs in ${res.runDir}`,
        );
        env.stdout(JSON.stringify({ runDir: res.runDir, executed: res.executed, skipped: res.skipped }));
        return 0;
      } finally {
        process.off('SIGINT', onSig);
        process.off('SIGTERM', onSig);
      }
    },
  },
];

/** A command with the plugin that contributed it (for `--help` and name clashes). */
export interface Contributed {
  command: CliCommand;
  plugin: string;
  /** For a lazy plugin's command: imports the plugin and returns the command itself. */
  resolve?: () => Promise<CliCommand>;
}

const GLOBAL_USAGE = 'agent0 [--plugin SPEC ...] <command> [options]   (agent0 <command> --help for its options)';

function help(commands: Contributed[], thirdParty: ReadonlySet<string>): string {
  const lines = [
    'agent0 — self-evolving tool-integrated agents (Agent0) as a plugin framework',
    '',
    `usage: ${GLOBAL_USAGE}`,
    '',
    'commands:',
  ];
  const width = Math.max(...commands.map((c) => c.command.name.length)) + 2;
  for (const { command: c, plugin } of commands) {
    lines.push(`  ${c.name.padEnd(width)}${c.summary}${thirdParty.has(plugin) ? `  [${plugin}]` : ''}`);
  }
  lines.push(
    '',
    'global options:',
    '  --plugin SPEC    load a third-party plugin (npm package or path) and its commands; repeatable.',
    '                   AGENT0_PLUGINS (comma-separated) and "agent0": {"plugins": [...]} in the',
    "                   project's package.json name plugins too",
    '  --version        print the version',
    '  -h, --help       show this help',
  );
  return lines.join('\n');
}

/** Longest command name that prefixes argv ('bench engine' before 'bench'). */
export function matchCommand(
  commands: CliCommand[],
  argv: string[],
): { command: CliCommand; rest: string[] } | undefined {
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
    options: { json: { type: 'boolean', description: 'passed on to every benchmark: print results as JSON' } },
    details: `runs, in turn: ${commands
      .filter((x) => x.name.startsWith('bench '))
      .map((x) => x.name)
      .join(', ')}`,
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

/** A lazy plugin's command as its manifest lists it: running it imports the plugin first. */
function lazyCommand(p: LazyPlugin, listed: LazyCommand): Contributed {
  let found: Promise<CliCommand> | undefined;
  const resolve = () =>
    (found ??= p.load().then((plugin) => {
      const c = (plugin.commands ?? []).find((x) => x.name === listed.name);
      if (!c)
        throw new Error(
          `plugin '${p.meta.name}' lists the command '${listed.name}' in its manifest but its module does not contribute it`,
        );
      return c;
    }));
  const command: CliCommand = {
    name: listed.name,
    summary: listed.summary,
    usage: `agent0 ${listed.name} ...`,
    async run(args, env) {
      return (await resolve()).run(args, env);
    },
  };
  return { command, plugin: p.meta.name, resolve };
}

/** Every command once; two plugins (or a plugin and core) giving one name is an error. */
export function collectCommands(plugins: readonly (Plugin | LazyPlugin)[]): Contributed[] {
  const all: Contributed[] = CORE_COMMANDS.map((command) => ({ command, plugin: 'agent0' }));
  for (const p of plugins) {
    const contributed = isLazyPlugin(p)
      ? (p.commands ?? []).map((c) => lazyCommand(p, c))
      : (p.commands ?? []).map((command) => ({ command, plugin: p.meta.name }));
    for (const c of contributed) {
      const clash = all.find((x) => x.command.name === c.command.name);
      if (clash)
        throw new Error(
          `plugin '${p.meta.name}' contributes the command '${c.command.name}', which '${clash.plugin}' already provides`,
        );
      all.push(c);
    }
  }
  if (!all.some((c) => c.command.name === 'bench all'))
    all.push({ command: benchAll(all.map((c) => c.command)), plugin: 'agent0' });
  return all;
}

/** Leading global flags (before the command's name). */
function globalFlags(argv: string[]): { plugins: string[]; rest: string[] } {
  const plugins: string[] = [];
  let i = 0;
  for (; i < argv.length; i++) {
    const a = argv[i] as string;
    if (a === '--plugin') {
      const v = argv[++i];
      if (v === undefined || v.startsWith('-'))
        throw new Error('--plugin needs a value: an npm package name or a path');
      plugins.push(v);
    } else if (a.startsWith('--plugin=')) {
      plugins.push(a.slice('--plugin='.length));
    } else {
      break;
    }
  }
  return { plugins, rest: argv.slice(i) };
}

/**
 * The CLI, with the built-in plugins passed in (core never imports plugins); third-party plugins
 * come from `--plugin`, AGENT0_PLUGINS and package.json before the command is picked, so their
 * commands run like built-in ones. Returns the exit code.
 */
export async function main(argv: string[], opts: EnvOptions): Promise<number> {
  const stderr = opts.stderr ?? ((s: string) => process.stderr.write(s));
  const cwd = opts.cwd ?? process.cwd();
  let registry;
  let commands: Contributed[];
  let thirdParty: Plugin[];
  let rest: string[];
  try {
    const flags = globalFlags(argv);
    rest = flags.rest;
    thirdParty = [
      ...(opts.plugins ?? []),
      ...(await loadCliPlugins(
        cliPluginSources(flags.plugins, cwd, opts.environment ?? process.env),
        opts.beforePluginImport,
      )),
    ];
    registry = await createRegistry([...opts.builtins, ...thirdParty]);
    commands = collectCommands([...opts.builtins, ...thirdParty]);
    if (
      !matchCommand(
        commands.map((c) => c.command),
        rest[0] === 'help' ? rest.slice(1) : rest,
      )
    ) {
      // an unknown command may come from a plugin its --recipe names under plugins:
      const fromRecipe = await loadCliPlugins(
        await recipePluginSources(rest, cwd),
        opts.beforePluginImport,
        thirdParty,
      );
      if (fromRecipe.length > 0) {
        thirdParty = [...thirdParty, ...fromRecipe];
        registry = await createRegistry([...opts.builtins, ...thirdParty]);
        commands = collectCommands([...opts.builtins, ...thirdParty]);
      }
    }
  } catch (e) {
    stderr(`agent0: ${(e as Error).message}\n`);
    return 2;
  }
  const env = new DefaultCliEnv(registry, { ...opts, plugins: thirdParty });
  const names = new Set(thirdParty.map((p) => p.meta.name));
  const list = commands.map((c) => c.command);
  /** The command itself (a lazy plugin's is imported now). */
  const real = (c: CliCommand) => commands.find((x) => x.command === c)?.resolve?.() ?? Promise.resolve(c);
  if (rest.length === 0 || rest[0] === '--help' || rest[0] === '-h') {
    env.stdout(help(commands, names));
    return rest.length === 0 ? 2 : 0;
  }
  if (rest[0] === '--version') {
    env.stdout(packageVersion());
    return 0;
  }
  if (rest[0] === 'help') {
    const m = matchCommand(list, rest.slice(1));
    if (rest.length > 1 && !m) {
      env.stderr(`agent0: unknown command '${rest.slice(1).join(' ')}'`);
      return 2;
    }
    env.stdout(m ? commandHelp(await real(m.command)) : help(commands, names));
    return 0;
  }
  const m = matchCommand(list, rest);
  if (!m) {
    // a group's first word ('agent0 bench'): list its commands
    const group = commands.filter((c) => c.command.name.startsWith(`${rest[0]} `));
    if (group.length > 0 && (rest.length === 1 || wantsHelp(rest.slice(1)))) {
      env.stdout(help(group, names));
      return rest.length === 1 ? 2 : 0;
    }
    env.stderr(`agent0: unknown command '${rest.join(' ')}'\n\n${help(commands, names)}`);
    return 2;
  }
  let command = m.command;
  try {
    command = await real(m.command);
    if (wantsHelp(m.rest)) {
      env.stdout(commandHelp(command));
      return 0;
    }
    return await command.run(m.rest, env);
  } catch (e) {
    if (e instanceof RecipeError) {
      env.stderr(e.message);
      return 2;
    }
    const err = e as Error;
    if ((err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      env.stderr(
        `agent0 ${command.name}: ${err.message}\nusage: ${command.usage}\n(agent0 ${command.name} --help lists the options)`,
      );
      return 2;
    }
    env.stderr(`agent0 ${command.name}: ${err.message}`);
    if (process.env.AGENT0_DEBUG) env.stderr(err.stack ?? '');
    return 1;
  }
}
