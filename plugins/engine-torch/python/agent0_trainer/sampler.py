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
                 "ids", "logprobs", "top_n", "top", "finish", "stop", "stream", "text")

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
        # the k most likely tokens of each step's distribution, [(id, log-prob)], when asked for
        self.top_n, self.top = int(p.get("top_logprobs", 0) or 0), []
        self.finish, self.stop = None, None
        self.stream = TextStream(detok) if detok is not None else None
        self.text = None


class Chooser:
    """Next-token choice for a fixed set of rows, with everything per-row prepared once per batch."""

    def __init__(self, rows, generators, shared, dev, V):
        self.generators, self.shared = generators, shared
        self.greedy = torch.tensor([r.temperature <= 0 for r in rows], device=dev)
        self.all_greedy = all(r.temperature <= 0 for r in rows)
        self.any_greedy = any(r.temperature <= 0 for r in rows)
        self.temp = torch.tensor([r.temperature if r.temperature > 0 else 1.0 for r in rows], device=dev)[:, None]
        self.unit = all(r.temperature <= 0 or r.temperature == 1.0 for r in rows)
        ks = [r.top_k if 0 < r.top_k < V else V for r in rows]
        self.top_k = torch.tensor(ks, device=dev) if any(k < V for k in ks) else None
        ps = [r.top_p for r in rows]
        self.top_p = torch.tensor(ps, device=dev)[:, None] if any(p < 1.0 for p in ps) else None
        self.one_stream = list(generators) == [None]

    def probs(self, logits, logp):
        """Sampling distribution after temperature, top-k and top-p (rows' own settings)."""
        if self.unit and self.top_k is None and self.top_p is None:
            return logp.exp()
        x = logits if self.unit else logits / self.temp.to(logits.dtype)
        if self.top_k is not None:
            kth = torch.sort(x, dim=-1, descending=True).values.gather(1, (self.top_k - 1)[:, None])
            x = x.masked_fill(x < kth, float("-inf"))
        if self.top_p is not None:
            sx, si = torch.sort(x, dim=-1, descending=True)
            p = torch.softmax(sx, dim=-1)
            drop = (torch.cumsum(p, dim=-1) - p) >= self.top_p.to(p.dtype)
            x = torch.full_like(x, float("-inf")).scatter(1, si, sx.masked_fill(drop, float("-inf")))
        return torch.softmax(x, dim=-1)

    def __call__(self, logits, logp):
        """argmax for greedy rows; else the exponential race argmax(p / E), E ~ Exp(1) (a sample of p)."""
        if self.all_greedy:
            return torch.argmax(logits, dim=-1)
        probs = self.probs(logits, logp)
        if self.one_stream:
            noise = torch.empty_like(probs).exponential_(generator=self.shared)
        else:
            noise = torch.empty_like(probs)
            for g, idx in self.generators.items():
                noise[idx] = torch.empty((len(idx), probs.shape[1]), device=probs.device, dtype=probs.dtype).exponential_(generator=self.shared if g is None else g)
        tok = torch.argmax(probs / noise, dim=-1)
        return torch.where(self.greedy, torch.argmax(logits, dim=-1), tok) if self.any_greedy else tok


class DynamicStepper:
    """Decoding steps through the model's own cache (transformers' DynamicCache or the built-in's)."""

    def __init__(self, model, impl, B, capacity, dtype, dev):
        self.model, self.impl = model, impl
        self.cache = model.new_cache(B, capacity, dtype, dev) if impl == "builtin" else None
        self.head = model.lm_head.weight

    def prefill(self, ids, pos, mask):
        self.mask = mask
        hidden, self.cache = backbone(self.model, self.impl, ids, pos, mask, self.cache)
        return torch.matmul(hidden[:, -1], self.head.t()).float()

    def step(self, tok, pos):
        self.mask = torch.cat([self.mask, torch.ones_like(self.mask[:, :1])], dim=1)
        hidden, self.cache = backbone(self.model, self.impl, tok[:, None], pos[:, None], self.mask, self.cache)
        return torch.matmul(hidden[:, -1], self.head.t()).float()


def _bucket(n, floor):
    b = floor
    while b < n:
        b *= 2
    return b


