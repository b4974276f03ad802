import { closest } from 'fastest-levenshtein';
import { isComponentKind } from '../contracts/kinds.js';
import { type ComponentDefinition, type Plugin, type PluginMeta, componentId } from './define.js';

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

/** One registry per run (no global state): plugins register, recipes look components up by id. */
export class Registry {
  private readonly byId = new Map<string, RegisteredComponent>();
  private readonly plugins = new Map<string, PluginMeta>();

  register(plugin: Plugin): void {
    assertPluginShape(plugin);
    if (this.plugins.has(plugin.meta.name)) {
      throw new RegistryError(`plugin '${plugin.meta.name}' is registered twice`);
    }
    const ids: string[] = [];
    for (const def of plugin.components) {
      if (!isComponentKind(def.kind)) {
        throw new RegistryError(`plugin '${plugin.meta.name}': component '${def.name}' has unknown kind '${def.kind}'`);
      }
      const id = componentId(def);
      const prev = this.byId.get(id) ?? (ids.includes(id) ? { plugin: plugin.meta } : undefined);
      if (prev) {
        throw new RegistryError(`duplicate component id '${id}': defined by '${prev.plugin.name}' and by '${plugin.meta.name}'`);
      }
      ids.push(id);
    }
    this.plugins.set(plugin.meta.name, plugin.meta);
    for (const def of plugin.components) this.byId.set(componentId(def), { id: componentId(def), def, plugin: plugin.meta });
  }

  has(id: string): boolean {
    return this.byId.has(id);
  }

  /** Throws with the available ids of that kind and the closest match. */
  get(id: string): RegisteredComponent {
    const found = this.byId.get(id);
    if (found) return found;
    throw new RegistryError(this.unknownMessage(id));
  }

  unknownMessage(id: string): string {
    const all = [...this.byId.keys()].sort();
    const kind = id.includes('/') ? id.slice(0, id.indexOf('/')) : '';
    const sameKind = all.filter((k) => k.startsWith(`${kind}/`));
    const pool = sameKind.length > 0 ? sameKind : all;
    const hint = pool.length > 0 ? ` Did you mean '${closest(id, pool)}'?` : '';
    return `unknown component '${id}'.${hint} Available${sameKind.length > 0 ? ` ${kind}` : ''} components: ${pool.join(', ') || '(none)'}`;
  }

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
    throw new RegistryError('a plugin must be an object { meta: { name, version }, components: [...] } (use definePlugin)');
  }
  for (const c of o.components) {
    if (!c || typeof c.name !== 'string' || typeof c.kind !== 'string' || typeof c.create !== 'function' || typeof c.options !== 'object') {
      throw new RegistryError(`plugin '${o.meta.name}': every component needs kind, name, options (a JSON schema) and create()`);
    }
  }
}
