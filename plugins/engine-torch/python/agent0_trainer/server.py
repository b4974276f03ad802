"""Rank 0's HTTP front: Tinker-shaped training routes (futures), OpenAI-style /v1/completions, and
agent0 extensions. One executor thread runs requests in arrival order on every rank.

Security: binds 127.0.0.1 by default, takes JSON (or the binary tensor frame) only, checks the Host
header against the bound address when bound to loopback (no DNS rebinding), and requires a bearer
token when one is configured. The service reads and writes the paths it is given, so keep it private.
"""
import hmac
import itertools
import json
import queue
import socket
import threading
import time
import traceback
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import torch

from . import PROTOCOL_VERSION, __version__, sample_op, wire
from .compat import versions
from .engine import RequestError, merge

TRAINING_ROUTES = {
    "/api/v1/create_model": "create_model",
    "/api/v1/forward": "forward",
    "/api/v1/forward_backward": "forward_backward",
    "/api/v1/optim_step": "optim_step",
    "/api/v1/save_weights_for_sampler": "save_weights_for_sampler",
    "/api/v1/save_weights": "save_weights",
    "/api/v1/load_weights": "load_weights",
    "/api/v1/unload_model": "unload_model",
    "/agent0/snapshot": "snapshot",
}
LOOPBACK = {"127.0.0.1", "localhost", "::1", "[::1]"}


class Future:
    def __init__(self, rid, op):
        self.id, self.op = rid, op
        self.done = threading.Event()
        self.result = None
        self.error = None
        self.created = time.time()


class Service:
    def __init__(self, engine, comm, opts, log):
        self.engine, self.comm, self.opts, self.log = engine, comm, opts, log
        self.jobs = queue.Queue()
        self.futures = {}
        self.ids = itertools.count(1)
        self.models = itertools.count(0)
        self.lock = threading.Lock()
        self.busy_since = None
        self.pushback = None

    # ---- executor (rank 0) ------------------------------------------------------------------
    def submit(self, op, args):
        f = Future(str(next(self.ids)), op)
        with self.lock:
            self.futures[f.id] = f
            self._expire()
        self.jobs.put((op, args, f))
        return f

    def _expire(self):
        cutoff = time.time() - 3600
        for k in [k for k, f in self.futures.items() if f.done.is_set() and f.created < cutoff]:
            del self.futures[k]

    def _next(self, timeout=None):
        if self.pushback is not None:
            job, self.pushback = self.pushback, None
            return job
        return self.jobs.get() if timeout is None else self.jobs.get(timeout=timeout)

    def run_executor(self):
        while True:
            op, args, f = self._next()
            if op == "sample":
                # Completion requests that arrive together decode as one batch (a short window lets
                # a burst of concurrent clients gather); anything else keeps its place in line.
                batch = [(args, f)]
                rows = len(args["rows"])
                deadline = time.time() + self.opts["batch_window_ms"] / 1000.0
                while rows < self.opts["max_sample_rows"]:
                    try:
                        nxt = self._next(timeout=max(0.0, deadline - time.time()))
                    except queue.Empty:
                        break
                    if nxt[0] != "sample" or nxt[1]["model_id"] != args["model_id"]:
                        self.pushback = nxt
                        break
                    batch.append((nxt[1], nxt[2]))
                    rows += len(nxt[1]["rows"])
                self._run_one("sample_many", {"model_id": args["model_id"], "requests": [b[0] for b in batch]}, [b[1] for b in batch])
                continue
            if op == "shutdown":
                self.comm.broadcast({"op": "shutdown"})
                f.result = {"ok": True}
                f.done.set()
                return
            self._run_one(op, args, [f])

    def _run_one(self, op, args, futures):
        self.busy_since = time.time()
        try:
            self.comm.broadcast({"op": op, "args": args})
            parts = self.comm.gather(execute(self.engine, op, args))
            errors = [p["__error__"] for p in parts if isinstance(p, dict) and "__error__" in p]
            if errors:
                raise errors[0]
            result = merge(op, parts) if op != "sample_many" else sample_op.merge(parts)
            if op == "sample_many":
                for fut, res in zip(futures, result):
                    fut.result = res
            else:
                futures[0].result = result
        except Exception as e:  # noqa: BLE001 - every failure is reported on the future
            for fut in futures:
                fut.error = e
            if not isinstance(e, (RequestError, wire.WireError)):
                self.log(f"{op} failed: {''.join(traceback.format_exception_only(type(e), e)).strip()}")
        finally:
            self.busy_since = None
            for fut in futures:
                fut.done.set()


def execute(engine, op, args):
    """Runs one broadcast operation on this rank; errors travel back as values (ranks never hang on them)."""
    try:
        if op == "sample_many":
            return sample_op.run(engine, args)
        return getattr(engine, op)(args)
    except (ValueError, FileNotFoundError) as e:
        # what a request asked for cannot be done (an unknown kl_type, a missing folder): the client's to fix
        return {"__error__": e if isinstance(e, (RequestError, wire.WireError)) else RequestError(f"{type(e).__name__}: {e}")}
    except Exception as e:  # noqa: BLE001
        return {"__error__": RuntimeError(f"rank {engine.comm.rank}: {type(e).__name__}: {e}")}


