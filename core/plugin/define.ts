import type { ComponentContext, ComponentTypes } from '../contracts/component.js';
import type { ComponentKind } from '../contracts/kinds.js';
import type { CliCommand } from '../cli/command.js';
import type { FromSchema, JSONSchema as LiteralSchema } from 'json-schema-to-ts';

/** A JSON schema (draft-07, as ajv compiles it). Put `default`s in it: they are filled in before `create`. */
export type JSONSchema = Record<string, unknown>;

/**
 * An option schema whose literal type is kept (`as const`, or written inline in defineComponent),
 * so that its options type follows from it (`OptionsOf`).
 */
export type OptionsSchema = Exclude<LiteralSchema, boolean>;

/**
 * The options `create` receives for schema S, as ajv hands them over: a property with a `default`
 * is always there (ajv fills it in), one without is optional unless `required`.
 */
export type OptionsOf<S extends OptionsSchema> = FromSchema<S>;

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

/**
 * Identity helper for type inference (as Vite's defineConfig): `create`'s options are typed from
 * the `options` schema, so an option is written once. A schema held in a variable needs `as const`.
 */
export function defineComponent<K extends ComponentKind, const S extends OptionsSchema>(def: {
  kind: K;
  name: string;
  description: string;
  options: S;
  // NoInfer: S comes from `options` alone; inferring it back through FromSchema explodes.
  create(options: NoInfer<OptionsOf<S>>, ctx: ComponentContext): ComponentTypes[K] | Promise<ComponentTypes[K]>;
}): ComponentDefinition<K, NoInfer<OptionsOf<S>>>;
export function defineComponent(def: ComponentDefinition): ComponentDefinition {
  return def;
}

export function definePlugin(plugin: Plugin): Plugin {
  return plugin;
}

export function componentId(def: { kind: string; name: string }): string {
  return `${def.kind}/${def.name}`;
}
