import os from 'node:os';
import path from 'node:path';
import { promises as fs } from 'node:fs';
import type { ComponentTypes } from '../contracts/component.js';
import type { ComponentKind } from '../contracts/kinds.js';
import type { Plugin } from '../plugin/define.js';
import type { LazyPlugin } from '../plugin/lazy.js';
import { importPlugin } from '../plugin/loader.js';
import { Registry } from '../plugin/registry.js';
import { RecipeError } from '../recipe/errors.js';
import { loadRecipe, recipePlugins, recipeUses } from '../recipe/load.js';
import type { ResolvedRecipe } from '../recipe/types.js';
import { fillOptions } from '../recipe/validate.js';
import { RunDir } from '../run/run-dir.js';
import { RunSession } from '../run/session.js';
import { Logger } from '../util/logger.js';
import type { CliEnv, Session } from './command.js';

/**
 * A registry with the given plugins plus the third-party plugins named by specs; a spec whose
 * plugin is already there (a recipe naming one the CLI loaded) is not registered twice.
 * `beforeImport` runs before the first spec is imported (see EnvOptions.beforePluginImport).
 */
export async function createRegistry(
  builtins: readonly (Plugin | LazyPlugin)[],
  pluginSpecs: readonly string[] = [],
  fromDirs: string[] = [process.cwd()],
  beforeImport?: () => Promise<void>,
): Promise<Registry> {
  const registry = new Registry();
  for (const p of builtins) registry.register(p);
  if (pluginSpecs.length > 0) await beforeImport?.();
  for (const spec of pluginSpecs) {
    const p = await importPlugin(spec, fromDirs);
    if (!registry.pluginMetas().some((m) => m.name === p.meta?.name)) registry.register(p);
  }
  return registry;
}

export interface EnvOptions {
  /** Plugin objects, or lazy ones (imported when a recipe or command needs one of their components). */
  builtins: readonly (Plugin | LazyPlugin)[];
  /** Third-party plugins the CLI loaded before the command (`--plugin`, AGENT0_PLUGINS, package.json). */
  plugins?: readonly Plugin[];
  /** Where AGENT0_PLUGINS is read (process.env by default). */
  environment?: Record<string, string | undefined>;
  /**
   * Runs once before a third-party plugin is imported. The CLI registers the tfjs backends there,
   * so a third-party tensor component meets the backends it met when every built-in loaded at start.
   */
  beforePluginImport?: () => Promise<void>;
  cwd?: string;
  log?: Logger;
  stdout?: (s: string) => void;
  stderr?: (s: string) => void;
}

export class DefaultCliEnv implements CliEnv {
  readonly cwd: string;
  readonly log: Logger;
  constructor(
    public registry: Registry,
    private readonly opts: EnvOptions,
  ) {
    this.cwd = opts.cwd ?? process.cwd();
    this.log = opts.log ?? new Logger();
  }
  stdout(text: string): void {
    (this.opts.stdout ?? ((s) => process.stdout.write(s)))(text.endsWith('\n') ? text : `${text}\n`);
  }
  stderr(text: string): void {
    (this.opts.stderr ?? ((s) => process.stderr.write(s)))(text.endsWith('\n') ? text : `${text}\n`);
  }

  /** Loads the recipe's third-party plugins into a fresh registry, then validates the recipe against it. */
  async loadRecipe(file: string, sets: string[] = []): Promise<ResolvedRecipe> {
    const specs = await recipePlugins(file, sets, this.cwd);
    if (specs.length > 0) {
      const recipeDir = path.dirname(path.resolve(this.cwd, file));
      try {
        this.registry = await createRegistry(
          [...this.opts.builtins, ...(this.opts.plugins ?? [])],
          specs,
          [recipeDir, this.cwd],
          this.opts.beforePluginImport,
        );
      } catch (e) {
        throw new RecipeError([
          {
            source: path.relative(this.cwd, path.resolve(this.cwd, file)),
            path: 'plugins',
            message: (e as Error).message,
          },
        ]);
      }
    }
    return loadRecipe(file, this.registry, sets, this.cwd);
  }

  async openSession(recipe: ResolvedRecipe, opts: { runDir?: string } = {}): Promise<Session> {
    await this.registry.load(recipeUses(recipe));
    const dir = opts.runDir ?? (await fs.mkdtemp(path.join(os.tmpdir(), 'agent0-session-')));
    const session = new RunSession(recipe, this.registry, { runDir: new RunDir(dir), log: this.log });
    await session.attachSinks();
    return session;
  }

  async createComponent<K extends ComponentKind>(
    kind: K,
    name: string,
    options: Record<string, unknown> = {},
  ): Promise<ComponentTypes[K]> {
    await this.registry.load([`${kind}/${name}`]);
    const def = this.registry.get(`${kind}/${name}`).def;
    const opts: Record<string, unknown> = fillOptions(def, options);
    const recipe: ResolvedRecipe = {
      name: `${kind}-${name}`,
      seed: 0,
      plugins: [],
      components: { [name]: { use: `${kind}/${name}`, options: opts } },
      pipeline: { iterations: 0, setup: [], loop: [], teardown: [] },
      provenance: { files: [], sets: [] },
    };
    const session = await this.openSession(recipe);
    return session.get(name, kind);
  }
}
