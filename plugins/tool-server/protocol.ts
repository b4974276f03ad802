/**
 * VeRL-Tool's tool-server contract (TIGER-AI-Lab/verl-tool, verl_tool/servers/serve.py):
 * `POST /get_observation` with equal-length arrays `trajectory_ids`, `actions` and optionally
 * `finish`, `is_last_step`, `extra_fields`; any other top-level array of the same length is merged
 * into each item's extra fields, as VeRL-Tool does. The answer is `observations`, `dones`, `valids`
 * (plus `infos`, which VeRL-Tool clients ignore).
 */

export interface ObservationRequest {
  trajectory_ids: (string | number)[];
  actions: string[];
  finish?: boolean[];
  is_last_step?: boolean[];
  extra_fields?: (Record<string, unknown> | null)[];
  [key: string]: unknown;
}

export interface ObservationResponse {
  observations: string[];
  dones: boolean[];
  valids: boolean[];
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

/** A request that breaks the contract (400) or asks for too much at once (413); the server answers with this message. */
export class BadRequestError extends Error {
  constructor(message: string, readonly status = 400) {
    super(message);
    this.name = 'BadRequestError';
  }
}

function typeName(v: unknown): string {
  return v === null ? 'null' : Array.isArray(v) ? 'an array' : typeof v;
}

/**
 * Validates a `/get_observation` body into items; throws BadRequestError naming the field at fault.
 * `maxItems`: the most actions one request may carry (checked before anything else is read).
 */
export function parseObservationRequest(body: unknown, maxItems = Infinity): ActionItem[] {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new BadRequestError(`the body must be a JSON object, found ${typeName(body)}`);
  const b = body as Record<string, unknown>;
  const ids = b.trajectory_ids;
  const actions = b.actions;
  if (!Array.isArray(ids)) throw new BadRequestError(`trajectory_ids: expected an array, found ${typeName(ids)}`);
  if (!Array.isArray(actions)) throw new BadRequestError(`actions: expected an array, found ${typeName(actions)}`);
  if (ids.length === 0) throw new BadRequestError('trajectory_ids: expected at least one trajectory');
  if (ids.length > maxItems) {
    throw new BadRequestError(`trajectory_ids has ${ids.length} entries; this server takes at most ${maxItems} per request (tool-server --max-items): split the batch`, 413);
  }
  const n = ids.length;
  if (actions.length !== n) throw new BadRequestError(`actions has ${actions.length} entries but trajectory_ids has ${n}: they must have equal length`);
  ids.forEach((id, i) => {
    if ((typeof id !== 'string' && typeof id !== 'number') || id === '') throw new BadRequestError(`trajectory_ids[${i}]: expected a non-empty string or a number, found ${JSON.stringify(id) ?? typeName(id)}`);
  });
  actions.forEach((a, i) => {
    if (typeof a !== 'string') throw new BadRequestError(`actions[${i}]: expected a string, found ${typeName(a)}`);
  });
  const flags = (key: 'finish' | 'is_last_step'): boolean[] => {
    const v = b[key];
    if (v === undefined || v === null) return new Array(n).fill(false);
    if (!Array.isArray(v)) throw new BadRequestError(`${key}: expected an array of booleans, found ${typeName(v)}`);
    if (v.length !== n) throw new BadRequestError(`${key} has ${v.length} entries but trajectory_ids has ${n}: they must have equal length`);
    return v.map((x, i) => {
      if (typeof x !== 'boolean') throw new BadRequestError(`${key}[${i}]: expected a boolean, found ${JSON.stringify(x) ?? typeName(x)}`);
      return x;
    });
  };
  const finish = flags('finish');
  const last = flags('is_last_step');
  const extras: Record<string, unknown>[] = Array.from({ length: n }, () => ({}));
  const ef = b.extra_fields;
  if (ef !== undefined && ef !== null) {
    if (!Array.isArray(ef)) throw new BadRequestError(`extra_fields: expected an array of objects, found ${typeName(ef)}`);
    if (ef.length !== n) throw new BadRequestError(`extra_fields has ${ef.length} entries but trajectory_ids has ${n}: they must have equal length`);
    ef.forEach((x, i) => {
      if (x === null) return;
      if (typeof x !== 'object' || Array.isArray(x)) throw new BadRequestError(`extra_fields[${i}]: expected an object or null, found ${typeName(x)}`);
      Object.assign(extras[i], x);
    });
  }
  for (const [key, v] of Object.entries(b)) {
    if (['trajectory_ids', 'actions', 'finish', 'is_last_step', 'extra_fields'].includes(key)) continue;
    if (!Array.isArray(v) || v.length !== n) {
      throw new BadRequestError(`${key}: extra top-level fields must be arrays with one entry per trajectory (${n}), found ${Array.isArray(v) ? `${v.length} entries` : typeName(v)}`);
    }
    v.forEach((x, i) => { extras[i][key] = x; });
  }
  return ids.map((id, i) => ({ trajectoryId: String(id), action: actions[i] as string, finish: finish[i], isLastStep: last[i], extra: extras[i] }));
}
