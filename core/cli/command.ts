import type { ComponentKind } from '../contracts/kinds.js';
import type { ComponentContext, ComponentTypes } from '../contracts/component.js';
import type { Registry } from '../plugin/registry.js';
import type { Logger } from '../util/logger.js';
import type { ResolvedRecipe } from '../recipe/types.js';
import type { CliOptions } from './help.js';

/** An open set of component instances built from a recipe, without running its stages. */
export interface Session {
  readonly recipe: ResolvedRecipe;
  readonly context: ComponentContext;
  get<K extends ComponentKind>(name: string, kind: K): Promise<ComponentTypes[K]>;
  /** Disposes every instance built so far and the child container. */
  close(): Promise<void>;
}

/** What the CLI hands a plugin-contributed command. */
export interface CliEnv {
  readonly registry: Registry;
  readonly log: Logger;
  readonly cwd: string;
  /** stdout is for the command's machine-readable result; logs go to stderr. */
  stdout(text: string): void;
  stderr(text: string): void;
  /**
   * Loads, merges (`extends`), overrides (`--set`) and validates a recipe; throws RecipeError with located messages.
   */
  loadRecipe(file: string, sets?: string[]): Promise<ResolvedRecipe>;
  /** Opens a session (one child DI container) over a resolved recipe; `runDir` defaults to a temp folder. */
  openSession(recipe: ResolvedRecipe, opts?: { runDir?: string }): Promise<Session>;
  /**
   * Builds one component by id with options validated against its schema (defaults filled),
   * outside any recipe (e.g. `agent0 sandbox exec` without `--recipe`). Dispose it yourself.
   */
  createComponent<K extends ComponentKind>(
    kind: K,
    name: string,
    options?: Record<string, unknown>,
  ): Promise<ComponentTypes[K]>;
}

/**
 * A CLI subcommand contributed by a plugin. `name` may have spaces ('bench engine', 'sandbox exec'):
 * the CLI matches the longest name that prefixes argv. Returns the process exit code.
 */
export interface CliCommand {
  name: string;
  summary: string;
  usage: string;
  /**
   * Every option the command takes, with a description: `agent0 <name> --help` prints them (the CLI
   * answers `-h`/`--help` itself, before `run`). Pass the same object to `parseArgs`.
   */
  options?: CliOptions;
  /** Paragraphs `--help` prints after the summary (operands, examples). */
  details?: string;
  run(args: string[], env: CliEnv): Promise<number>;
}
