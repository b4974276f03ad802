import os from 'node:os';
import path from 'node:path';
import { promises as fs } from 'node:fs';
import type { ComponentTypes } from '../contracts/component.js';
import type { ComponentKind } from '../contracts/kinds.js';
import type { Plugin } from '../plugin/define.js';
import { importPlugin } from '../plugin/loader.js';
import { Registry } from '../plugin/registry.js';
import { RecipeError } from '../recipe/errors.js';
import { loadRecipe, recipePlugins } from '../recipe/load.js';
import type { ResolvedRecipe } from '../recipe/types.js';
import { ajvProblems, compileOptions } from '../recipe/validate.js';
import { RunDir } from '../run/run-dir.js';
import { RunSession } from '../run/session.js';
import { Logger } from '../util/logger.js';
import type { CliEnv, Session } from './command.js';

/**
 * A registry with the given plugins plus the third-party plugins named by specs; a spec whose
 * plugin is already there (a recipe naming one the CLI loaded) is not registered twice.
 */
export async function createRegistry(builtins: readonly Plugin[], pluginSpecs: readonly string[] = [], fromDirs: string[] = [process.cwd()]): Promise<Registry> {
  const registry = new Registry();
  for (const p of builtins) registry.register(p);
  for (const spec of pluginSpecs) {
    const p = await importPlugin(spec, fromDirs);
    if (!registry.pluginMetas().some((m) => m.name === p.meta?.name)) registry.register(p);
  }
  return registry;
}

export interface EnvOptions {
  builtins: readonly Plugin[];
  /** Third-party plugins the CLI loaded before the command (`--plugin`, AGENT0_PLUGINS, package.json). */
  plugins?: readonly Plugin[];
  /** Where AGENT0_PLUGINS is read (process.env by default). */
  environment?: Record<string, string | undefined>;
  cwd?: string;
  log?: Logger;
  stdout?: (s: string) => void;
  stderr?: (s: string) => void;
}

export class DefaultCliEnv implements CliEnv {
  readonly cwd: string;
  readonly log: Logger;
  constructor(public registry: Registry, private readonly opts: EnvOptions) {
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
        this.registry = await createRegistry([...this.opts.builtins, ...(this.opts.plugins ?? [])], specs, [recipeDir, this.cwd]);
      } catch (e) {
        throw new RecipeError([{ source: path.relative(this.cwd, path.resolve(this.cwd, file)), path: 'plugins', message: (e as Error).message }]);
      }
    }
    return loadRecipe(file, this.registry, sets, this.cwd);
  }

  async openSession(recipe: ResolvedRecipe, opts: { runDir?: string } = {}): Promise<Session> {
    const dir = opts.runDir ?? (await fs.mkdtemp(path.join(os.tmpdir(), 'agent0-session-')));
    const session = new RunSession(recipe, this.registry, { runDir: new RunDir(dir), log: this.log });
    await session.attachSinks();
    return session;
  }

  async createComponent<K extends ComponentKind>(kind: K, name: string, options: Record<string, unknown> = {}): Promise<ComponentTypes[K]> {
    const def = this.registry.get(`${kind}/${name}`).def;
    const opts = structuredClone(options);
    const v = compileOptions(def);
    if (!v(opts)) throw new RecipeError(ajvProblems(v.errors ?? [], opts, [`${kind}/${name}`]));
    const recipe: ResolvedRecipe = {
      name: `${kind}-${name}`, seed: 0, plugins: [], components: { [name]: { use: `${kind}/${name}`, options: opts } },
      pipeline: { iterations: 0, setup: [], loop: [], teardown: [] }, provenance: { files: [], sets: [] },
    };
    const session = await this.openSession(recipe);
    return session.get(name, kind);
  }
}
