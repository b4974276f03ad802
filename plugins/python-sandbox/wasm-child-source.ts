// The Node child that runs CPython-in-WebAssembly (pyodide) for the 'wasm' isolation mode, passed with
// -e so no project file is read. Kept in TS strings so it ships with the compiled package; they must
// contain no backtick and no dollar-brace.
//
// Layers, outermost first (wasm-worker.ts adds the process-level ones: permission model, no code
// generation from strings, frozen intrinsics, heap cap, network namespace where unshare works):
//  1. pyodide runs in a vm context of its own: only ECMAScript built-ins and the shims below, no
//     process, require, import(), fetch or timers, and code generation from strings refused there too;
//  2. the shims hand the context nothing of this realm: primitives and copies into the context's own
//     typed arrays, no errors or functions of ours, so nothing leads from the context back here;
//  3. this realm, once pyodide is up, drops what could reach the network or load code (require, vm,
//     fetch, WebSocket, process.binding...), before any program runs.

import { WASM_RUNNER_SOURCE } from './wasm-runner-source.js';

/** Runs inside the vm context once, before pyodide: builds the shell-like environment pyodide loads in. */
const CONTEXT_SETUP = String.raw`(function (host, maxPages) {
  'use strict';
  const G = globalThis;
  const fail = (what) => { throw new Error(what); };
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
    async boot(cfgJson, runner) {
      const py = await G.loadPyodide({ indexURL: '/pyodide/', jsglobals: Object.freeze(Object.create(null)), env: { HOME: '/home/sandbox' }, checkAPIVersion: true });
      // Timers served the loader; no program may leave a callback behind for a later program.
      G.setTimeout = () => 0;
      // os stays: emscripten draws every random byte through it.
      for (const k of ['loadPyodide', 'read', 'readbuffer', 'load']) {
        try { delete G[k]; } catch (e) { G[k] = undefined; }
      }
      py.setStdout({ write: (b) => host.write(1, b) });
      py.setStderr({ write: (b) => host.write(2, b) });
      py.setStdin({ stdin: () => host.stdin() });
      const ns = py.runPython('dict()');
      ns.set('_agent0_cfg', cfgJson);
      py.runPython(runner, { globals: ns });
      let codegen = true;
      try { (0, eval)('1'); } catch (e) { codegen = false; }
      try { new Function('return 1'); codegen = true; } catch (e) { /* refused */ }
      return { run: ns.get('run'), end: ns.get('end'), hello: String(ns.get('HELLO')), codegen };
    },
  };
})`;

