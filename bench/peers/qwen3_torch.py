#!/usr/bin/env python3
"""PyTorch peer of `agent0 bench engine`: the same Qwen3 shapes, the same three measurements.

Reads one JSON object on stdin: {"config": {...Qwen3 config.json fields...}, "shape": {...}} and
prints one JSON object: {"torch": version, "threads": n, "trainTokensPerSec": .., ...}.
Written as idiomatic eager PyTorch (nn.Linear per projection, autograd, torch.optim.AdamW), the
way a user would write the model; run it with OPENBLAS_NUM_THREADS=1 and 2 torch threads.
"""
import json
import math
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


def main():
    req = json.load(sys.stdin)
    c, sh = req["config"], req["shape"]
    torch.manual_seed(1)
    torch.set_num_threads(int(req.get("threads", 2)))
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
        "trainTokensPerSec": tokens / timed(reps, train),
        "logProbTokensPerSec": tokens / timed(reps, logprobs),
        "sampleTokensPerSec": sh["sampleBatch"] * sh["newTokens"] / timed(reps, sample),
    }
    print(json.dumps(res))


if __name__ == "__main__":
    main()
