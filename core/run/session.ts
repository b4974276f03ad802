// tsyringe needs the Reflect metadata polyfill loaded before it
import 'reflect-metadata';
import { container as rootContainer, instanceCachingFactory, type DependencyContainer } from 'tsyringe';
import type { ComponentContext, ComponentTypes } from '../contracts/component.js';
import type { ComponentKind } from '../contracts/kinds.js';
import type { MetricRecord, MetricsSink } from '../contracts/metrics.js';
import type { Session } from '../cli/command.js';
import type { Registry } from '../plugin/registry.js';
import type { ResolvedRecipe } from '../recipe/types.js';
import { componentToken, TOKENS } from '../tokens.js';
import { Logger } from '../util/logger.js';
import { lineProgress, type ProgressFactory } from '../util/progress.js';
import { Rng } from '../util/rng.js';
import { loadCommitted } from './checkpoints.js';
import type { RunDir } from './run-dir.js';

export interface SessionOptions {
  runDir: RunDir;
  log?: Logger;
  progress?: ProgressFactory;
  signal?: AbortSignal;
  /** Checkpoint folders (relative to the run dir) to load into instances when they are built. */
  checkpoints?: Record<string, string>;
  /**
   * Parent of the run's container: an embedding application's Logger, Progress or Signal
   * registered there replace the defaults, and a Metrics sink there receives every record
   * beside metrics.jsonl.
   */
  container?: DependencyContainer;
}

interface Disposable {
  dispose(): unknown;
}

/** Writes every metric record to `metrics.jsonl` in the run dir, then to the recipe's own sinks. */
class MetricsFanout implements MetricsSink {
  readonly sinks: MetricsSink[] = [];
  constructor(private readonly runDir: RunDir) {}
  async log(record: MetricRecord): Promise<void> {
    const row = { time: new Date().toISOString(), ...record };
    await this.runDir.appendMetrics([row]);
    for (const s of this.sinks) await s.log(row);
  }
  async flush(): Promise<void> {
    for (const s of this.sinks) await s.flush?.();
  }
}

/**
 * One run's component instances in a tsyringe child container: each `components.<name>` is a
 * lazily built singleton, so two runs in one process never share an instance.
 */
export class RunSession implements Session {
  readonly container: DependencyContainer;
  readonly context: ComponentContext;
  readonly metrics: MetricsFanout;
  private readonly built: { name: string; instance: unknown }[] = [];
  private closed = false;
  private readonly building = new Set<string>();
  private readonly waitsFor = new Map<string, Set<string>>();
  readonly log: Logger;
  readonly progress: ProgressFactory;
  readonly signal: AbortSignal;

  constructor(
    readonly recipe: ResolvedRecipe,
    readonly registry: Registry,
    private readonly opts: SessionOptions,
  ) {
    const parent = opts.container ?? rootContainer;
    const from = <T>(token: symbol): T | undefined =>
      parent.isRegistered(token, true) ? parent.resolve<T>(token) : undefined;
    this.log = opts.log ?? from<Logger>(TOKENS.Logger) ?? new Logger();
    this.progress = opts.progress ?? from<ProgressFactory>(TOKENS.Progress) ?? lineProgress(this.log);
    this.signal = opts.signal ?? from<AbortSignal>(TOKENS.Signal) ?? new AbortController().signal;
    this.metrics = new MetricsFanout(opts.runDir);
    const outer = from<MetricsSink>(TOKENS.Metrics);
    if (outer) this.metrics.sinks.push(outer);
    const c = parent.createChildContainer();
    this.container = c;
    c.register(TOKENS.RunDir, { useValue: opts.runDir });
    c.register(TOKENS.Logger, { useValue: this.log });
    c.register(TOKENS.Metrics, { useValue: this.metrics });
    c.register(TOKENS.Progress, { useValue: this.progress });
    c.register(TOKENS.Signal, { useValue: this.signal });
    for (const name of Object.keys(recipe.components)) {
      c.register(componentToken(name), { useFactory: instanceCachingFactory(() => this.build(name)) });
    }
    this.context = this.makeContext('session');
  }

  /** Attaches the recipe's metrics-sink instances (call once after construction). */
  async attachSinks(): Promise<void> {
    for (const [name, spec] of Object.entries(this.recipe.components)) {
      if (spec.use.startsWith('metrics-sink/')) this.metrics.sinks.push(await this.get(name, 'metrics-sink'));
    }
  }

