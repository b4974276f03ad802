// The Node child that runs CPython-in-WebAssembly (pyodide) for the 'wasm' isolation mode, passed with
// -e so no project file is read (the Python runner, python/agent0_sandbox, and pyodide's files come on
// stdin). Kept in TS strings so it ships with the compiled package; they must contain no backtick and
// no dollar-brace.
//
// Layers, outermost first (wasm-worker.ts adds the process-level ones: permission model, no code
// generation from strings, frozen intrinsics, heap cap, network namespace where unshare works):
//  1. pyodide runs in a vm context of its own: only ECMAScript built-ins and the shims below, no
//     process, require, import(), fetch or timers, and code generation from strings refused there too;
//  2. the shims hand the context nothing of this realm: primitives and copies into the context's own
//     typed arrays, no errors or functions of ours, so nothing leads from the context back here;
//  3. this realm, once pyodide is up, drops what could reach the network or load code (require, vm,
//     fetch, WebSocket, process.binding...), before any program runs.
//
// Programs do not share an interpreter: each runs in a fresh one restored from a memory snapshot (made
// at boot, before any program) in a vm context of its own, which is dropped after the call; a stateful
// session keeps its own until it ends. The next fresh interpreter is made while the worker is idle.

/** Runs once in each new vm context, before pyodide: builds the shell-like environment pyodide loads in. */
const CONTEXT_SETUP = String.raw`(function (host, maxPages) {
  'use strict';
  const G = globalThis;
  const fail = (what) => { throw new Error(what); };
  // bootstrap.py builds the agent0_sandbox package from the sources the parent sent; the runner is then
  // a module that every interpreter restored from the snapshot finds by name.
  const BOOT_RUNNER = 'import json, sys\nrunner = json.loads(runner)\nb = {"__name__": "agent0_sandbox_bootstrap"}\n'
    + 'exec(compile(runner["bootstrap"], "<agent0_sandbox.bootstrap>", "exec"), b)\nb["load"](runner["modules"])\n'
    + 'hello = sys.modules["agent0_sandbox.wasm_runner"].setup(cfg)\ndel b, runner, cfg, json, sys\n';
  G.read = (p) => { const s = host.read(String(p)); return typeof s === 'string' ? s : fail('no such file: ' + p); };
  G.readbuffer = (p) => { const b = host.readbuffer(String(p)); return b ? b.buffer : fail('no such file: ' + p); };
  G.load = (p) => { if (!host.load(String(p))) fail('cannot load ' + p); };
  G.print = (s) => host.log(String(s));
  G.printErr = (s) => host.log(String(s));
  G.console = { log: G.print, info: G.print, debug: G.print, warn: G.print, error: G.print, trace: G.print };
  G.performance = { now: () => host.now() };
  // emscripten's shell build draws random bytes through d8's os.system("head -c N /dev/urandom | base64").
  G.os = { system(cmd, args) { const m = /head -c([0-9]+) /.exec(String(args && args[1])); return m ? host.random64(Number(m[1])) : fail('os.system is not available'); } };
  G.setTimeout = (f, ms, ...a) => host.timer(() => f(...a), Number(ms) || 0);
  G.clearTimeout = () => {};
  G.TextEncoder = class TextEncoder {
    get encoding() { return 'utf-8'; }
    encode(s = '') { return host.encode(String(s)); }
    encodeInto(s, dest) { const u = host.encode(String(s)); const n = Math.min(u.length, dest.length); dest.set(u.subarray(0, n)); return { read: String(s).length, written: n }; }
  };
  G.TextDecoder = class TextDecoder {
    constructor(label = 'utf-8', opts = {}) { this.fatal = !!(opts && opts.fatal); }
    get encoding() { return 'utf-8'; }
    decode(v) {
      if (v === undefined) return '';
      const u = ArrayBuffer.isView(v) ? new Uint8Array(v.buffer, v.byteOffset, v.byteLength) : new Uint8Array(v);
      const s = host.decode(u, this.fatal);
      return typeof s === 'string' ? s : fail('The encoded data was not valid for encoding utf-8');
    }
  };
  // The interpreter's heap is a WebAssembly.Memory created here: its maximum is the memory cap, so
  // growing past it fails inside Python (MemoryError), whether asked through JS or by memory.grow.
  if (maxPages > 0) {
    const Real = WebAssembly.Memory;
    const Capped = function Memory(desc) {
      const d = Object.assign({}, desc);
      if (!d.shared) d.maximum = Math.min(d.maximum === undefined ? maxPages : d.maximum, maxPages);
      return new Real(d);
    };
    Capped.prototype = Real.prototype;
    WebAssembly.Memory = Capped;
  }
  return {
    // make: boot from the package's files, run the runner's setup (preload, warm-up) and return a
    // memory snapshot; otherwise: restore that snapshot and arm a fresh interpreter for one program.
    async boot(make, cfgJson, runner) {
      const opts = { indexURL: '/pyodide/', jsglobals: Object.freeze(Object.create(null)), env: { HOME: '/home/sandbox' }, checkAPIVersion: true };
      if (make) opts._makeSnapshot = true;
      else opts._loadSnapshot = host.snapshot();
      const py = await G.loadPyodide(opts);
      // pyodide keeps the snapshot and the wasm bytes it started from: 30 MB per live interpreter.
      py._api.config._loadSnapshot = undefined;
      py._module.instantiateWasm = undefined;
      // Timers served the loader; no program may leave a callback behind.
      G.setTimeout = () => 0;
      // os stays: emscripten draws every random byte through it.
      for (const k of ['loadPyodide', 'read', 'readbuffer', 'load']) {
        try { delete G[k]; } catch (e) { G[k] = undefined; }
      }
      let codegen = true;
      try { (0, eval)('1'); } catch (e) { codegen = false; }
      try { new Function('return 1'); codegen = true; } catch (e) { /* refused */ }
      if (make) {
        const ns = py.runPython('dict()');
        ns.set('runner', runner);
        ns.set('cfg', cfgJson);
        py.runPython(BOOT_RUNNER, { globals: ns });
        const hello = String(ns.get('hello'));
        ns.destroy();
        return { snapshot: py.makeMemorySnapshot(), hello, codegen };
      }
      py.setStdout({ write: (b) => host.write(1, b) });
      py.setStderr({ write: (b) => host.write(2, b) });
      py.setStdin({ stdin: () => host.stdin() });
      const mod = py.pyimport('agent0_sandbox.wasm_runner');
      const hello = String(mod.arm());
      return { run: mod.run, hello, codegen };
    },
  };
})`;

