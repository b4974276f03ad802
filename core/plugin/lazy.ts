import type { Plugin, PluginMeta } from './define.js';

/** What `agent0 --help` shows of a command before its plugin is loaded. */
export interface LazyCommand {
  name: string;
  summary: string;
}

/**
 * A plugin known by its manifest (ids and command names) and imported only when a recipe or a
 * command needs it, so that the CLI and the core entry start without loading every plugin (and
 * TensorFlow.js). `load()` must return a plugin whose meta name, component ids and commands are the
 * ones listed here: the registry checks that when it loads the module.
 */
export interface LazyPlugin {
  meta: PluginMeta;
  /** Registry ids (`<kind>/<name>`) of the components the module registers. */
  components: readonly string[];
  commands?: readonly LazyCommand[];
  load(): Promise<Plugin>;
}

export function isLazyPlugin(p: Plugin | LazyPlugin): p is LazyPlugin {
  return typeof (p as Partial<LazyPlugin>).load === 'function';
}
