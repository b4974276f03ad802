/** One located problem in a recipe. */
export interface RecipeProblem {
  /** The file the offending value came from, or `--set k=v` for overrides. */
  source?: string;
  line?: number;
  col?: number;
  /** Dotted YAML path, e.g. `components.executor.options.lr`. */
  path: string;
  /** What was expected and what was found. */
  message: string;
}

export function formatProblem(p: RecipeProblem): string {
  const where = p.source ? `${p.source}${p.line ? `:${p.line}${p.col ? `:${p.col}` : ''}` : ''}: ` : '';
  return `${where}${p.path || '(recipe)'}: ${p.message}`;
}

/** Thrown before any work starts when a recipe is invalid; `problems` holds every error found. */
export class RecipeError extends Error {
  constructor(readonly problems: RecipeProblem[]) {
    super(problems.map(formatProblem).join('\n'));
    this.name = 'RecipeError';
  }
}

export function describeValue(v: unknown): string {
  if (v === undefined) return 'nothing';
  if (v === null) return 'null';
  if (Array.isArray(v)) return `array ${truncate(JSON.stringify(v))}`;
  if (typeof v === 'object') return `object ${truncate(JSON.stringify(v))}`;
  if (typeof v === 'number' && Number.isInteger(v)) return `integer ${v}`;
  return `${typeof v} ${truncate(JSON.stringify(v))}`;
}

function truncate(s: string, n = 60): string {
  return s.length > n ? `${s.slice(0, n - 3)}...` : s;
}