  /**
   * A component's view of the run. The shared services come from the container, so an embedding
   * application can register its own (e.g. a Metrics sink) in a parent container (`opts.container`).
   */
  makeContext(name: string): ComponentContext {
    const get = (target: string, kind?: ComponentKind) => this.getFor(name, target, kind);
    const c = this.container;
    return {
      name,
      runDir: c.resolve<RunDir>(TOKENS.RunDir),
      // Each component draws its own stream, so adding one never shifts another's draws.
      rng: new Rng(this.recipe.seed, name),
      seed: this.recipe.seed,
      log: c.resolve<Logger>(TOKENS.Logger).child(name),
      metrics: c.resolve<MetricsSink>(TOKENS.Metrics),
      progress: c.resolve<ProgressFactory>(TOKENS.Progress),
      signal: c.resolve<AbortSignal>(TOKENS.Signal),
      get: get as ComponentContext['get'],
      has: (target: string) => target in this.recipe.components,
    };
  }

  private async build(name: string): Promise<unknown> {
    const spec = this.recipe.components[name];
    if (!spec) throw new Error(`no component named '${name}'`);
    // a recipe from loadRecipe has its plugins loaded; one built in code may name a lazy plugin's id
    if (this.registry.isPending(spec.use)) await this.registry.load([spec.use]);
    const def = this.registry.get(spec.use).def;
    this.building.add(name);
    let instance: unknown;
    try {
      instance = await def.create(structuredClone(spec.options), this.makeContext(name));
    } finally {
      this.building.delete(name);
    }
    this.built.push({ name, instance });
    const ckpt = this.opts.checkpoints?.[name];
    if (ckpt) await loadCommitted(this.opts.runDir, name, ckpt, instance, this.log);
    return instance;
  }

  /**
   * `get` on behalf of component `from`: while `from` is still being built, asking for a component
   * that (through others) is waiting for `from` would wait forever; that is an error naming the loop
   * (recipes are checked for `x-ref` cycles before the run; this catches names read any other way).
   */
  private async getFor(from: string, target: string, kind?: ComponentKind): Promise<unknown> {
    if (!this.building.has(from)) return this.get(target, kind as ComponentKind);
    const loop = this.waitPath(target, from);
    if (loop) throw new Error(`components.${from}: a reference cycle while building: ${[from, ...loop].join(' → ')}`);
    const waits = this.waitsFor.get(from) ?? new Set<string>();
    this.waitsFor.set(from, waits.add(target));
    try {
      return await this.get(target, kind as ComponentKind);
    } finally {
      waits.delete(target);
    }
  }

  /** [a, …, to] when component `a` is (transitively) waiting for `to` to be built, else null. */
  private waitPath(a: string, to: string, seen = new Set<string>()): string[] | null {
    if (a === to) return [a];
    if (seen.has(a)) return null;
    seen.add(a);
    for (const b of this.waitsFor.get(a) ?? []) {
      const rest = this.waitPath(b, to, seen);
      if (rest) return [a, ...rest];
    }
    return null;
  }

  get<K extends ComponentKind>(name: string, kind: K): Promise<ComponentTypes[K]>;
  get<T = unknown>(name: string): Promise<T>;
  async get(name: string, kind?: ComponentKind): Promise<unknown> {
    if (this.closed) throw new Error(`session is closed; cannot get '${name}'`);
    const spec = this.recipe.components[name];
    if (!spec) {
      const names = Object.keys(this.recipe.components);
      throw new Error(`no component named '${name}' under components: (defined: ${names.join(', ') || 'none'})`);
    }
    if (kind && !spec.use.startsWith(`${kind}/`)) {
      throw new Error(`components.${name} is '${spec.use}', but a ${kind} is needed here`);
    }
    return this.container.resolve<Promise<unknown>>(componentToken(name));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.metrics.flush();
    for (const { name, instance } of this.built.reverse()) {
      try {
        await (instance as Partial<Disposable>).dispose?.();
      } catch (e) {
        this.log.warn(`disposing ${name} failed: ${(e as Error).message}`);
      }
    }
    await this.container.dispose();
  }
}
