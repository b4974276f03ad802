import type { InterpreterInfo, IsolationChoice } from './isolation.js';
import { findPyodide, wasmLaunch, type PyodidePackage, type WasmLaunch } from './wasm-isolation.js';

/** What the 'wasm' mode lacks on every machine, beside the launch layers this one could not add. */
export const WASM_ALWAYS_MISSING = [
  'packages outside the standard library (numpy, sympy: the pyodide npm package brings none)',
  'subprocesses and threads',
  'a process of its own per program (each program has a fresh interpreter in a vm context of its own, in one Node process per worker)',
];

/** The wasm mode as an isolation choice, or why it cannot run here (pyodide not installed). */
export function wasmChoice(
  notes: string[],
): (ReturnType<typeof choice> & { pkg: PyodidePackage; launch: WasmLaunch }) | string {
  const pkg = findPyodide();
  if (typeof pkg === 'string') return `CPython in WebAssembly: ${pkg}`;
  const launch = wasmLaunch();
  return { ...choice(pkg, launch, notes), pkg, launch };
}

function choice(
  pkg: PyodidePackage,
  launch: WasmLaunch,
  notes: string[],
): { interpreter: InterpreterInfo; choice: IsolationChoice } {
  return {
    // The version and the importable modules are filled in from the first worker's hello.
    interpreter: {
      exe: `pyodide ${pkg.version} (CPython in WebAssembly)`,
      version: '',
      prefix: '/',
      basePrefix: '/',
      path: [],
      has: [],
    },
    choice: {
      mode: 'wasm',
      missing: [...WASM_ALWAYS_MISSING, ...launch.missing],
      notes: [...notes, ...launch.notes],
      features: { disableUserns: false, asPid1: false },
    },
  };
}

const LAYERS: Record<string, string> = {
  strict: 'strict-mode bootstrap',
  fsDenied: "Node's permission model (files)",
  childDenied: "Node's permission model (child processes)",
  codegenDenied: 'no code generation from strings in the Node child',
  frozenIntrinsics: 'frozen intrinsics in the Node child',
  contextCodegenDenied: "no code generation from strings in the interpreter's vm context",
};

/** The layers the child reported it could not put in place (a Node without them, say). */
export function wasmGuardsMissing(hello: Record<string, unknown> | undefined): string[] {
  const layers = (hello?.layers ?? {}) as Record<string, unknown>;
  return Object.entries(LAYERS)
    .filter(([k]) => layers[k] !== true)
    .map(([, what]) => what);
}
