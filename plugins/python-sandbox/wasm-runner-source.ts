// The Python side of the wasm worker: runs inside CPython-in-WebAssembly (pyodide), in the child's
// locked-down vm context. Kept in a TS string so it ships with the compiled package; it must contain
// no backtick and no dollar-brace (run_program comes from run-program-source.ts).

import { RUN_PROGRAM_SOURCE } from './run-program-source.js';

export const WASM_RUNNER_SOURCE = String.raw`
import sys, os, io, gc, json, traceback, builtins, warnings, random, decimal

CFG = json.loads(_agent0_cfg)
del _agent0_cfg
imported = []
for _m in CFG.get('preload', []):
    try:
        __import__(_m)
        imported.append(_m)
    except Exception:
        pass
if CFG.get('warmup'):
    try:
        exec(compile(CFG['warmup'], '<warmup>', 'exec'), {'__name__': '__warmup__'})
    except BaseException:
        pass

# The JS bridge stays out of programs' way: the modules that reach JS are unloaded and re-imports of
# them refused (a guard, not the boundary: the vm context around the interpreter holds no host API).
BRIDGE = ('js', 'pyodide_js', '_pyodide_core', 'pyodide', '_pyodide', 'pyodide_http', 'micropip', 'ctypes', '_ctypes')
def _bridge(name):
    return name in BRIDGE or name.split('.')[0] in BRIDGE

GUARDED = [False]
def _guard(event, args):
    # An audit hook of a program would see every later program on this worker, and nothing removes one.
    if event == 'sys.addaudithook':
        raise RuntimeError('audit hooks are not available in the sandbox')
    if GUARDED[0] and event == 'import' and args and isinstance(args[0], str) and _bridge(args[0]):
        raise ImportError('module %r is not available in the sandbox' % args[0])
sys.addaudithook(_guard)

for _name in list(sys.modules):
    if _bridge(_name):
        del sys.modules[_name]

SCRATCH = '/scratch'
os.makedirs(SCRATCH, exist_ok=True)
HOME = os.getcwd()
BASE_MODULES = {k: v for k, v in sys.modules.items()}
SAVED = {}
for _k, _v in BASE_MODULES.items():
    try:
        SAVED[_k] = dict(_v.__dict__)
    except Exception:
        pass
SAVED_SYS = {'path': list(sys.path), 'meta_path': list(sys.meta_path), 'path_hooks': list(sys.path_hooks),
             'recursion': sys.getrecursionlimit(), 'digits': sys.get_int_max_str_digits()}
SAVED_ENV = dict(os.environ)
SAVED_WARNINGS = list(warnings.filters)
SAVED_DECIMAL = decimal.getcontext().copy()
STREAMS = (sys.stdin, sys.stdout, sys.stderr)
sessions = {}
counter = [0]

def _restore():
    # Undoes what a program changed in the shared interpreter: imports, module attributes, sys
    # settings, the environment, warnings, the decimal context, the working directory, the streams.
    sys.settrace(None)
    sys.setprofile(None)
    for k in [k for k in sys.modules if k not in BASE_MODULES]:
        del sys.modules[k]
    for k, m in BASE_MODULES.items():
        sys.modules[k] = m
        saved = SAVED.get(k)
        if saved is None:
            continue
        try:
            d = m.__dict__
            for name in [n for n in d if n not in saved]:
                del d[name]
            for name, v in saved.items():
                if d.get(name, saved) is not v:
                    d[name] = v
        except Exception:
            pass
    sys.path[:] = SAVED_SYS['path']
    sys.meta_path[:] = SAVED_SYS['meta_path']
    sys.path_hooks[:] = SAVED_SYS['path_hooks']
    sys.path_importer_cache.clear()
    sys.setrecursionlimit(SAVED_SYS['recursion'])
    sys.set_int_max_str_digits(SAVED_SYS['digits'])
    sys.stdin, sys.stdout, sys.stderr = STREAMS
    sys.__stdin__, sys.__stdout__, sys.__stderr__ = STREAMS
    os.environ.clear()
    os.environ.update(SAVED_ENV)
    warnings.filters[:] = SAVED_WARNINGS
    warnings._filters_mutated()
    decimal.setcontext(SAVED_DECIMAL.copy())
    random.seed()
    try:
        os.chdir(HOME)
    except OSError:
        pass

def _rmtree(p):
    try:
        names = os.listdir(p)
    except OSError:
        return
    for n in names:
        q = os.path.join(p, n)
        try:
            if os.path.isdir(q) and not os.path.islink(q):
                _rmtree(q)
                os.rmdir(q)
            else:
                os.unlink(q)
        except OSError:
            pass

def _clean_scratch(keep):
    for n in os.listdir(SCRATCH):
        if n in keep:
            continue
        p = os.path.join(SCRATCH, n)
        if os.path.isdir(p) and not os.path.islink(p):
            _rmtree(p)
            try:
                os.rmdir(p)
            except OSError:
                pass
        else:
            try:
                os.unlink(p)
            except OSError:
                pass

${RUN_PROGRAM_SOURCE}

def _fresh():
    return {'__name__': '__main__', '__builtins__': builtins}

def run(code, session):
    counter[0] += 1
    new = False
    if session is None:
        glb, workdir = _fresh(), os.path.join(SCRATCH, 'c%d' % counter[0])
    else:
        s = sessions.get(session)
        if s is None:
            new = True
            s = sessions[session] = {'glb': _fresh(), 'dir': os.path.join(SCRATCH, 's%d' % counter[0])}
        glb, workdir = s['glb'], s['dir']
    os.makedirs(workdir, exist_ok=True)
    os.chdir(workdir)
    os.environ['HOME'] = workdir
    os.environ['TMPDIR'] = workdir
    GUARDED[0] = True
    try:
        rc = run_program(code, glb)
    finally:
        GUARDED[0] = False
        _restore()
        _clean_scratch({os.path.basename(s['dir']) for s in sessions.values()})
    # No gc.collect() here: a full collection costs about 9 ms, most of a call; Python's own
    # generational collector runs as usual.
    return json.dumps([rc, new])

def end(session):
    sessions.pop(session, None)
    _clean_scratch({os.path.basename(s['dir']) for s in sessions.values()})
    gc.collect()

HELLO = json.dumps({'imports': imported, 'python': sys.version.split()[0]})
`;