// Wrapped in a function: Node's -e may run the text as a sloppy script whatever its first line says,
// and the functions the context reaches must be strict (no caller, no global this).
export const WASM_CHILD_SOURCE = String.raw`(function () {
'use strict';
const vm = require('node:vm');
const fs = require('node:fs');
const crypto = require('node:crypto');
const readline = require('node:readline');
const NodeModule = require('node:module');
const CONTEXT_SETUP = ` + JSON.stringify(CONTEXT_SETUP) + String.raw`;
const RUNNER = ` + JSON.stringify(WASM_RUNNER_SOURCE) + String.raw`;
const proc = process;
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

let ctx;
let CtxU8;
let cur = null;
const files = new Map();
let asm;
let asmLoaded = false;
const timers = [];

function toCtx(buf) {
  const a = new CtxU8(buf.length);
  taSet.call(a, buf);
  return a;
}

/** The context's only door to this realm: primitives in, primitives or context-realm arrays out, nothing thrown. */
const host = Object.freeze(Object.assign(Object.create(null), {
  read(p) { return p === '/pyodide/pyodide-lock.json' ? files.get('lock').toString('utf8') : undefined; },
  readbuffer(p) {
    const k = p === '/pyodide/pyodide.asm.wasm' ? 'wasm' : p === '/pyodide/python_stdlib.zip' ? 'stdlib' : '';
    return k ? toCtx(files.get(k)) : undefined;
  },
  load(p) {
    if (p !== '/pyodide/pyodide.asm.js' || asmLoaded) return false;
    asmLoaded = true;
    asm.runInContext(ctx);
    return true;
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
  timer(f, ms) { if (typeof f === 'function') timers.push(setTimeout(f, Math.min(ms, 1000))); return timers.length; },
  write(fd, v) {
    let n;
    try { n = taLength.call(v); } catch (e) { return 0; }
    if (!cur || cur.capped) return n;
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
    if (!cur || cur.stdin === null) return null;
    const s = cur.stdin;
    cur.stdin = null;
    return s;
  },
}));

function flush() {
  if (!cur || cur.pending.length === 0) return;
  send({ id: cur.id, out: cur.pending.map(([fd, b]) => [fd, b.toString('base64')]) });
  cur.pending = [];
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
  const loader = new vm.Script(Buffer.from(cfg.files.loader, 'base64').toString('utf8'), { filename: 'pyodide.js' });
  cfg.files = null;
  ctx = vm.createContext({}, { name: 'sandbox', codeGeneration: { strings: false, wasm: true } });
  CtxU8 = vm.runInContext('Uint8Array', ctx);
  const maxPages = cfg.memoryMb > 0 ? Math.max(cfg.memoryMb, 64) * 16 : 0;
  const api = vm.runInContext(CONTEXT_SETUP, ctx)(host, maxPages);
  loader.runInContext(ctx);
  const layers = selfCheck();
  const r = await api.boot(JSON.stringify({ preload: cfg.preload, warmup: cfg.warmup }), RUNNER);
  for (const t of timers) clearTimeout(t);
  const run = r.run;
  const end = r.end;
  const hello = JSON.parse(String(r.hello));
  layers.contextCodegenDenied = r.codegen === false;
  files.clear();
  lockDown();
  return { run, end, hello: { ready: true, imports: hello.imports, python: hello.python, layers } };
}

function handle(req, py) {
  if (req.op === 'end') {
    try { py.end(String(req.session)); } catch (e) { /* gone with the interpreter */ }
    send({ id: req.id, status: 'ok' });
    return;
  }
  const t0 = performance.now();
  cur = { id: req.id, cap: req.max_output, bytes: 0, pending: [], capped: false, stdin: typeof req.stdin === 'string' && req.stdin ? req.stdin : null };
  let rc = 70;
  let fresh = false;
  let crashed = null;
  try {
    // undefined, not null: pyodide hands JS null to Python as jsnull, undefined as None.
    const out = JSON.parse(String(py.run(String(req.code), req.session === undefined ? undefined : String(req.session))));
    if (Array.isArray(out) && typeof out[0] === 'number') { rc = out[0]; fresh = out[1] === true; }
  } catch (e) {
    let msg = 'unknown error';
    try { msg = String(e && e.message).slice(0, 300); } catch (e2) { /* a hostile getter */ }
    crashed = msg;
  }
  flush();
  const reply = { id: req.id, status: rc === 0 ? 'ok' : 'error', exit_code: rc, wall_ms: performance.now() - t0, session_new: fresh, rss: proc.memoryUsage.rss() };
  if (crashed !== null) Object.assign(reply, { status: 'killed', exit_code: null, fatal: true, reason: 'the interpreter failed and was restarted (' + crashed + ')' });
  cur = null;
  send(reply);
  if (crashed !== null) proc.exit(70);
}

const lines = readline.createInterface({ input: proc.stdin, crlfDelay: Infinity });
let py = null;
let booting = false;
const queue = [];
lines.on('line', (line) => {
  let msg;
  try { msg = JSON.parse(line); } catch (e) { return; }
  if (!booting) {
    booting = true;
    boot(msg).then((b) => {
      py = b;
      send(b.hello);
      while (queue.length) handle(queue.shift(), py);
    }, (e) => {
      proc.stderr.write('boot failed: ' + (e && e.stack || e) + '\n');
      proc.exit(71);
    });
    return;
  }
  if (py === null) queue.push(msg);
  else handle(msg, py);
});
lines.on('close', () => proc.exit(0));
})();
`;
