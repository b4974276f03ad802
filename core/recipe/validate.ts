import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';
import { closest } from 'fastest-levenshtein';
import { componentId, type ComponentDefinition, type JSONSchema } from '../plugin/define.js';
import type { ComponentKind } from '../contracts/kinds.js';
import { RegistryError, type Registry } from '../plugin/registry.js';
import { describeValue, RecipeError, type RecipeProblem } from './errors.js';
import { joinPath, locate, type Layered } from './layers.js';
import { shapeProblems } from './limits.js';
import { recipeSchema } from './schema.js';
import type { ResolvedRecipe, StageSpec } from './types.js';

const addFormats = addFormatsModule as unknown as (ajv: Ajv) => Ajv;

/** One ajv per process: schemas are compiled once per component definition and cached. */
function makeAjv(): Ajv {
  const ajv = new Ajv({ allErrors: true, useDefaults: true, strict: false, verbose: true });
  addFormats(ajv);
  // `x-ref: <kind>` (or `<kind>/<name>`: that very component) marks an option that names another
  // instance of the recipe; `x-inherits` lists sibling options taken from that instance instead
  ajv.addKeyword({ keyword: 'x-ref', schemaType: 'string' });
  ajv.addKeyword({ keyword: 'x-inherits', schemaType: 'array' });
  // `x-renamed: { old: new }` on an object schema: an old option name gets its new name, not a guess
  ajv.addKeyword({ keyword: 'x-renamed', schemaType: 'object' });
  return ajv;
}
const ajv = makeAjv();
const compiled = new WeakMap<object, ValidateFunction>();

export function compileOptions(def: { options: JSONSchema }): ValidateFunction {
  let v = compiled.get(def.options);
  if (!v) {
    v = ajv.compile(def.options);
    compiled.set(def.options, v);
  }
  return v;
}
const validateTop = ajv.compile(recipeSchema);

/**
 * A component's options as a recipe hands them to `create`: validated against its schema, with the
 * defaults filled in (on a copy), typed from the schema. Throws a RecipeError under `where`.
 */
export function fillOptions<K extends ComponentKind, O>(
  def: ComponentDefinition<K, O>,
  options: Record<string, unknown> = {},
  where = componentId(def),
): O {
  const opts = structuredClone(options);
  const v = compileOptions(def);
  const inherited = inheritedOptions(def.options, opts);
  if (inherited.problems.length > 0)
    throw new RecipeError(inherited.problems.map((p) => ({ path: joinPath([where, ...p.parts]), message: p.message })));
  if (!v(opts)) throw new RecipeError(ajvProblems(v.errors ?? [], opts, [where]));
  inherited.drop();
  return opts as O;
}

/**
 * Options an `x-ref` option takes from the instance it names (its `x-inherits`): with the
 * reference set, setting one of them too is a problem (read from the options as written, before
 * defaults), and `drop()` removes the defaults ajv then fills in for them, since they are unused.
 */
function inheritedOptions(
  schema: JSONSchema,
  options: Record<string, unknown>,
): { problems: { parts: string[]; message: string }[]; drop(): void } {
  const problems: { parts: string[]; message: string }[] = [];
  const taken: string[] = [];
  for (const [ref, sub] of Object.entries((schema.properties ?? {}) as Record<string, Record<string, unknown>>)) {
    const keys = sub?.['x-inherits'];
    const target = options[ref];
    if (!Array.isArray(keys) || typeof target !== 'string') continue;
    for (const k of keys as string[]) {
      taken.push(k);
      if (k in options)
        problems.push({
          parts: [k],
          message: `expected no ${k} here (${ref} names '${target}', whose ${k} this component uses: set it there), found ${describeValue(options[k])}`,
        });
    }
  }
  return { problems, drop: () => taken.forEach((k) => delete options[k]) };
}

function pointerGet(root: unknown, pointer: string): unknown {
  if (!pointer) return root;
  let node: unknown = root;
  for (const raw of pointer.split('/').slice(1)) {
    const k = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (node === null || typeof node !== 'object') return undefined;
    node = (node as Record<string, unknown>)[k];
  }
  return node;
}

function pointerParts(pointer: string): string[] {
  return pointer
    ? pointer
        .split('/')
        .slice(1)
        .map((k) => k.replace(/~1/g, '/').replace(/~0/g, '~'))
    : [];
}