def worker_loop(engine, comm):
    """Ranks > 0: run whatever rank 0 broadcasts until it says shutdown."""
    while True:
        msg = comm.broadcast(None)
        if msg["op"] == "shutdown":
            return
        comm.gather(execute(engine, msg["op"], msg["args"]))


# ---- HTTP ------------------------------------------------------------------------------------
def make_handler(svc):
    opts = svc.opts

    class Handler(BaseHTTPRequestHandler):
        server_version = f"agent0-trainer/{__version__}"
        protocol_version = "HTTP/1.1"

        def setup(self):
            super().setup()
            # headers and body leave in one write, and without Nagle's delay (40 ms per reply otherwise)
            self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

        def log_message(self, fmt, *a):
            if opts.get("access_log"):
                svc.log(fmt % a)

        # -- plumbing --
        def _send(self, status, obj):
            binary = wire.BINARY in (self.headers.get("Accept") or "")
            body, ctype = wire.encode(obj, binary)
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self._headers_buffer.append(b"\r\n")
            self.wfile.write(b"".join(self._headers_buffer) + body)
            self._headers_buffer = []

        def _error(self, status, message, kind="invalid_request_error"):
            self._send(status, {"detail": message, "error": {"message": message, "type": kind}})

        def _guard(self):
            host = _host_name(self.headers.get("Host") or "")
            if opts["host"] in LOOPBACK and host not in LOOPBACK:
                self._error(403, f"Host '{host}' is not this loopback service")
                return False
            key = opts.get("api_key")
            if key:
                auth = self.headers.get("Authorization") or ""
                if not (auth.startswith("Bearer ") and hmac.compare_digest(auth[7:].encode(), key.encode())):
                    self._error(401, "missing or wrong bearer token", "authentication_error")
                    return False
            return True

        def _body(self):
            n = int(self.headers.get("Content-Length") or 0)
            if n > opts["max_body_bytes"]:
                raise wire.WireError(f"body of {n} bytes is over the limit of {opts['max_body_bytes']}")
            raw = self.rfile.read(n) if n else b""
            return wire.decode(raw, self.headers.get("Content-Type"))

        # -- routes --
        def do_GET(self):
            if not self._guard():
                return
            path = self.path.split("?")[0]
            if path in ("/agent0/info", "/health", "/api/v1/healthz"):
                self._send(200, info(svc))
            elif path == "/v1/models":
                self._send(200, {"object": "list", "data": [{"id": k, "object": "model", "owned_by": "agent0"} for k in svc.engine.slots]})
            else:
                self._error(404, f"no route GET {path}", "not_found_error")

        def do_POST(self):
            if not self._guard():
                return
            path = self.path.split("?")[0]
            try:
                body = self._body()
                if not isinstance(body, dict):
                    raise wire.WireError("the body must be a JSON object")
                if path in TRAINING_ROUTES:
                    op = TRAINING_ROUTES[path]
                    args = training_args(svc, op, body)
                    f = svc.submit(op, args)
                    self._send(200, {"request_id": f.id, "future_id": f.id, "status": "pending", "model_id": args.get("target_id") or args.get("model_id")})
                elif path == "/api/v1/retrieve_future":
                    self._retrieve(body)
                elif path in ("/v1/completions", "/completions"):
                    reqs = sample_op.parse(svc, body)
                    f = svc.submit("sample", reqs)
                    f.done.wait()
                    if f.error is not None:
                        raise f.error
                    self._send(200, sample_op.response(body, reqs, f.result))
                elif path == "/agent0/memory":
                    self._send(200, memory(bool(body.get("reset", False))))
                elif path == "/agent0/shutdown":
                    f = svc.submit("shutdown", {})
                    f.done.wait(60)
                    self._send(200, {"ok": True})
                    threading.Thread(target=self.server.shutdown, daemon=True).start()
                else:
                    self._error(404, f"no route POST {path}", "not_found_error")
            except (RequestError, wire.WireError, KeyError, TypeError, json.JSONDecodeError) as e:
                self._error(400, _msg(e))
            except Exception as e:  # noqa: BLE001
                self._error(500, f"{type(e).__name__}: {e}", "server_error")

        def _retrieve(self, body):
            rid = str(body.get("request_id", ""))
            with svc.lock:
                f = svc.futures.get(rid)
            if f is None:
                self._error(404, f"no future '{rid}'", "not_found_error")
                return
            if not f.done.wait(float(body.get("timeout", opts["retrieve_timeout_s"]))):
                self._send(408, {"type": "try_again", "request_id": rid, "detail": "not finished yet", "queue_state": "active"})
                return
            if f.error is not None:
                status = 400 if isinstance(f.error, (RequestError, wire.WireError)) else 500
                self._send(status, {"detail": _msg(f.error), "error": _msg(f.error), "status": "failed", "request_id": rid})
                return
            self._send(200, result_body(f.op, f.result))

    return Handler


