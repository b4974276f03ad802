import type { ComponentContext, ComponentTypes } from '../contracts/component.js';
import type { ComponentKind } from '../contracts/kinds.js';
import type { CliCommand } from '../cli/command.js';

/** A JSON schema (draft-07, as ajv compiles it). Put `default`s in it: they are filled in before `create`. */
export type JSONSchema = Record<string, unknown>;

export interface ComponentDefinition<K extends ComponentKind = ComponentKind, O = any> {
  kind: K;
  /** Unique within the kind; the registry id is `<kind>/<name>`. */
  name: string;
  /** One line, shown by `agent0 plugins`. */
  description: string;
  /** JSON schema of the options; `{type: 'object', properties: {...}, additionalProperties: false}`. */
  options: JSONSchema;
  /** Builds one instance from validated options (defaults filled in). */
  create(options: O, ctx: ComponentContext): ComponentTypes[K] | Promise<ComponentTypes[K]>;
}

export interface PluginMeta {
  /** npm package name, or `agent0/<name>` for built-ins. */
  name: string;
  version: string;
  description?: string;
}

export interface Plugin {
  meta: PluginMeta;
  components: ComponentDefinition[];
  /** CLI subcommands (e.g. 'bench engine', 'serve'); names must be unique across plugins. */
  commands?: CliCommand[];
}

/** Identity helper for type inference (as Vite's defineConfig). */
export function defineComponent<K extends ComponentKind, O>(def: ComponentDefinition<K, O>): ComponentDefinition<K, O> {
  return def;
}

export function definePlugin(plugin: Plugin): Plugin {
  return plugin;
}

export function componentId(def: { kind: string; name: string }): string {
  return `${def.kind}/${def.name}`;
}