/** ajv errors → located problems that say what was expected and what was found. */
export function ajvProblems(
  errors: ErrorObject[],
  data: unknown,
  prefix: (string | number)[],
  layered?: Layered,
): RecipeProblem[] {
  const out: RecipeProblem[] = [];
  const seen = new Set<string>();
  // `anyOf`/`oneOf` produce one error per branch plus a summary; keep the summary only
  const branchy = errors.filter((e) => e.keyword === 'anyOf' || e.keyword === 'oneOf').map((e) => e.instancePath);
  for (const e of errors) {
    if (e.keyword !== 'anyOf' && e.keyword !== 'oneOf' && branchy.includes(e.instancePath)) continue;
    const parts = [...prefix, ...pointerParts(e.instancePath)];
    const found = pointerGet(data, e.instancePath);
    let at = parts;
    let message: string;
    const p = e.params as Record<string, unknown>;
    switch (e.keyword) {
      case 'type':
        message = `expected ${p.type}, found ${describeValue(found)}`;
        break;
      case 'required':
        message = `missing required option '${p.missingProperty}'`;
        break;
      case 'additionalProperties': {
        const allowed = Object.keys((e.parentSchema as { properties?: object } | undefined)?.properties ?? {});
        const extra = String(p.additionalProperty);
        at = [...parts, extra];
        const renamed = (e.parentSchema as { 'x-renamed'?: Record<string, string> } | undefined)?.['x-renamed'];
        const now = renamed && Object.hasOwn(renamed, extra) ? renamed[extra] : undefined;
        const hint =
          allowed.length > 0 ? ` Did you mean '${closest(extra, allowed)}'? Allowed: ${allowed.join(', ')}` : '';
        message = now ? `unknown option '${extra}': it was renamed '${now}'.` : `unknown option '${extra}'.${hint}`;
        break;
      }
      case 'enum':
        message = `expected one of ${(p.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ')}, found ${describeValue(found)}`;
        break;
      case 'const':
        message = `expected ${JSON.stringify(p.allowedValue)}, found ${describeValue(found)}`;
        break;
      case 'minimum':
      case 'maximum':
      case 'exclusiveMinimum':
      case 'exclusiveMaximum':
      case 'minLength':
      case 'maxLength':
      case 'minItems':
      case 'maxItems':
        message = `expected a value ${p.comparison ?? e.message?.replace(/^must (be|have|NOT have) /, '')} ${p.limit}, found ${describeValue(found)}`;
        if (p.comparison === undefined)
          message = `expected ${e.message?.replace(/^must /, '')}, found ${describeValue(found)}`;
        break;
      case 'pattern':
        message = `expected a string matching ${p.pattern}, found ${describeValue(found)}`;
        break;
      default:
        message = `expected ${e.message?.replace(/^must /, '') ?? e.keyword}, found ${describeValue(found)}`;
    }
    const pathStr = joinPath(at);
    const key = `${pathStr}|${message}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push({
      ...(layered ? locate(layered.locations, pathStr, e.keyword === 'additionalProperties') : {}),
      path: pathStr,
      message,
    });
  }
  return out;
}

/** Walks schema and data together and collects `x-ref` options (names of other instances). */
function collectRefs(
  schema: unknown,
  data: unknown,
  parts: (string | number)[],
  out: { parts: (string | number)[]; kind: string; value: unknown }[],
): void {
  if (!schema || typeof schema !== 'object') return;
  const s = schema as Record<string, unknown>;
  if (typeof s['x-ref'] === 'string' && data !== undefined && data !== null)
    out.push({ parts, kind: s['x-ref'] as string, value: data });
  if (s.properties && data && typeof data === 'object' && !Array.isArray(data)) {
    for (const [k, sub] of Object.entries(s.properties as Record<string, unknown>))
      collectRefs(sub, (data as Record<string, unknown>)[k], [...parts, k], out);
  }
  if (s.items && Array.isArray(data)) data.forEach((d, i) => collectRefs(s.items, d, [...parts, i], out));
}

/**
 * Component references that loop back (a → b → a): each instance is built before the components
 * that name it, so a cycle could never finish building. Reported once per cycle, at its first edge.
 */
function refCycles(
  refs: { parts: (string | number)[]; value: unknown }[],
  kindOf: Map<string, string>,
  here: (parts: (string | number)[]) => Omit<RecipeProblem, 'message'>,
): RecipeProblem[] {
  const edges = new Map<string, { to: string; parts: (string | number)[] }[]>();
  for (const r of refs) {
    if (r.parts[0] !== 'components' || typeof r.value !== 'string' || !kindOf.has(r.value)) continue;
    const from = String(r.parts[1]);
    edges.set(from, [...(edges.get(from) ?? []), { to: r.value, parts: r.parts }]);
  }
  const out: RecipeProblem[] = [];
  const reported = new Set<string>();
  const state = new Map<string, 'open' | 'done'>();
  const stack: { name: string; parts?: (string | number)[] }[] = [];
  const visit = (name: string): void => {
    state.set(name, 'open');
    stack.push({ name });
    for (const e of edges.get(name) ?? []) {
      stack[stack.length - 1].parts = e.parts;
      if (state.get(e.to) === 'open') {
        const loop = stack.slice(stack.findIndex((f) => f.name === e.to));
        const key = loop
          .map((f) => f.name)
          .sort()
          .join('|');
        if (!reported.has(key)) {
          reported.add(key);
          const path = [...loop.map((f) => f.name), e.to].join(' → ');
          out.push({
            ...here(loop[0].parts as (string | number)[]),
            message: `expected components that do not name each other in a loop, found a reference cycle: ${path} (each instance is built before those that name it)`,
          });
        }
      } else if (!state.has(e.to)) visit(e.to);
    }
    stack.pop();
    state.set(name, 'done');
  };
  for (const name of edges.keys()) if (!state.has(name)) visit(name);
  return out;
}

/**
 * Validates a merged recipe against the recipe schema, the registry and each component's option
 * schema (filling defaults). Collects every problem, then throws one RecipeError.
 */
export function validateRecipe(layered: Layered, registry: Registry, sets: readonly string[] = []): ResolvedRecipe {
  const data = structuredClone(layered.data);
  if (!validateTop(data)) throw new RecipeError(ajvProblems(validateTop.errors ?? [], data, [], layered));
  const recipe = data as unknown as Omit<ResolvedRecipe, 'provenance'>;
  const problems: RecipeProblem[] = [];
  const kindOf = new Map<string, string>();
  const useOf = new Map<string, string>();
  const here = (parts: (string | number)[]) => ({
    ...locate(layered.locations, joinPath(parts)),
    path: joinPath(parts),
  });

  const check = (
    use: string,
    parts: (string | number)[],
    options: Record<string, unknown>,
    wantKind?: string,
  ): ComponentDefinition | undefined => {
    let def: ComponentDefinition;
    try {
      def = registry.get(use).def;
    } catch (e) {
      if (e instanceof RegistryError) {
        problems.push({ ...here([...parts, 'use']), message: e.message });
        return undefined;
      }
      throw e;
    }
    if (wantKind && def.kind !== wantKind) {
      problems.push({
        ...here([...parts, 'use']),
        message: `expected a ${wantKind} component, found '${use}' (a ${def.kind})`,
      });
      return undefined;
    }
    const v = compileOptions(def);
    const inherited = inheritedOptions(def.options, options);
    for (const p of inherited.problems)
      problems.push({ ...here([...parts, 'options', ...p.parts]), message: p.message });
    if (!v(options)) problems.push(...ajvProblems(v.errors ?? [], options, [...parts, 'options'], layered));
    inherited.drop();
    return def;
  };

  const defs = new Map<string, ComponentDefinition>();
  for (const [name, spec] of Object.entries(recipe.components)) {
    for (const p of shapeProblems(spec.options, ['components', name, 'options']))
      problems.push({ ...here(p.parts), message: p.message });
    const def = check(spec.use, ['components', name], spec.options);
    if (def) {
      kindOf.set(name, def.kind);
      useOf.set(name, spec.use);
      defs.set(name, def);
    }
  }
  const stageDefs: [StageSpec, (string | number)[], ComponentDefinition][] = [];
  for (const section of ['setup', 'loop', 'teardown'] as const) {
    const names = new Set<string>();
    recipe.pipeline[section].forEach((stage, i) => {
      stage.name ??= stage.use.slice(stage.use.indexOf('/') + 1);
      const parts = ['pipeline', section, i];
      if (names.has(stage.name))
        problems.push({
          ...here([...parts, 'name']),
          message: `expected a unique stage name in pipeline.${section}, found '${stage.name}' twice (set name: to tell them apart)`,
        });
      names.add(stage.name);
      const def = check(stage.use, parts, stage.options, 'stage');
      if (def) stageDefs.push([stage, parts, def]);
    });
  }
  const refs: { parts: (string | number)[]; kind: string; value: unknown }[] = [];
  for (const [name, def] of defs)
    collectRefs(def.options, recipe.components[name]?.options, ['components', name, 'options'], refs);
  for (const [stage, parts, def] of stageDefs) collectRefs(def.options, stage.options, [...parts, 'options'], refs);
  for (const ref of refs) {
    // `<kind>/<name>` asks for an instance of that very component
    const byUse = ref.kind.includes('/');
    const fits = (n: string) => ref.kind === '*' || (byUse ? useOf.get(n) : kindOf.get(n)) === ref.kind;
    const targets = [...kindOf.keys()].filter(fits);
    if (typeof ref.value !== 'string' || !kindOf.has(ref.value) || !fits(ref.value)) {
      const hint =
        targets.length > 0 && typeof ref.value === 'string' ? ` Did you mean '${closest(ref.value, targets)}'?` : '';
      const found =
        typeof ref.value === 'string' && kindOf.has(ref.value)
          ? `'${ref.value}' (a ${byUse ? useOf.get(ref.value) : kindOf.get(ref.value)})`
          : describeValue(ref.value);
      problems.push({
        ...here(ref.parts),
        message: `expected the name of a ${ref.kind} instance under components (${targets.join(', ') || 'none defined'}), found ${found}.${hint}`,
      });
    }
  }
  problems.push(...refCycles(refs, kindOf, here));
  if (problems.length > 0) throw new RecipeError(problems);
  return { ...recipe, provenance: { files: layered.files, sets: [...sets] } } as ResolvedRecipe;
}
