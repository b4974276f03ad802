#!/usr/bin/env python3
"""PyTorch peer of `agent0 bench engine`: the same Qwen3 shapes, the same three measurements.

Reads one JSON object on stdin: {"config": {...Qwen3 config.json fields...}, "shape": {...}} and
prints one JSON object: {"torch": version, "threads": n, "blas": {...}, "trainTokensPerSec": .., ...}.
With --probe it reads {"threads": n} and prints only {"torch", "threads", "blas"}: which BLAS the
matmuls run on, so the bench can refuse a ratio against a crippled PyTorch before timing it.
Written as idiomatic eager PyTorch (nn.Linear per projection, autograd, torch.optim.AdamW), the
way a user would write the model; run it with OPENBLAS_NUM_THREADS=1 and 2 torch threads.
"""
import ctypes
import json
import math
import os
import re
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class RMSNorm(nn.Module):
    def __init__(self, d, eps):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(d))
        self.eps = eps

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


def rotate_half(x):
    h = x.shape[-1] // 2
    return torch.cat((-x[..., h:], x[..., :h]), dim=-1)


class Layer(nn.Module):
    def __init__(self, c):
        super().__init__()
        d, hd = c["hidden_size"], c["head_dim"]
        self.H, self.KV, self.hd = c["num_attention_heads"], c["num_key_value_heads"], hd
        self.in_norm = RMSNorm(d, c["rms_norm_eps"])
        self.post_norm = RMSNorm(d, c["rms_norm_eps"])
        self.q = nn.Linear(d, self.H * hd, bias=False)
        self.k = nn.Linear(d, self.KV * hd, bias=False)
        self.v = nn.Linear(d, self.KV * hd, bias=False)
        self.o = nn.Linear(self.H * hd, d, bias=False)
        self.q_norm = RMSNorm(hd, c["rms_norm_eps"])
        self.k_norm = RMSNorm(hd, c["rms_norm_eps"])
        ff = c["intermediate_size"]
        self.gate = nn.Linear(d, ff, bias=False)
        self.up = nn.Linear(d, ff, bias=False)
        self.down = nn.Linear(ff, d, bias=False)

    def forward(self, h, cos, sin, mask, cache=None):
        B, T, _ = h.shape
        x = self.in_norm(h)
        q = self.q_norm(self.q(x).view(B, T, self.H, self.hd)).transpose(1, 2)
        k = self.k_norm(self.k(x).view(B, T, self.KV, self.hd)).transpose(1, 2)
        v = self.v(x).view(B, T, self.KV, self.hd).transpose(1, 2)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        if cache is not None:
            k = torch.cat((cache[0], k), dim=2)
            v = torch.cat((cache[1], v), dim=2)
        new_cache = (k, v)
        g = self.H // self.KV
        kr = k.repeat_interleave(g, dim=1)
        vr = v.repeat_interleave(g, dim=1)
        att = (q @ kr.transpose(-1, -2)) / math.sqrt(self.hd) + mask
        out = (att.softmax(-1) @ vr).transpose(1, 2).reshape(B, T, -1)
        h = h + self.o(out)
        x2 = self.post_norm(h)
        h = h + self.down(F.silu(self.gate(x2)) * self.up(x2))
        return h, new_cache