class StaticStepper:
    """Decoding steps of the built-in Qwen3 with fixed shapes and addresses, replayed as a CUDA graph
    on GPUs (one launch per step instead of hundreds). Batches and lengths are rounded up to buckets
    whose buffers and graphs are kept on the model (weights are updated in place, so graphs stay valid)."""

    MAX_ENTRIES = 4

    def __init__(self, model, B, capacity, dtype, dev, use_graph):
        self.model, self.B = model, B
        key = (_bucket(B, 8), _bucket(capacity, 64), dtype)
        entries = model.__dict__.setdefault("_static_entries", {})
        self.e = entries.pop(key, None) or self._entry(*key, dev, use_graph)
        entries[key] = self.e  # most recently used last
        while len(entries) > self.MAX_ENTRIES:
            entries.pop(next(iter(entries)))

    def _entry(self, Bb, cap, dtype, dev, use_graph):
        m = self.model
        e = {"B": Bb, "cap": cap, "cache": m.new_cache(Bb, cap, dtype, dev), "graph": None, "use_graph": use_graph,
             "tok": torch.zeros((Bb, 1), dtype=torch.long, device=dev), "pos": torch.zeros((Bb, 1), dtype=torch.long, device=dev),
             "bias": torch.full((Bb, 1, 1, cap), NEG, device=dev), "write": torch.zeros(1, dtype=torch.long, device=dev)}
        return e

    def _run(self):
        e = self.e
        e["cache"].write = e["write"]
        h = self.model.model.static_step(e["tok"], e["pos"], e["bias"], e["cache"])
        return torch.matmul(h[:, -1], self.model.lm_head.weight.t()).float()

    def _capture(self):
        e = self.e
        s = torch.cuda.Stream()
        s.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(s):
            for _ in range(2):
                self._run()
        torch.cuda.current_stream().wait_stream(s)
        g = torch.cuda.CUDAGraph()
        with torch.cuda.graph(g):
            e["logits"] = self._run()
        e["graph"] = g

    def prefill(self, ids, pos, mask):
        e, B = self.e, self.B
        Bb, L = e["B"], ids.shape[1]
        if Bb > B:  # filler rows: one visible token each, so no softmax row is empty
            ids = torch.cat([ids, torch.zeros((Bb - B, L), dtype=ids.dtype, device=ids.device)])
            fill = torch.zeros((Bb - B, L), dtype=mask.dtype, device=mask.device)
            fill[:, -1] = 1
            mask = torch.cat([mask, fill])
            pos = torch.cat([pos, torch.zeros_like(fill)])
        cache = e["cache"]
        cache.write, cache.length = None, 0
        hidden = self.model.model(ids, position_ids=pos, key_mask=mask, cache=cache)
        e["bias"].fill_(NEG)
        e["bias"][:, 0, 0, :L] = torch.where(mask.bool(), torch.zeros((), device=mask.device), torch.full((), NEG, device=mask.device))
        e["tok"].zero_()
        e["pos"].zero_()
        self.w = L
        return torch.matmul(hidden[:B, -1], self.model.lm_head.weight.t()).float()

    def step(self, tok, pos):
        e, B = self.e, self.B
        e["tok"][:B, 0] = tok
        e["pos"][:B, 0] = pos
        e["bias"][:, 0, 0, self.w] = 0.0
        e["write"].fill_(self.w)
        self.w += 1
        if e["use_graph"]:
            if e["graph"] is None:
                try:
                    self._capture()
                except Exception:  # noqa: BLE001 - an uncapturable kernel: the same step, eagerly
                    e["use_graph"] = False
            if e["graph"] is not None:
                e["graph"].replay()
                return e["logits"][:B]
        return self._run()[:B]


NEG = torch.finfo(torch.float32).min


def stepper(model, impl, B, capacity, dtype, dev, static):
    """static: 'auto' (CUDA graphs for the built-in model on GPUs), 'eager' (the static step without
    graphs) or 'off' (the model's own cache)."""
    if impl != "builtin" or static == "off" or (static == "auto" and dev.type != "cuda"):
        return DynamicStepper(model, impl, B, capacity, dtype, dev)
    return StaticStepper(model, B, capacity, dtype, dev, use_graph=dev.type == "cuda" and static == "auto")


@torch.no_grad()
def decode(model, impl, rows, detok, dev, compute_dtype, pad_id, max_len, shared_seed, salt=0, static="auto"):
    """Fills each row's ids / logprobs / finish. `rows` share one decoding batch. Row.group is None
    (the shared generator) or (request, seed): one generator per seeded request, salted by the
    position of this chunk among the rows, so ranks and chunks draw different streams. A seeded
    request repeats exactly when it arrives in a batch cut the same way (one rank, up to
    --max-sample-rows rows: any batch)."""
    if not rows:
        return
    for r in rows:
        if r.max_new <= 0:
            r.finish = "length"  # asked for nothing: no token, whatever its batch neighbours decode
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
    run = stepper(model, impl, B, L + budget, compute_dtype, dev, static)
    logits = run.prefill(ids, pos, mask)
    shared = torch.Generator(device=dev).manual_seed(int(shared_seed))
    gens = {}
    for b, r in enumerate(rows):
        gens.setdefault(r.group, []).append(b)
    generators = {}
    for g, idx in gens.items():
        key = None if g is None else torch.Generator(device=dev).manual_seed((int(g[1]) * 1_000_003 + salt) % (2**63 - 1))
        generators[key] = torch.tensor(idx, device=dev)
    next_pos = pos[:, -1] + 1
    choose = Chooser(rows, generators, shared, dev, logits.shape[1])
    n_top = min(max(r.top_n for r in rows), logits.shape[1])
    for step in range(budget):
        logp = torch.log_softmax(logits, dim=-1)
        tok = choose(logits, logp)
        lp = logp.gather(1, tok[:, None]).squeeze(1)
        toks, lps = tok.tolist(), lp.tolist()
        if n_top > 0:
            top_v, top_i = torch.topk(logp, n_top, dim=-1)
            top_v, top_i = top_v.tolist(), top_i.tolist()
        live = 0
        for b, r in enumerate(rows):
            if r.finish is not None:
                continue
            t = toks[b]
            r.ids.append(t)
            r.logprobs.append(lps[b])
            if r.top_n > 0:
                r.top.append(list(zip(top_i[b][:r.top_n], top_v[b][:r.top_n])))
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
        logits = run.step(tok, next_pos)
        next_pos = next_pos + 1
    for r in rows:
        if r.finish is None:
            r.finish = "length"
        if r.text is None and r.stream is not None:
            r.text = r.stream.text
