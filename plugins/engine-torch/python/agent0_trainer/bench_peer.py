"""The peer of `agent0 bench trainer`: the same model trained by a plain PyTorch loop, and sampled by
transformers' generate(), in one process with no service around it.

Same settings as the service on one GPU: fp32 master weights, bf16 autocast, activation
checkpointing, the same micro-batch token budget, a PPO-clip token loss on fp32 log-softmax, global
grad-norm clip and fused AdamW. Reads a JSON job on stdin, prints one JSON line.
"""
import contextlib
import json
import sys
import time

import torch

from . import models
from .compat import versions


def train(model, impl, V, T, rows, steps, warmup, budget, dev, compute):
    params = [p for p in model.parameters() if p.requires_grad]
    decay = [p for p in params if p.dim() >= 2]
    rest = [p for p in params if p.dim() < 2]
    kw = {"lr": 1e-6, "betas": (0.9, 0.999), "eps": 1e-8}
    try:
        opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.01}, {"params": rest, "weight_decay": 0.0}], fused=dev.type == "cuda", **kw)
    except (RuntimeError, TypeError):
        opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.01}, {"params": rest, "weight_decay": 0.0}], **kw)
    g = torch.Generator(device=dev).manual_seed(0)
    ids = torch.randint(0, V, (rows, T + 1), device=dev, generator=g)
    adv = torch.randint(0, 2, (rows, T), device=dev, generator=g).float() * 2 - 1
    per = max(1, budget // T)
    n_tok = rows * T
    head = model.lm_head.weight
    model.train()
    times = []
    for step in range(warmup + steps):
        if dev.type == "cuda":
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        for s in range(0, rows, per):
            x, y, a = ids[s:s + per, :-1], ids[s:s + per, 1:], adv[s:s + per]
            amp = torch.autocast("cuda", dtype=compute) if dev.type == "cuda" and compute != torch.float32 else contextlib.nullcontext()
            with amp:
                hidden, _ = models.backbone(model, impl, x)
                logits = torch.matmul(hidden, head.t().to(hidden.dtype)).float()
                lp = logits.gather(-1, y[..., None]).squeeze(-1) - torch.logsumexp(logits, -1)
                ratio = torch.exp(lp - lp.detach())
                loss = torch.maximum(-a * ratio, -a * ratio.clamp(0.8, 1.2)).sum() / n_tok
            loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        if dev.type == "cuda":
            torch.cuda.synchronize()
        if step >= warmup:
            times.append(time.perf_counter() - t0)
    del opt
    return {"T": T, "rows": rows, "step_s": sum(times) / len(times), "tokens_per_s": n_tok * len(times) / sum(times),
            "step_min_s": min(times), "step_max_s": max(times)}


def generate(model, V, batch, prompt_len, new_tokens, dev, compute):
    """transformers' generate() on a compute-dtype copy, sampling at temperature 1 without filters."""
    gen_model = model.to(compute).eval()
    g = torch.Generator(device=dev).manual_seed(1)
    prompts = torch.randint(0, V, (batch, prompt_len), device=dev, generator=g)
    mask = torch.ones_like(prompts)
    kw = dict(attention_mask=mask, max_new_tokens=new_tokens, min_new_tokens=new_tokens, do_sample=True, temperature=1.0,
              top_p=1.0, top_k=0, pad_token_id=0, use_cache=True)
    with torch.no_grad():
        gen_model.generate(prompts[:, :8], **{**kw, "attention_mask": mask[:, :8], "max_new_tokens": 4, "min_new_tokens": 4})
        if dev.type == "cuda":
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        out = gen_model.generate(prompts, **kw)
        if dev.type == "cuda":
            torch.cuda.synchronize()
        dt = time.perf_counter() - t0
    made = (out.shape[1] - prompt_len) * batch
    return {"batch": batch, "new_tokens": new_tokens, "seconds": dt, "tokens_per_s": made / dt}


def main():
    job = json.load(sys.stdin)
    dev = torch.device("cuda" if torch.cuda.is_available() and job.get("device", "auto") != "cpu" else "cpu")
    compute = models.dtype_of(job.get("compute_dtype") or ("bfloat16" if dev.type == "cuda" else "float32"))
    model, cfg, impl = models.build(None, job["config"], job.get("impl", "auto"), torch.float32, job.get("seed", 0), device=dev)
    if job.get("gradient_checkpointing", True):
        models.enable_checkpointing(model, impl)
    V = cfg["vocab_size"]
    out = {"peer": "plain PyTorch loop + transformers generate()", **versions(), "impl": impl, "device": torch.cuda.get_device_name(0) if dev.type == "cuda" else "cpu",
           "params": models.count_params(model), "train": []}
    for T in job["seqs"]:
        if dev.type == "cuda":
            torch.cuda.reset_peak_memory_stats()
        r = train(model, impl, V, T, job["rows"], job["steps"], job["warmup"], job["micro_batch_tokens"], dev, compute)
        if dev.type == "cuda":
            r["peak_bytes"] = torch.cuda.max_memory_allocated()
        out["train"].append(r)
    d = job.get("decode")
    if d and impl == "transformers":
        if dev.type == "cuda":
            torch.cuda.reset_peak_memory_stats()
        out["decode"] = generate(model, V, d["batch"], d["prompt_len"], d["new_tokens"], dev, compute)
        if dev.type == "cuda":
            out["decode"]["peak_bytes"] = torch.cuda.max_memory_allocated()
    elif d:
        out["decode_skipped"] = "transformers is not importable: no generate() to compare with"
    print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