class Qwen3(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.c = c
        self.embed = nn.Embedding(c["vocab_size"], c["hidden_size"])
        self.layers = nn.ModuleList(Layer(c) for _ in range(c["num_hidden_layers"]))
        self.norm = RMSNorm(c["hidden_size"], c["rms_norm_eps"])
        for p in self.parameters():
            if p.dim() == 2:
                nn.init.normal_(p, std=0.02)
        hd = c["head_dim"]
        inv = 1.0 / (c["rope_theta"] ** (torch.arange(0, hd, 2).float() / hd))
        ang = torch.outer(torch.arange(c["max_position_embeddings"]).float(), inv)
        emb = torch.cat((ang, ang), dim=-1)
        self.register_buffer("cos", emb.cos(), persistent=False)
        self.register_buffer("sin", emb.sin(), persistent=False)

    def forward(self, ids, past=0, caches=None):
        B, T = ids.shape
        cos = self.cos[past:past + T][None, None]
        sin = self.sin[past:past + T][None, None]
        mask = torch.full((T, past + T), float("-inf")).triu(past + 1)
        h = self.embed(ids)
        new = []
        for i, layer in enumerate(self.layers):
            h, c = layer(h, cos, sin, mask, caches[i] if caches else None)
            new.append(c)
        h = self.norm(h)
        return h @ self.embed.weight.t(), new


def token_logprobs(model, ids):
    logits, _ = model(ids)
    lp = logits[:, :-1].log_softmax(-1).gather(-1, ids[:, 1:, None])[..., 0]
    return lp


def timed(reps, fn):
    """Seconds per call: the fastest of `reps` calls after a warm-up, as the tfjs side measures."""
    fn()
    best = float("inf")
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def lcg_rows(rows, length, vocab, seed):
    s = seed & 0xFFFFFFFF
    out = []
    for _ in range(rows):
        r = []
        for _ in range(length):
            s = (s * 1664525 + 1013904223) & 0xFFFFFFFF
            r.append(1 + s % (vocab - 1))
        out.append(r)
    return torch.tensor(out, dtype=torch.long)


def mapped_file(addr):
    """The file mapped at `addr` in this process, or None (no /proc/self/maps: not Linux)."""
    try:
        with open("/proc/self/maps") as f:
            for line in f:
                parts = line.split(None, 5)
                lo, hi = (int(x, 16) for x in parts[0].split("-"))
                if lo <= addr < hi:
                    return parts[5].strip() if len(parts) == 6 else None
    except OSError:
        pass
    return None


def symbol(lib, name, restype=ctypes.c_int):
    fn = getattr(lib, name, None)
    if fn is not None:
        fn.restype = restype
    return fn


def blas_info():
    """Which BLAS torch's matmuls run on. Being mapped proves nothing: Debian's liblapack.so.3
    pulls OpenBLAS in while libblas.so.3 may be the reference. So the library torch's own sgemm_
    resolves to is found by address, then named by symbols only that library exports."""
    a = torch.randn(64, 64)
    (a @ a).sum().item()
    m = re.search(r"BLAS_INFO=(\w+)", torch.__config__.show())
    out = {"build": m.group(1) if m else "unknown", "library": "unknown", "detail": "", "path": None, "threads": None}
    # dlsym through torch's extension module searches its dependency tree in the order the
    # dynamic linker bound torch's own calls
    handle = ctypes.CDLL(torch._C.__file__)
    path = None
    for name in ("sgemm_", "cblas_sgemm"):
        fn = getattr(handle, name, None)
        if fn is not None:
            path = mapped_file(ctypes.cast(fn, ctypes.c_void_p).value)
            if path:
                break
    if path is None or "libtorch" in os.path.basename(path):
        # linked into torch itself (PyTorch's x86 wheels carry MKL statically)
        if out["build"] == "mkl" or torch.backends.mkl.is_available():
            v = re.search(r"Math Kernel Library Version ([^\n]+)", torch.__config__.show())
            out.update(library="mkl", detail="MKL " + (v.group(1).strip() if v else "(static)"), path=path, threads=torch.get_num_threads())
        elif out["build"] == "accelerate":
            out.update(library="accelerate", detail="Apple Accelerate", path=path)
        else:
            out.update(path=path, detail="sgemm_ not found in a separate library")
        return out
    out["path"] = path
    lib = ctypes.CDLL(path)
    if symbol(lib, "openblas_get_config", ctypes.c_char_p):
        mode = {0: "sequential", 1: "pthreads", 2: "OpenMP"}.get(lib.openblas_get_parallel() if symbol(lib, "openblas_get_parallel") else -1, "")
        out.update(library="openblas", detail=lib.openblas_get_config().decode() + (f" ({mode})" if mode else ""), threads=lib.openblas_get_num_threads())
    elif symbol(lib, "MKL_Get_Max_Threads"):
        out.update(library="mkl", detail="MKL", threads=lib.MKL_Get_Max_Threads())
    elif symbol(lib, "bli_info_get_version_str", ctypes.c_char_p):
        n = lib.bli_thread_get_num_threads() if symbol(lib, "bli_thread_get_num_threads") else None
        out.update(library="blis", detail="BLIS " + lib.bli_info_get_version_str().decode(), threads=n)
    elif symbol(lib, "ATL_buildinfo"):
        out.update(library="atlas", detail="ATLAS")
    elif symbol(lib, "flexiblas_current_backend"):
        buf = ctypes.create_string_buffer(256)
        lib.flexiblas_current_backend(buf, ctypes.c_size_t(256))
        backend = buf.value.decode()
        out.update(library="reference" if backend.upper() == "NETLIB" else "flexiblas", detail=f"FlexiBLAS -> {backend}")
    elif re.match(r"lib(c)?blas\.so", os.path.basename(path)):
        # a plain libblas with none of the optimised libraries' entry points: netlib's reference
        # implementation (Debian/Ubuntu package libblas3), one thread, no blocking for caches
        out.update(library="reference", detail="reference BLAS (netlib)", threads=1)
    return out


def main():
    req = json.load(sys.stdin)
    torch.manual_seed(1)
    torch.set_num_threads(int(req.get("threads", 2)))
    if "--probe" in sys.argv[1:]:
        print(json.dumps({"torch": torch.__version__, "threads": torch.get_num_threads(), "blas": blas_info()}))
        return
    c, sh = req["config"], req["shape"]
    model = Qwen3(c)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.01)
    ids = lcg_rows(sh["trainBatch"], sh["trainLen"], c["vocab_size"], 7)
    tokens = ids.numel()

    def train():
        opt.zero_grad(set_to_none=True)
        loss = -token_logprobs(model, ids).mean()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        return loss.item()

    def logprobs():
        with torch.no_grad():
            return token_logprobs(model, ids).tolist()

    prompts = lcg_rows(sh["sampleBatch"], sh["promptLen"], c["vocab_size"], 11)
    gen = torch.Generator().manual_seed(3)

    def sample():
        # Batched KV-cache decoding; the sampled ids and their log-probs come to the host every
        # step, as an engine checking stop strings must.
        with torch.no_grad():
            logits, caches = model(prompts)
            past = prompts.shape[1]
            last = logits[:, -1]
            out = []
            for _ in range(sh["newTokens"]):
                lp = last.log_softmax(-1)
                tok = torch.multinomial(lp.exp(), 1, generator=gen)
                out.append((tok[:, 0].tolist(), lp.gather(-1, tok)[:, 0].tolist()))
                logits, caches = model(tok, past, caches)
                past += 1
                last = logits[:, -1]
            return out

    reps = sh["reps"]
    res = {
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "blas": blas_info(),
        "trainTokensPerSec": tokens / timed(reps, train),
        "logProbTokensPerSec": tokens / timed(reps, logprobs),
        "sampleTokensPerSec": sh["sampleBatch"] * sh["newTokens"] / timed(reps, sample),
    }
    print(json.dumps(res))


if __name__ == "__main__":
    main()
