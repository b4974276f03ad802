/**
 * VeRL-Tool's tool-server contract (TIGER-AI-Lab/verl-tool, `verl_tool/servers/tool_server.py`,
 * behind the router of `serve.py`): `POST /get_observation` with `trajectory_ids` and `actions`
 * (non-empty, equal length) and optionally `finish`, `is_last_step` and `extra_fields`. Its request
 * model is a pydantic model, so unknown top-level fields are ignored, booleans are read leniently
 * (1, "yes", "off", ...) and a bad body is answered 422 with FastAPI's list of errors. The answer is
 * `observations`, `dones`, `valids`, `processing_time_ms` (plus `infos`, which its clients ignore).
 */

export interface ObservationRequest {
  trajectory_ids: (string | number)[];
  actions: string[];
  finish?: unknown[];
  is_last_step?: unknown[];
  extra_fields?: (Record<string, unknown> | null)[];
  [key: string]: unknown;
}

export interface ObservationResponse {
  observations: string[];
  dones: boolean[];
  valids: boolean[];
  processing_time_ms?: number;
  infos?: Record<string, string | number | boolean>[];
}

/** One action of a request, after validation. */
export interface ActionItem {
  trajectoryId: string;
  /** The model's raw text; the server's tools parse it. */
  action: string;
  finish: boolean;
  isLastStep: boolean;
  extra: Record<string, unknown>;
}

/** One validation failure as FastAPI lists it in a 422 `detail` (pydantic's `type` codes, `loc` from `body`). */
export interface FieldError {
  type: string;
  loc: (string | number)[];
  msg: string;
  input?: unknown;
}

/**
 * A request that breaks the contract (422, with `errors` for FastAPI's `detail` list) or asks for
 * too much at once (413, a message).
 */
export class BadRequestError extends Error {
  constructor(
    message: string,
    readonly status = 422,
    readonly errors: FieldError[] = [],
  ) {
    super(message);
    this.name = 'BadRequestError';
  }
}

function typeName(v: unknown): string {
  return v === null ? 'null' : Array.isArray(v) ? 'an array' : typeof v;
}

function shown(v: unknown): string {
  const s = JSON.stringify(v);
  return s === undefined ? typeName(v) : s.length > 60 ? `${s.slice(0, 57)}...` : s;
}

const TRUE_WORDS = new Set(['1', 'on', 't', 'true', 'y', 'yes']);
const FALSE_WORDS = new Set(['0', 'off', 'f', 'false', 'n', 'no']);

/** pydantic's lax boolean: true/false, 0/1 (ints or floats), and a few words in any case. */
function laxBool(x: unknown): boolean | FieldError {
  if (typeof x === 'boolean') return x;
  if (typeof x === 'number') {
    if (x === 1 || x === 0) return x === 1;
    return {
      type: Number.isInteger(x) ? 'bool_parsing' : 'bool_type',
      loc: [],
      msg: `expected a boolean (true/false, 0/1), found ${x}`,
      input: x,
    };
  }
  if (typeof x === 'string') {
    const w = x.toLowerCase();
    if (TRUE_WORDS.has(w) || FALSE_WORDS.has(w)) return TRUE_WORDS.has(w);
    return { type: 'bool_parsing', loc: [], msg: `expected a boolean, cannot read ${shown(x)} as one`, input: x };
  }
  return { type: 'bool_type', loc: [], msg: `expected a boolean, found ${typeName(x)}`, input: x };
}

/** Python's truth value of a JSON value: VeRL-Tool tests `extra_field.get("finish")` that way. */
function truthy(v: unknown): boolean {
  if (Array.isArray(v)) return v.length > 0;
  if (v !== null && typeof v === 'object') return Object.keys(v).length > 0;
  return Boolean(v);
}

/**
 * Validates a `/get_observation` body into items. Collects every error (as pydantic does) and
 * throws one BadRequestError listing them; `maxItems` (the most actions one request may carry)
 * is checked before anything else is read.
 */
