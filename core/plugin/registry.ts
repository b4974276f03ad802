import { closest } from 'fastest-levenshtein';
import { isComponentKind } from '../contracts/kinds.js';
import { type ComponentDefinition, type Plugin, type PluginMeta, componentId } from './define.js';
import { isLazyPlugin, type LazyPlugin } from './lazy.js';

export class RegistryError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RegistryError';
  }
}

export interface RegisteredComponent {
  id: string;
  def: ComponentDefinition;
  plugin: PluginMeta;
}

/**
 * One registry per run (no global state): plugins register, recipes look components up by id.
 * A lazy plugin registers its ids from its manifest and is imported on `load()` of one of them;
 * `get` of an id whose plugin is not loaded yet throws (loadRecipe, RunSession and the CLI load first).
 */
export class Registry {
  private readonly byId = new Map<string, RegisteredComponent>();
  private readonly plugins = new Map<string, PluginMeta>();
  /** Ids whose plugin is not imported yet, and the plugin (shared by its ids). */
  private readonly pending = new Map<string, LazyPlugin>();
  private readonly loading = new Map<LazyPlugin, Promise<void>>();

  register(plugin: Plugin | LazyPlugin): void {
    if (isLazyPlugin(plugin)) return this.registerLazy(plugin);
    assertPluginShape(plugin);
    if (this.plugins.has(plugin.meta.name)) {
      throw new RegistryError(`plugin '${plugin.meta.name}' is registered twice`);
    }
    const ids: string[] = [];
    for (const def of plugin.components) {
      if (!isComponentKind(def.kind)) {
        throw new RegistryError(`plugin '${plugin.meta.name}': component '${def.name}' has unknown kind '${def.kind}'`);
      }
      ids.push(componentId(def));
    }
    this.checkNew(plugin.meta.name, ids);
    this.plugins.set(plugin.meta.name, plugin.meta);
    this.add(plugin);
  }

  private registerLazy(plugin: LazyPlugin): void {
    if (this.plugins.has(plugin.meta.name)) {
      throw new RegistryError(`plugin '${plugin.meta.name}' is registered twice`);
    }
    for (const id of plugin.components) {
      if (!isComponentKind(id.slice(0, id.indexOf('/'))))
        throw new RegistryError(`plugin '${plugin.meta.name}': component '${id}' has an unknown kind`);
    }
    this.checkNew(plugin.meta.name, plugin.components);
    this.plugins.set(plugin.meta.name, plugin.meta);
    for (const id of plugin.components) this.pending.set(id, plugin);
  }

  /** Throws on an id that is taken, or listed twice by the plugin itself. */
  private checkNew(name: string, ids: readonly string[]): void {
    const seen = new Set<string>();
    for (const id of ids) {
      const prev =
        this.byId.get(id)?.plugin.name ?? this.pending.get(id)?.meta.name ?? (seen.has(id) ? name : undefined);
      if (prev) throw new RegistryError(`duplicate component id '${id}': defined by '${prev}' and by '${name}'`);
      seen.add(id);
    }
  }

  private add(plugin: Plugin): void {
    for (const def of plugin.components)
      this.byId.set(componentId(def), { id: componentId(def), def, plugin: plugin.meta });
  }

  /** Imports the plugins of these ids that are not loaded yet (unknown ids are left for `get` to report). */
  async load(ids: Iterable<string>): Promise<void> {
    const wanted = new Set<LazyPlugin>();
    for (const id of ids) {
      const p = this.pending.get(id);
      if (p) wanted.add(p);
    }
    for (const p of wanted) await this.loadPlugin(p);
  }

  /** Imports every lazy plugin (listing all components needs all schemas). */
  async loadAll(): Promise<void> {
    await this.load([...this.pending.keys()]);
  }

  /** Whether `id` belongs to a lazy plugin that is not imported yet. */
  isPending(id: string): boolean {
    return this.pending.has(id);
  }

  private loadPlugin(lazy: LazyPlugin): Promise<void> {
    let p = this.loading.get(lazy);
    if (!p) {
      p = (async () => {
        const plugin = await lazy.load();
        assertPluginShape(plugin);
        const ids = plugin.components.map(componentId);
        const differs =
          plugin.meta.name !== lazy.meta.name ||
          ids.length !== lazy.components.length ||
          ids.some((id) => !lazy.components.includes(id));
        if (differs) {
          throw new RegistryError(
            `plugin '${lazy.meta.name}': its manifest lists ${lazy.components.join(', ') || '(no components)'} but the module '${plugin.meta.name}' registers ${ids.join(', ') || '(none)'}`,
          );
        }
        this.plugins.set(lazy.meta.name, plugin.meta);
        this.add(plugin);
        for (const id of lazy.components) this.pending.delete(id);
      })();
      this.loading.set(lazy, p);
    }
    return p;
  }

  has(id: string): boolean {
    return this.byId.has(id) || this.pending.has(id);
  }

  /** Throws with the available ids of that kind and the closest match. */
  get(id: string): RegisteredComponent {
    const found = this.byId.get(id);
    if (found) return found;
    const lazy = this.pending.get(id);
    if (lazy)
      throw new RegistryError(
        `component '${id}' belongs to plugin '${lazy.meta.name}', which is not loaded yet: await registry.load(['${id}']) first`,
      );
    throw new RegistryError(this.unknownMessage(id));
  }

  unknownMessage(id: string): string {
    const all = [...this.byId.keys(), ...this.pending.keys()].sort();
    const kind = id.includes('/') ? id.slice(0, id.indexOf('/')) : '';
    const sameKind = all.filter((k) => k.startsWith(`${kind}/`));
    const pool = sameKind.length > 0 ? sameKind : all;
    const hint = pool.length > 0 ? ` Did you mean '${closest(id, pool)}'?` : '';
    return `unknown component '${id}'.${hint} Available${sameKind.length > 0 ? ` ${kind}` : ''} components: ${pool.join(', ') || '(none)'}`;
  }

  /** The loaded components (call `loadAll()` first for every one). */
  list(): RegisteredComponent[] {
    return [...this.byId.values()].sort((a, b) => a.id.localeCompare(b.id));
  }

  pluginMetas(): PluginMeta[] {
    return [...this.plugins.values()];
  }
}

function assertPluginShape(p: unknown): asserts p is Plugin {
  const o = p as Partial<Plugin> | undefined;
  if (!o || typeof o !== 'object' || !o.meta || typeof o.meta.name !== 'string' || !Array.isArray(o.components)) {
    throw new RegistryError(
      'a plugin must be an object { meta: { name, version }, components: [...] } (use definePlugin)',
    );
  }
  for (const c of o.components) {
    if (
      !c ||
      typeof c.name !== 'string' ||
      typeof c.kind !== 'string' ||
      typeof c.create !== 'function' ||
      typeof c.options !== 'object'
    ) {
      throw new RegistryError(
        `plugin '${o.meta.name}': every component needs kind, name, options (a JSON schema) and create()`,
      );
    }
  }
}
