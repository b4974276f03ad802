"""python -m agent0_trainer: the trainer service (one process per rank).

  GPU, N ranks:  torchrun --nproc-per-node N -m agent0_trainer --port 8300
  CPU, N ranks:  start N processes with RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT set (agent0's
                 policy/torch launcher does this; Debian's torch 1.13 torchrun crashes)
Rank 0 serves HTTP; the others follow its broadcasts.
"""
import argparse
import os
import sys
import threading
import time

import torch

from . import PROTOCOL_VERSION, __version__
from .comm import Comm
from .engine import Engine
from .server import Service, serve, worker_loop


def parse_args(argv):
    p = argparse.ArgumentParser(prog="python -m agent0_trainer", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--host", default="127.0.0.1", help="address rank 0 binds (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8300, help="0 picks a free port (see --port-file)")
    p.add_argument("--port-file", default=None, help="rank 0 writes 'host:port' here once listening")
    p.add_argument("--api-key-env", default=None, help="environment variable holding the bearer token clients must send")
    p.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto")
    p.add_argument("--impl", choices=["auto", "builtin", "transformers"], default="auto",
                   help="model code: transformers when importable (auto), or the built-in Qwen3")
    p.add_argument("--param-dtype", default="float32", help="master weights and AdamW state (float32, float64 for tests)")
    p.add_argument("--compute-dtype", default=None, help="forward/backward dtype (default: bfloat16 on cuda, the param dtype on cpu)")
    p.add_argument("--save-dtype", default=None, help="dtype of save_weights_for_sampler folders (default: the compute dtype)")
    p.add_argument("--shard", choices=["auto", "fsdp2", "none"], default="auto",
                   help="auto: FSDP2 across several GPUs (bf16 compute, fp32 masters); one GPU: fp32 masters under bf16 autocast; "
                        "cpu: replicated weights with a gradient all-reduce")
    p.add_argument("--micro-batch-tokens", type=int, default=16384, help="padded tokens per micro-batch (rows x longest row)")
    p.add_argument("--max-micro-batch-rows", type=int, default=64)
    p.add_argument("--gradient-checkpointing", action=argparse.BooleanOptionalAction, default=True,
                   help="recompute each decoder layer in the backward pass (default on)")
    p.add_argument("--max-sample-rows", type=int, default=256, help="rows decoded together per rank")
    p.add_argument("--batch-window-ms", type=float, default=5.0, help="how long completions wait for company to batch with")
    p.add_argument("--retrieve-timeout-s", type=float, default=30.0, help="long-poll of retrieve_future before 408")
    p.add_argument("--max-body-mb", type=int, default=4096)
    p.add_argument("--threads", type=int, default=0, help="torch CPU threads per rank (0: torch's default)")
    p.add_argument("--seed", type=int, default=0, help="random init seed when create_model gives none")
    p.add_argument("--parent-pid", type=int, default=0, help="exit when this process is gone (the launcher)")
    p.add_argument("--access-log", action="store_true")
    return p.parse_args(argv)


def main(argv=None):
    a = parse_args(sys.argv[1:] if argv is None else argv)
    kind = a.device if a.device != "auto" else ("cuda" if torch.cuda.is_available() else "cpu")
    if a.threads > 0:
        torch.set_num_threads(a.threads)
    comm = Comm(kind)
    def log(msg):
        try:
            print(f"[agent0-trainer r{comm.rank}] {msg}", file=sys.stderr, flush=True)
        except OSError:
            pass  # the launcher's end of the pipe is gone: nobody to tell
    compute = a.compute_dtype or ("bfloat16" if kind == "cuda" else a.param_dtype)
    # None: resolved per model (bf16 on cuda, else its param dtype; saves in the compute dtype)
    defaults = {
        "impl": a.impl, "param_dtype": a.param_dtype, "compute_dtype": a.compute_dtype, "save_dtype": a.save_dtype,
        "shard": a.shard, "micro_batch_tokens": a.micro_batch_tokens, "max_micro_batch_rows": a.max_micro_batch_rows,
        "gradient_checkpointing": a.gradient_checkpointing, "seed": a.seed, "max_sample_rows": a.max_sample_rows,
    }
    engine = Engine(comm, kind, defaults)
    if a.parent_pid:
        threading.Thread(target=_watch_parent, args=(a.parent_pid, log), daemon=True).start()
    if comm.rank != 0:
        try:
            worker_loop(engine, comm)
        finally:
            comm.close()
        return
    opts = {
        "host": a.host, "api_key": os.environ.get(a.api_key_env) if a.api_key_env else None,
        "batch_window_ms": a.batch_window_ms, "max_sample_rows": a.max_sample_rows * comm.world,
        "retrieve_timeout_s": a.retrieve_timeout_s, "max_body_bytes": a.max_body_mb * 2**20, "access_log": a.access_log,
    }
    if a.api_key_env and not opts["api_key"]:
        raise SystemExit(f"--api-key-env {a.api_key_env}: the variable is empty")
    svc = Service(engine, comm, opts, log)
    httpd = serve(svc, a.host, a.port)
    host, port = httpd.server_address[:2]
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    if a.port_file:
        tmp = a.port_file + ".tmp"
        with open(tmp, "w") as f:
            f.write(f"{host}:{port}\n")
        os.replace(tmp, a.port_file)
    log(f"listening on http://{host}:{port} (protocol {PROTOCOL_VERSION}, agent0-trainer {__version__}, "
        f"torch {torch.__version__}, {comm.world} rank(s) on {kind}, compute {compute})")
    try:
        svc.run_executor()
    finally:
        time.sleep(0.2)  # lets the shutdown reply leave
        httpd.shutdown()
        comm.close()


def _watch_parent(pid, log):
    while True:
        time.sleep(1.0)
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            log(f"launcher {pid} is gone; exiting")  # never raises: a dead launcher's pipe must not stop the exit
            os._exit(3)
        except PermissionError:
            pass


if __name__ == "__main__":
    main()