export function parseObservationRequest(body: unknown, maxItems = Infinity): ActionItem[] {
  const errors: FieldError[] = [];
  const fail = (): never => {
    throw new BadRequestError(
      errors.map((e) => `${e.loc.slice(1).join('.') || 'body'}: ${e.msg}`).join('; '),
      422,
      errors,
    );
  };
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    errors.push({
      type: 'model_attributes_type',
      loc: ['body'],
      msg: `the body must be a JSON object, found ${typeName(body)}`,
      input: body,
    });
    fail();
  }
  const b = body as Record<string, unknown>;
  const list = (key: string, required: boolean): unknown[] | undefined => {
    const v = b[key];
    if (v === undefined || (v === null && !required)) {
      if (required) errors.push({ type: 'missing', loc: ['body', key], msg: 'field required', input: b });
      return undefined;
    }
    if (!Array.isArray(v)) {
      errors.push({ type: 'list_type', loc: ['body', key], msg: `expected an array, found ${typeName(v)}`, input: v });
      return undefined;
    }
    if (required && v.length === 0)
      errors.push({ type: 'too_short', loc: ['body', key], msg: 'expected at least one entry', input: v });
    return v;
  };
  const ids = list('trajectory_ids', true);
  if (ids && ids.length > maxItems) {
    throw new BadRequestError(
      `trajectory_ids has ${ids.length} entries; this server takes at most ${maxItems} per request (tool-server --max-items): split the batch`,
      413,
    );
  }
  const actions = list('actions', true);
  const n = ids?.length ?? 0;
  const sameLength = (key: string, v: unknown[] | undefined) => {
    if (v && ids && v.length !== n) {
      errors.push({
        type: 'value_error',
        loc: ['body', key],
        msg: `${key} has ${v.length} entries but trajectory_ids has ${n}: they must have equal length`,
        input: v,
      });
    }
  };
  ids?.forEach((id, i) => {
    if ((typeof id !== 'string' && typeof id !== 'number') || id === '') {
      errors.push({
        type: id === '' ? 'string_too_short' : 'string_type',
        loc: ['body', 'trajectory_ids', i],
        msg: `expected a non-empty string or a number, found ${shown(id)}`,
        input: id,
      });
    }
  });
  actions?.forEach((a, i) => {
    if (typeof a !== 'string')
      errors.push({
        type: 'string_type',
        loc: ['body', 'actions', i],
        msg: `expected a string, found ${typeName(a)}`,
        input: a,
      });
  });
  sameLength('actions', actions);
  const flags = (key: 'finish' | 'is_last_step'): boolean[] => {
    const v = list(key, false);
    sameLength(key, v);
    return (v ?? []).map((x, i) => {
      const r = laxBool(x);
      if (typeof r === 'boolean') return r;
      errors.push({ ...r, loc: ['body', key, i] });
      return false;
    });
  };
  const finish = flags('finish');
  const last = flags('is_last_step');
  const ef = list('extra_fields', false);
  sameLength('extra_fields', ef);
  ef?.forEach((x, i) => {
    if (x !== null && (typeof x !== 'object' || Array.isArray(x))) {
      errors.push({
        type: 'dict_type',
        loc: ['body', 'extra_fields', i],
        msg: `expected an object or null, found ${typeName(x)}`,
        input: x,
      });
    }
  });
  if (errors.length > 0) fail();
  // Other top-level fields are ignored, as VeRL-Tool's request model ignores them.
  return (ids as unknown[]).map((id, i) => {
    const extra: Record<string, unknown> = { ...((ef?.[i] as Record<string, unknown> | null) ?? {}) };
    return {
      trajectoryId: String(id),
      action: (actions as string[])[i],
      // VeRL-Tool also finishes a trajectory whose extra fields say so, and cleans up after a last step either way.
      finish: finish[i] === true || truthy(extra.finish),
      isLastStep: last[i] === true || truthy(extra.is_last_step),
      extra,
    };
  });
}
