"""Batched KV-cache sampling with the live weights (the service's /v1/completions).

Rows of every request merged into one batch are left-padded to a common length; each row keeps its
own temperature, top-p, top-k, budget, stop strings and stop ids. Log-probs are those of the raw
logits (before temperature), as the controller's contract asks. Seeded requests draw from their own
generator (their samples do not depend on the rest of the batch); unseeded ones share one.
"""
import torch

from .detok import TextStream, find_stop
from .models import backbone


class Row:
    __slots__ = ("prompt", "max_new", "temperature", "top_p", "top_k", "stops", "stop_ids", "group",
                 "ids", "logprobs", "finish", "stop", "stream", "text")

    def __init__(self, prompt, p, group, detok):
        self.prompt = prompt
        self.max_new = int(p["max_tokens"])
        self.temperature = float(p.get("temperature", 1.0))
        self.top_p = float(p.get("top_p", 1.0))
        self.top_k = int(p.get("top_k", 0) or 0)
        self.stops = [s for s in (p.get("stop") or []) if s]
        self.stop_ids = set(p.get("stop_token_ids") or []) | set(p.get("eos_ids") or [])
        self.group = group
        self.ids, self.logprobs = [], []
        self.finish, self.stop = None, None
        self.stream = TextStream(detok) if detok is not None else None
        self.text = None


def _filter(logits, rows, dev):
    """Temperature, top-k and top-p per row on float32 logits [B, V] → sampling logits (−inf = banned)."""
    B, V = logits.shape
    temp = torch.tensor([r.temperature if r.temperature > 0 else 1.0 for r in rows], device=dev, dtype=logits.dtype)
    x = logits / temp[:, None]
    ks = [r.top_k for r in rows]
    if any(0 < k < V for k in ks):
        k_t = torch.tensor([k if 0 < k < V else V for k in ks], device=dev)
        kth = torch.sort(x, dim=-1, descending=True).values.gather(1, (k_t - 1)[:, None])
        x = x.masked_fill(x < kth, float("-inf"))
    ps = [r.top_p for r in rows]
    if any(p < 1.0 for p in ps):
        p_t = torch.tensor(ps, device=dev, dtype=x.dtype)
        sx, si = torch.sort(x, dim=-1, descending=True)
        probs = torch.softmax(sx, dim=-1)
        before = torch.cumsum(probs, dim=-1) - probs
        drop = before >= p_t[:, None]
        sx = sx.masked_fill(drop, float("-inf"))
        x = torch.full_like(x, float("-inf")).scatter(1, si, sx)
    return x


def _choose(x, rows, generators, shared, dev):
    """Next tokens: argmax for greedy rows; otherwise the exponential race argmax(p / E), E ~ Exp(1)."""
    greedy = torch.tensor([r.temperature <= 0 for r in rows], device=dev)
    probs = torch.softmax(x, dim=-1)
    noise = torch.empty_like(probs)
    for g, idx in generators.items():
        gen = shared if g is None else g
        part = torch.empty((len(idx), probs.shape[1]), device=dev, dtype=probs.dtype).exponential_(generator=gen)
        noise[idx] = part
    sampled = torch.argmax(probs / noise, dim=-1)
    return torch.where(greedy, torch.argmax(x, dim=-1), sampled)


@torch.no_grad()
def decode(model, impl, rows, detok, dev, compute_dtype, pad_id, max_len, shared_seed, salt=0):
    """Fills each row's ids / logprobs / finish. `rows` share one decoding batch. Row.group is None
    (the shared generator) or (request, seed): one generator per seeded request, salted by the
    position of this chunk among the rows (ranks and chunks draw different streams)."""
    if not rows:
        return
    B = len(rows)
    L = max(len(r.prompt) for r in rows)
    budget = min(max(r.max_new for r in rows), max_len - L)
    if budget <= 0:
        for r in rows:
            r.finish = "length"
        return
    ids = torch.full((B, L), pad_id, dtype=torch.long)
    mask = torch.zeros((B, L), dtype=torch.long)
    for b, r in enumerate(rows):
        n = len(r.prompt)
        ids[b, L - n:] = torch.tensor(r.prompt, dtype=torch.long)
        mask[b, L - n:] = 1
    ids, mask = ids.to(dev), mask.to(dev)
    pos = (mask.cumsum(1) - 1).clamp(min=0)
    cache = model.new_cache(B, L + budget, compute_dtype, dev) if impl == "builtin" else None
    head = model.lm_head.weight
    hidden, cache = backbone(model, impl, ids, pos, mask, cache)
    logits = torch.matmul(hidden[:, -1], head.t()).float()
    shared = torch.Generator(device=dev).manual_seed(int(shared_seed))
    gens = {}
    for b, r in enumerate(rows):
        gens.setdefault(r.group, []).append(b)
    generators = {}
    for g, idx in gens.items():
        key = None if g is None else torch.Generator(device=dev).manual_seed((int(g[1]) * 1_000_003 + salt) % (2**63 - 1))
        generators[key] = torch.tensor(idx, device=dev)
    next_pos = pos[:, -1] + 1
    for step in range(budget):
        logp = torch.log_softmax(logits, dim=-1)
        tok = _choose(_filter(logits, rows, dev), rows, generators, shared, dev)
        lp = logp.gather(1, tok[:, None]).squeeze(1)
        toks, lps = tok.tolist(), lp.tolist()
        live = 0
        for b, r in enumerate(rows):
            if r.finish is not None:
                continue
            t = toks[b]
            r.ids.append(t)
            r.logprobs.append(lps[b])
            if t in r.stop_ids:
                r.finish = "stop"
                r.stop = t
            elif r.stops and r.stream is not None:
                before = len(r.stream.text)
                text = r.stream.push(t)
                hit = find_stop(text, r.stops, before)
                if hit:
                    r.finish, r.stop = "stop", hit[0]
                    r.text = text[:hit[1]]
            elif r.stream is not None:
                r.stream.push(t)
            if r.finish is None and len(r.ids) >= min(r.max_new, budget):
                r.finish = "length"
            if r.finish is None:
                live += 1
        if live == 0 or step == budget - 1:
            break
        mask = torch.cat([mask, torch.ones((B, 1), dtype=mask.dtype, device=dev)], dim=1)
        hidden, cache = backbone(model, impl, tok[:, None], next_pos[:, None], mask, cache)
        next_pos = next_pos + 1
        logits = torch.matmul(hidden[:, -1], head.t()).float()
    for r in rows:
        if r.finish is None:
            r.finish = "length"
        if r.text is None and r.stream is not None:
            r.text = r.stream.text
