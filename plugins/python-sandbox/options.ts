import type { OptionsOf } from '../../core/index.js';

/**
 * Default warm-up: the first factor/solve/simplify in a process initialises sympy's machinery
 * (tens of ms each); done once in the worker, every forked program starts with it ready.
 */
export const DEFAULT_WARMUP = [
  'import sys',
  "if 'sympy' in sys.modules:",
  '    import sympy as s',
  "    x = s.Symbol('x')",
  '    s.factor(x**2 - 1); s.expand((x + 1)**3); s.simplify(s.sin(x)**2 + s.cos(x)**2)',
  '    s.solve(x**2 - 2, x); s.integrate(x**2, x); s.limit(s.sin(x) / x, x, 0)',
  '    s.summation(x, (x, 1, 3)); s.nsimplify(0.5); s.factorint(360); s.isprime(97); s.Rational(1, 3) + 1',
].join('\n');

/** Options of `tool/python`; every limit applies to each program run. */
export const PYTHON_TOOL_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  properties: {
    interpreter: {
      type: 'string',
      minLength: 1,
      default: 'auto',
      description:
        "python executable; 'auto' picks the first of /usr/bin/python3, python3, python that imports every preload module",
    },
    isolation: {
      enum: ['required', 'auto', 'wasm', 'none'],
      default: 'auto',
      description:
        'auto: the strongest bubblewrap mode that works here, else (with a warning) CPython in WebAssembly, never unisolated; required: a bubblewrap mode or refuse to start; wasm: CPython in WebAssembly (pyodide) in a locked-down Node process, standard library only; none: no isolation, rlimits only (model-written code runs as a plain process)',
    },
    bwrap: { type: 'string', minLength: 1, default: 'bwrap', description: 'bubblewrap executable' },
    userNamespace: {
      enum: ['auto', 'never'],
      default: 'auto',
      description: 'never: skip the user-namespace mode (bwrap as root only)',
    },
    workers: {
      type: 'integer',
      minimum: 1,
      maximum: 64,
      default: 2,
      description: 'warm worker processes (each runs one program at a time)',
    },
    preload: {
      type: 'array',
      items: { type: 'string', pattern: '^[A-Za-z_][A-Za-z0-9_.]*$' },
      default: ['math', 'sympy', 'numpy'],
      description: 'modules imported once per worker (missing ones are skipped with a warning)',
    },
    warmup: {
      type: 'string',
      default: 'default',
      description:
        "python run once per worker after the preload imports, so forked programs inherit warmed-up caches ('default': a few sympy calls, '': none)",
    },
    stateful: { type: 'boolean', default: false, description: "keep each trajectory's variables across its calls" },
    stop: {
      type: 'array',
      items: { type: 'string' },
      default: ['```output'],
      description: 'stop strings ending a tool turn; the code block is looked for before the last one',
    },
    timeoutSeconds: {
      type: 'number',
      exclusiveMinimum: 0,
      maximum: 3600,
      default: 10,
      description: 'wall-clock limit per program; the whole process group is killed',
    },
    cpuSeconds: {
      type: 'number',
      exclusiveMinimum: 0,
      maximum: 3600,
      default: 10,
      description: 'RLIMIT_CPU per program',
    },
    memoryMb: {
      type: 'integer',
      minimum: 0,
      default: 1024,
      description:
        "memory per program in MiB (0: no limit): each process's address space (RLIMIT_AS), and what all the program's processes hold together (polled every 10 ms)",
    },
    maxProcesses: {
      type: 'integer',
      minimum: 1,
      maximum: 4096,
      default: 32,
      description: 'RLIMIT_NPROC: processes a program may have',
    },
    maxFileSizeMb: { type: 'integer', minimum: 0, default: 16, description: 'RLIMIT_FSIZE in MiB' },
    maxOpenFiles: { type: 'integer', minimum: 8, maximum: 65536, default: 64, description: 'RLIMIT_NOFILE' },
    maxOutputBytes: {
      type: 'integer',
      minimum: 1024,
      default: 1_000_000,
      description: 'stdout+stderr captured per program; beyond it the program is killed',
    },
    scratchMb: {
      type: 'integer',
      minimum: 1,
      default: 64,
      description: "size of each worker's private scratch tmpfs in MiB",
    },
    sessionCpuSeconds: {
      type: 'number',
      exclusiveMinimum: 0,
      default: 120,
      description: 'stateful: CPU seconds a whole session may use',
    },
    maxSessions: {
      type: 'integer',
      minimum: 1,
      maximum: 1024,
      default: 16,
      description:
        'stateful: live sessions per worker; past it the least recently used one is ended and its next call is told its variables are gone',
    },
    maxObservationChars: { type: 'integer', minimum: 16, default: 4096, description: 'cap on the observation text' },
    errorTailChars: {
      type: 'integer',
      minimum: 0,
      default: 1024,
      description: 'how much of the end of stderr (the traceback) a failed run shows',
    },
    preImport: {
      anyOf: [
        { enum: ['none', 'verl-tool'] },
        { type: 'array', items: { type: 'string', pattern: '^[A-Za-z_][A-Za-z0-9_.]*$' } },
      ],
      default: 'none',
      description:
        "names imported before every program: 'verl-tool' star-imports VeRL-Tool's set (math, itertools, collections, ...), a list star-imports those modules",
    },
  },
} as const;

export type PythonToolOptions = OptionsOf<typeof PYTHON_TOOL_SCHEMA>;

/** The schema's defaults, for building the tool outside a recipe (bench, tests). */
export function pythonToolDefaults(): PythonToolOptions {
  const props = PYTHON_TOOL_SCHEMA.properties as Record<string, { default: unknown }>;
  return Object.fromEntries(
    Object.entries(props).map(([k, v]) => [k, structuredClone(v.default)]),
  ) as PythonToolOptions;
}