// Wrapped in a function: Node's -e may run the text as a sloppy script whatever its first line says,
// and the functions the context reaches must be strict (no caller, no global this).
export const WASM_CHILD_SOURCE =
  String.raw`(function () {
'use strict';
const vm = require('node:vm');
const fs = require('node:fs');
const crypto = require('node:crypto');
const readline = require('node:readline');
const NodeModule = require('node:module');
const proc = process;
// Taken before lockDown() removes them: every fresh interpreter needs a context of its own.
const createContext = vm.createContext;
const runScript = vm.Script.prototype.runInContext;
const setupScript = new vm.Script(` +
  JSON.stringify(CONTEXT_SETUP) +
  String.raw`, { filename: 'agent0-context-setup.js' });
const typedArraysScript = new vm.Script('[Uint8Array, Int8Array]', { filename: 'agent0-typed-arrays.js' });
// --expose-gc: the interpreter a program used is collected while the worker is idle, not in a later call
// (gc is a non-configurable global of this realm, which no context reaches).
const collect = typeof globalThis.gc === 'function' ? globalThis.gc : null;
const wait = new Int32Array(new SharedArrayBuffer(4));
const u8proto = Object.getPrototypeOf(Uint8Array.prototype);
const taBuffer = Object.getOwnPropertyDescriptor(u8proto, 'buffer').get;
const taOffset = Object.getOwnPropertyDescriptor(u8proto, 'byteOffset').get;
const taLength = Object.getOwnPropertyDescriptor(u8proto, 'byteLength').get;
const taSet = u8proto.set;

function writeAll(s) {
  const b = Buffer.from(s + '\n', 'utf8');
  let off = 0;
  while (off < b.length) {
    try {
      off += fs.writeSync(1, b, off, b.length - off);
    } catch (e) {
      if (e.code !== 'EAGAIN') throw e;
      Atomics.wait(wait, 0, 0, 2);
    }
  }
}
const send = (o) => writeAll(JSON.stringify(o));

const files = new Map();
let asm;
let loader;
let maxPages = 0;
/** The Python runner's sources (python/agent0_sandbox, sent by the parent), as JSON for the maker. */
let runnerJson = '';
/** The memory snapshot every interpreter starts from (this realm's copy). */
let snapshot = null;
/** The call in progress: only its interpreter's host may write output or read stdin. */
let cur = null;

/** A copy of a context's typed array in this realm, read with this realm's getters (no context code runs). */
function fromCtx(v) {
  return Buffer.from(new Uint8Array(taBuffer.call(v), taOffset.call(v), taLength.call(v)));
}

/**
 * The context's only door to this realm: primitives in, primitives or context-realm arrays out,
 * nothing thrown. One per interpreter: the package's files only while it boots, output and stdin
 * only while a call of its own runs, so an interpreter kept for a session can reach no other's call.
 */
function makeHost(it) {
  const toCtx = (buf) => {
    const a = new it.CtxU8(buf.length);
    taSet.call(a, buf);
    return a;
  };
  return Object.freeze(Object.assign(Object.create(null), {
    read(p) { return it.booting && p === '/pyodide/pyodide-lock.json' ? files.get('lock').toString('utf8') : undefined; },
    readbuffer(p) {
      const k = p === '/pyodide/pyodide.asm.wasm' ? 'wasm' : p === '/pyodide/python_stdlib.zip' ? 'stdlib' : '';
      return it.booting && k ? toCtx(files.get(k)) : undefined;
    },
    load(p) {
      if (!it.booting || p !== '/pyodide/pyodide.asm.js' || it.asmLoaded) return false;
      it.asmLoaded = true;
      runScript.call(asm, it.ctx);
      return true;
    },
    snapshot() {
      if (!it.booting || snapshot === null) return undefined;
      // An Int8Array like the interpreter's heap: restoring it is then a plain copy, not a conversion.
      const a = new it.CtxI8(snapshot.length);
      taSet.call(a, new Int8Array(snapshot.buffer, snapshot.byteOffset, snapshot.length));
      return a;
    },
    log(s) { if (!cur) proc.stderr.write(String(s).slice(0, 2000) + '\n'); },
    now() { return performance.now(); },
    random64(n) { return n >= 0 && n <= 65536 ? crypto.randomBytes(n).toString('base64') : ''; },
    encode(s) { return toCtx(Buffer.from(String(s), 'utf8')); },
    decode(v, fatal) {
      try {
        const b = new Uint8Array(taBuffer.call(v), taOffset.call(v), taLength.call(v));
        return new TextDecoder('utf-8', { fatal: fatal === true }).decode(b);
      } catch (e) {
        return null;
      }
    },
    timer(f, ms) {
      if (!it.booting || typeof f !== 'function') return 0;
      it.timers.push(setTimeout(f, Math.min(ms, 1000)));
      return it.timers.length;
    },
    write(fd, v) {
      let n;
      try { n = taLength.call(v); } catch (e) { return 0; }
      if (!cur || cur.it !== it || cur.capped) return n;
      const room = cur.cap - cur.bytes;
      const take = Math.min(n, Math.max(room, 0));
      if (take > 0) {
        const copy = Buffer.alloc(take);
        copy.set(new Uint8Array(taBuffer.call(v), taOffset.call(v), take));
        cur.pending.push([fd, copy]);
        cur.bytes += take;
      }
      // Sent at once, as the process worker's pipes do: a program killed at its deadline still shows what
      // it printed (Python buffers the writes of a program that does not flush, so there are few).
      flush();
      if (n > room) {
        // Past the cap: Node kills this process at once (wasm-worker.ts); the program is not stopped here.
        cur.capped = true;
        send({ id: cur.id, cap: true });
      }
      return n;
    },
    stdin() {
      if (!cur || cur.it !== it || cur.stdin === null) return null;
      const s = cur.stdin;
      cur.stdin = null;
      return s;
    },
  }));
}

function flush() {
  if (!cur || cur.pending.length === 0) return;
  send({ id: cur.id, out: cur.pending.map(([fd, b]) => [fd, b.toString('base64')]) });
  cur.pending = [];
}

/**
 * A new vm context with pyodide in it: the first one makes the snapshot (make), every other one is a
 * fresh interpreter restored from it. Nothing but this realm's host links two contexts.
 */
async function bootContext(make, cfgJson) {
  const it = { ctx: null, CtxU8: null, CtxI8: null, booting: true, asmLoaded: false, timers: [] };
  it.ctx = createContext({}, { name: 'sandbox', codeGeneration: { strings: false, wasm: true } });
  const typed = runScript.call(typedArraysScript, it.ctx);
  it.CtxU8 = typed[0];
  it.CtxI8 = typed[1];
  const api = runScript.call(setupScript, it.ctx)(makeHost(it), maxPages);
  runScript.call(loader, it.ctx);
  let r;
  try {
    r = await api.boot(make, cfgJson, runnerJson);
  } finally {
    it.booting = false;
    for (const t of it.timers) clearTimeout(t);
    it.timers = [];
  }
  return { it, r };
}

/** A fresh interpreter: its context, its run function, the hello its runner keeps. */
async function freshInterpreter() {
  const { it, r } = await bootContext(false, '');
  return { it, run: r.run, hello: String(r.hello), codegen: r.codegen === true };
}

let spare = null;
/** The next fresh interpreter, made ahead while the worker is idle. */
function prepare() {
  if (spare === null) {
    spare = freshInterpreter();
    spare.catch(() => {});
  }
}
function take() {
  prepare();
  const p = spare;
  spare = null;
  return p;
}

/** What this realm drops once pyodide is up: nothing left here may load code or open a socket. */
function lockDown() {
  const refuse = (what) => function () { throw new Error(what + ' is not available in the sandbox'); };
  NodeModule._load = refuse('loading modules');
  for (const k of ['runInThisContext', 'runInContext', 'runInNewContext', 'compileFunction', 'createContext', 'createScript', 'measureMemory']) {
    try { vm[k] = refuse('vm.' + k); } catch (e) { /* frozen */ }
  }
  for (const k of ['Script', 'SourceTextModule', 'SyntheticModule']) {
    try { vm[k] = refuse('vm.' + k); } catch (e) { /* frozen */ }
  }
  for (const k of ['binding', '_linkedBinding', 'dlopen', 'openStdin', 'chdir', 'kill']) {
    try { proc[k] = refuse('process.' + k); } catch (e) { /* frozen */ }
  }
  for (const k of ['require', 'module', 'exports', '__filename', '__dirname', 'fetch', 'WebSocket', 'EventSource', 'XMLHttpRequest',
    'Request', 'Response', 'Headers', 'FormData', 'navigator', 'BroadcastChannel', 'MessageChannel', 'MessagePort', 'Worker', 'WebAssembly']) {
    try { delete globalThis[k]; } catch (e) { /* not configurable */ }
  }
}

/** Checks the process-level layers from inside, for the hello (the parent lists any that failed). */
function selfCheck() {
  const layers = { strict: (function () { return this === undefined; })() };
  try { fs.readFileSync('/'); layers.fsDenied = false; } catch (e) { layers.fsDenied = e.code === 'ERR_ACCESS_DENIED'; }
  try { eval('1'); layers.codegenDenied = false; } catch (e) { layers.codegenDenied = e instanceof EvalError; }
  try { Object.prototype.__agent0 = 1; delete Object.prototype.__agent0; layers.frozenIntrinsics = false; } catch (e) { layers.frozenIntrinsics = true; }
  try { require('node:child_process').spawnSync('true'); layers.childDenied = false; } catch (e) { layers.childDenied = e.code === 'ERR_ACCESS_DENIED'; }
  return layers;
}

async function boot(cfg) {
  files.set('lock', Buffer.from(cfg.files.lock, 'base64'));
  files.set('wasm', Buffer.from(cfg.files.wasm, 'base64'));
  files.set('stdlib', Buffer.from(cfg.files.stdlib, 'base64'));
  asm = new vm.Script(Buffer.from(cfg.files.asm, 'base64').toString('utf8'), { filename: 'pyodide.asm.js' });
  loader = new vm.Script(Buffer.from(cfg.files.loader, 'base64').toString('utf8'), { filename: 'pyodide.js' });
  cfg.files = null;
  runnerJson = JSON.stringify(cfg.runner);
  maxPages = cfg.memoryMb > 0 ? Math.max(cfg.memoryMb, 64) * 16 : 0;
  const layers = selfCheck();
  // null: the snapshot came from the parent; else whether the maker's context refused code generation.
  let makerDenied = null;
  if (typeof cfg.snapshot === 'string') {
    // Made by an earlier child of this pool before any program ran in it: a restart skips the slow boot.
    snapshot = Buffer.from(cfg.snapshot, 'base64');
    cfg.snapshot = null;
  } else {
    // Made before any program exists, from trusted code only (the preload imports, the warm-up).
    const maker = await bootContext(true, JSON.stringify({ preload: cfg.preload, warmup: cfg.warmup }));
    snapshot = fromCtx(maker.r.snapshot);
    makerDenied = maker.r.codegen === false;
  }
  lockDown();
  const first = await freshInterpreter();
  layers.contextCodegenDenied = first.codegen === false && makerDenied !== false;
  spare = Promise.resolve(first);
  const hello = JSON.parse(first.hello);
  return { ready: true, imports: hello.imports, python: hello.python, layers, ...(makerDenied === null ? {} : { snapshot: snapshot.toString('base64') }) };
}

/**
 * Live stateful sessions, least recently used first. Each holds an interpreter (about 45 MB resident
 * and 9 MB of this process's 256 MB JS heap); past the tool's maxSessions (16 by default) the least
 * recently used one is dropped, and its next call starts afresh and says its state was lost.
 */
const MAX_SESSIONS = 16;
const sessions = new Map();

function reply(req, t0, rc, extra) {
  return Object.assign({ id: req.id, status: rc === 0 ? 'ok' : 'error', exit_code: rc, wall_ms: performance.now() - t0 }, extra);
}

async function handle(req) {
  const waited = performance.now();
  if (req.op === 'end') {
    sessions.delete(String(req.session));
    send({ id: req.id, status: 'ok' });
    return;
  }
  const session = req.session === undefined ? undefined : String(req.session);
  let interp = session === undefined ? undefined : sessions.get(session);
  const fresh = session !== undefined && interp === undefined;
  if (interp !== undefined) {
    sessions.delete(session);
    sessions.set(session, interp);
  } else if (session !== undefined) {
    const cap = Number.isInteger(req.max_sessions) && req.max_sessions > 0 ? req.max_sessions : MAX_SESSIONS;
    while (sessions.size >= cap) sessions.delete(sessions.keys().next().value);
  }
  if (interp === undefined) {
    try {
      interp = await take();
    } catch (e) {
      // No interpreter can be made (out of memory, say): the parent starts a new child.
      send(reply(req, waited, null, { status: 'killed', exit_code: null, fatal: true, reason: 'no fresh interpreter could be made (' + String(e && e.message).slice(0, 300) + ')' }));
      proc.exit(70);
    }
    if (session !== undefined) sessions.set(session, interp);
  }
  // The program's deadline starts now, not while it waited for its interpreter.
  send({ id: req.id, start: true });
  const t0 = performance.now();
  cur = { id: req.id, it: interp.it, cap: req.max_output, bytes: 0, pending: [], capped: false, stdin: typeof req.stdin === 'string' && req.stdin ? req.stdin : null };
  let rc = 70;
  let crashed = null;
  try {
    const out = interp.run(String(req.code));
    if (typeof out === 'number') rc = out;
  } catch (e) {
    let msg = 'unknown error';
    try { msg = String(e && e.message).slice(0, 300); } catch (e2) { /* a hostile getter */ }
    crashed = msg;
  }
  flush();
  cur = null;
  // A program's interpreter serves nothing else; a session's serves its later cells.
  if (session !== undefined && crashed !== null) sessions.delete(session);
  const extra = { session_new: fresh };
  if (crashed !== null) Object.assign(extra, { status: 'killed', exit_code: null, reason: 'the interpreter failed (' + crashed + ')', session_lost: session !== undefined });
  send(reply(req, t0, rc, extra));
}

const lines = readline.createInterface({ input: proc.stdin, crlfDelay: Infinity });
let ready = false;
let booting = false;
let busy = false;
const queue = [];
async function pump() {
  if (busy || !ready) return;
  busy = true;
  while (queue.length) await handle(queue.shift());
  busy = false;
  // Idle: make the next interpreter now, then collect the used ones unless a call is already waiting.
  prepare();
  spare.then(() => { if (!busy && queue.length === 0 && collect) collect(); }, () => {});
}
lines.on('line', (line) => {
  let msg;
  try { msg = JSON.parse(line); } catch (e) { return; }
  if (!booting) {
    booting = true;
    boot(msg).then((hello) => {
      ready = true;
      send(hello);
      pump();
    }, (e) => {
      proc.stderr.write('boot failed: ' + (e && e.stack || e) + '\n');
      proc.exit(71);
    });
    return;
  }
  queue.push(msg);
  pump();
});
lines.on('close', () => proc.exit(0));
})();
`;