def _host_name(header):
    """'127.0.0.1:8300' → 127.0.0.1, '[::1]:8300' and '[::1]' → ::1, 'localhost' → localhost."""
    h = header.strip()
    if h.startswith("["):
        return h[1:h.find("]")] if "]" in h else h
    return h.rsplit(":", 1)[0] if h.count(":") == 1 else h


def _msg(e):
    if isinstance(e, KeyError):
        return f"missing field {e}"
    return str(e)


def info(svc):
    e = svc.engine
    return {
        "service": "agent0-trainer", "protocol": PROTOCOL_VERSION, "version": __version__, **versions(),
        "world_size": svc.comm.world, "device": str(e.comm.device) if e.device_kind == "cpu" else e.device_kind,
        "device_name": torch.cuda.get_device_name(0) if e.device_kind == "cuda" else "cpu",
        "defaults": {k: v for k, v in e.defaults.items()},
        "models": [e.describe(s) for s in e.slots.values()],
        "busy_s": (time.time() - svc.busy_since) if svc.busy_since else 0.0, "memory": memory(),
        "queued": svc.jobs.qsize(),
    }


def memory(reset=False):
    """Rank 0's device memory (bytes); reset starts a new peak."""
    if not torch.cuda.is_available():
        return {"device": "cpu"}
    out = {"device": "cuda", "allocated": torch.cuda.memory_allocated(), "max_allocated": torch.cuda.max_memory_allocated(),
           "reserved": torch.cuda.memory_reserved(), "total": torch.cuda.get_device_properties(0).total_memory}
    if reset:
        torch.cuda.reset_peak_memory_stats()
    return out


def result_body(op, r):
    if op in ("forward", "forward_backward"):
        return {"loss_fn_output_type": "agent0", "loss_fn_outputs": r["outputs"], "metrics": r["metrics"]}
    if op == "optim_step":
        return {"metrics": {"grad_norm": r["grad_norm"], "learning_rate": r["lr"], "step": r["step"], "skipped": r["skipped"]}, **r}
    return r


def training_args(svc, op, body):
    """Validates one training request on rank 0 (before any rank sees it) and normalises it."""
    if op == "create_model":
        ext = body.get("agent0") or {}
        mid = ext.get("model_id") or f"model-{next(svc.models)}"
        lora = body.get("lora_config") or {}
        if lora.get("rank"):
            raise RequestError("LoRA is not supported: full-parameter training only (lora_config.rank must be 0)")
        return {"model_id": mid, "base_model": body.get("base_model"), "config": ext.get("config"),
                "tokenizer_dir": ext.get("tokenizer_dir"), "options": ext.get("options") or {},
                "load_optimizer": ext.get("load_optimizer", True)}
    mid = body.get("model_id")
    if not isinstance(mid, str):
        raise RequestError("model_id (a string) is required")
    if op in ("forward", "forward_backward"):
        inp = body.get("forward_input" if op == "forward" else "forward_backward_input")
        if not isinstance(inp, dict) or not isinstance(inp.get("data"), list):
            raise RequestError(f"{'forward_input' if op == 'forward' else 'forward_backward_input'}.data (a list of Datum) is required")
        data = [wire.datum(d, i) for i, d in enumerate(inp["data"])]
        if not data:
            raise RequestError("data is empty")
        keys = set(data[0]["inputs"])
        for i, d in enumerate(data):
            if set(d["inputs"]) != keys:
                raise RequestError(f"data[{i}] has loss_fn_inputs {sorted(d['inputs'])}, data[0] has {sorted(keys)}")
        ext = body.get("agent0") or {}
        out = {"model_id": mid, "data": data, "entropy": bool(ext.get("entropy", False))}
        if op == "forward_backward":
            out["loss_fn"] = inp.get("loss_fn", "cross_entropy")
            out["loss_fn_config"] = inp.get("loss_fn_config") or {}
        return out
    if op == "optim_step":
        return {"model_id": mid, "adam_params": body.get("adam_params") or {}}
    if op in ("save_weights_for_sampler", "save_weights"):
        return {"model_id": mid, "path": body.get("path"), "dtype": (body.get("agent0") or {}).get("dtype")}
    if op == "load_weights":
        return {"model_id": mid, "path": body.get("path"), "optimizer": body.get("optimizer", True)}
    if op == "snapshot":
        target = body.get("target_id") or f"model-{next(svc.models)}"
        return {"model_id": mid, "target_id": target}
    return {"model_id": mid}


def serve(svc, host, port):
    httpd = ThreadingHTTPServer((host, port), make_handler(svc))
    httpd.daemon_threads = True
    return httpd
