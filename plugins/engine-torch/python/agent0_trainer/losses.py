"""Token losses the service back-propagates. Every loss is a weighted token sum (Tinker's convention):
the controller folds its aggregation (token-mean, seq-mean-*) into the per-token `weights`.

Inputs are padded [b, T] tensors of one micro-batch; `valid` marks real target positions. Each loss
returns (scalar, metrics) where metrics are sums, counts, minima and maxima that add up exactly
over micro-batches and ranks: names end in ':sum', ':min' or ':max'.

`agent0_ppo` reproduces agent0's TypeScript algorithm components (plugins/algorithms) term by term,
including which branch receives the gradient at ties, so the fused path equals the custom one.
"""
import torch

LOG_RATIO_BOUND = 20.0
GSPO_LOG_RATIO_CAP = 10.0
KL_BASES = ("k1", "abs", "k2", "mse", "k3", "low_var_kl")


def _where(cond, a, b):
    return torch.where(cond, a, b)


def kl_penalty(kind, logp, ref):
    """Per-token KL estimate of the policy against the reference (agent0's kl/<kind> components)."""
    st = kind.endswith("+")
    base = kind[:-1] if st else kind
    if base not in KL_BASES:
        raise ValueError(f"unknown kl_type '{kind}'; supported: {', '.join(KL_BASES)} and their '+' variants")
    d = logp - ref
    if base == "k1":
        k = d
    elif base == "abs":
        # d·sign(d): subgradient 0 at d = 0 (torch.abs would give one there)
        k = d * torch.sign(d)
    elif base in ("k2", "mse"):
        k = 0.5 * d * d
    else:
        kl = torch.clamp(-d, -20.0, 20.0)
        k = torch.clamp(torch.exp(kl) - kl - 1.0, -10.0, 10.0)
    if st:
        k2 = 0.5 * d * d
        k = k.detach() + k2 - k2.detach()
    return k


def masked_sum(x, m):
    return torch.where(m, x, torch.zeros_like(x)).sum()


def masked_extreme(x, m, fn):
    if not bool(m.any()):
        return None
    return fn(x[m]).item()


def cross_entropy(lp, ent, inp, valid, cfg):
    """-(Σ weights·logp + Σ entropy_weights·H): with weights = -dL/dlogp it back-propagates any loss L."""
    w = inp.get("weights")
    w = torch.ones_like(lp) if w is None else w
    loss = -masked_sum(w * lp, valid)
    if "entropy_weights" in inp:
        if ent is None:
            raise ValueError("entropy_weights given but the entropy was not computed")
        loss = loss - masked_sum(inp["entropy_weights"] * ent, valid)
    return loss, {"loss:sum": loss.item()}


def importance_sampling(lp, ent, inp, valid, cfg):
    """Tinker's importance_sampling: -Σ exp(logp - sampling_logp) · A."""
    r = torch.exp(lp - inp["logprobs"])
    loss = -masked_sum(r * inp["advantages"], valid)
    return loss, {"loss:sum": loss.item()}


def ppo(lp, ent, inp, valid, cfg):
    """Tinker's ppo: -Σ min(r·A, clip(r, clip_low_threshold, clip_high_threshold)·A), bounds on the ratio."""
    lo, hi = float(cfg.get("clip_low_threshold", 0.8)), float(cfg.get("clip_high_threshold", 1.2))
    r = torch.exp(lp - inp["logprobs"])
    a = inp["advantages"]
    loss = -masked_sum(torch.minimum(r * a, torch.clamp(r, lo, hi) * a), valid)
    return loss, {"loss:sum": loss.item()}


def agent0_ppo(lp, ent, inp, valid, cfg):
    """agent0's clipped surrogate with per-token bounds, optional dual clip, KL loss and entropy bonus.

    loss = Σ w·L  + kl_coef · Σ w·kl(logp, ref)  - entropy_coef · Σ w·H
    L = max(-A r, -A clip(r, 1 - clip_low, 1 + clip_high)); with dual clip c, for A < 0: min(L, -A c).
    r = exp(clamp(logp - old, ±20)) per token, or GSPO's sequence ratio exp(min(mean_t(logp - old), 10))
    carrying the gradient of each token's logp (ratio: 'gspo').
    """
    w, a, old = inp["weights"], inp["advantages"], inp["logprobs"]
    m = valid & (inp["mask"] > 0) if "mask" in inp else valid & (w != 0)
    zero = torch.zeros_like(lp)
    if cfg.get("ratio", "token") == "gspo":
        d = torch.where(m, lp - old, zero)
        seq = d.sum(1) / m.sum(1).clamp(min=1).to(lp.dtype)
        x = seq.detach()[:, None] + torch.where(m, lp - lp.detach(), zero)
        ratio = torch.exp(torch.clamp(x, max=GSPO_LOG_RATIO_CAP))
    else:
        ratio = torch.exp(torch.where(m, torch.clamp(lp - old, -LOG_RATIO_BOUND, LOG_RATIO_BOUND), zero))
    lo = (1.0 - inp["clip_low"]).to(lp.dtype)
    hi = (1.0 + inp["clip_high"]).to(lp.dtype)
    clipped = _where(ratio < lo, lo, _where(ratio > hi, hi, ratio))
    l1 = -a * ratio
    l2 = -a * clipped
    active = l2 > l1
    tok = _where(active, l2, l1)  # ties go to the unclipped branch, as tf.maximum's gradient does
    c = cfg.get("clip_ratio_c")
    neg = a < 0
    metrics = {}
    if c is not None and float(c) > 0:
        c = float(c)
        if not c > 1:
            raise ValueError(f"clip_ratio_c must be > 1, got {c}")
        l3 = -a * c
        dual = neg & (tok > l3)
        metrics["pg_clipfrac_dual:sum"] = masked_sum(dual.to(lp.dtype), m).item()
        tok = _where(neg & (l3 < tok), l3, tok)
    else:
        metrics["pg_clipfrac_dual:sum"] = 0.0
    pg = masked_sum(w * tok, m)
    loss = pg
    metrics["pg_loss:sum"] = pg.item()
    metrics["pg_clipfrac_high:sum"] = masked_sum((active & (a > 0)).to(lp.dtype), m).item()
    metrics["pg_clipfrac_low:sum"] = masked_sum((active & neg).to(lp.dtype), m).item()
    metrics["ratio_mean:sum"] = masked_sum(ratio.detach(), m).item()
    rmin, rmax = masked_extreme(ratio.detach(), m, torch.min), masked_extreme(ratio.detach(), m, torch.max)
    if rmin is not None:
        metrics["ratio_min:min"] = rmin
        metrics["ratio_max:max"] = rmax
    metrics["ppo_kl:sum"] = masked_sum((old - lp).detach(), m).item()
    metrics["clip_high_mean:sum"] = masked_sum(inp["clip_high"].to(lp.dtype), m).item()
    if "ref_logprobs" in inp:
        kl = kl_penalty(cfg.get("kl_type", "low_var_kl"), lp, inp["ref_logprobs"])
        kl_loss = masked_sum(w * kl, m)
        metrics["kl_loss:sum"] = kl_loss.item()
        coef = float(cfg.get("kl_coef", 0.0))
        if coef != 0:
            loss = loss + coef * kl_loss
    if ent is not None:
        metrics["entropy:sum"] = masked_sum(ent.detach(), m).item()
        coef = float(cfg.get("entropy_coef", 0.0))
        if coef != 0:
            loss = loss - coef * masked_sum(w * ent, m)
    elif float(cfg.get("entropy_coef", 0.0)) != 0:
        raise ValueError("entropy_coef is set but the entropy was not computed")
    metrics["tokens:sum"] = float(m.sum().item())
    metrics["loss:sum"] = loss.item()
    return loss, metrics


LOSSES = {
    "cross_entropy": (cross_entropy, ()),
    "importance_sampling": (importance_sampling, ("logprobs", "advantages")),
    "ppo": (ppo, ("logprobs", "advantages")),
    "agent0_ppo": (agent0_ppo, ("weights", "logprobs", "advantages", "clip_low", "clip_high")),
}


def validate(loss_fn, cfg):
    """Config errors found before any forward: under FSDP2 a rank that raised mid-step while others
    wait in a collective would hang them all."""
    if loss_fn != "agent0_ppo":
        return
    if cfg.get("ratio", "token") not in ("token", "gspo"):
        raise ValueError(f"ratio must be 'token' or 'gspo', got {cfg.get('ratio')!r}")
    c = cfg.get("clip_ratio_c")
    if c is not None and float(c) != 0 and not float(c) > 1:
        raise ValueError(f"clip_ratio_c must be > 1 (or 0 for none), got {c}")
    if "kl_type" in cfg:
        kind = str(cfg["kl_type"])
        if (kind[:-1] if kind.endswith("+") else kind) not in KL_BASES:
            raise ValueError(f"unknown kl_type '{kind}'; supported: {', '.join(KL_BASES)} and their '+' variants")


def needs_entropy(loss_fn, inputs_present, cfg):
    if loss_fn == "cross_entropy":
        return "entropy_weights" in inputs_present
    if loss_fn == "agent0_ppo":
        return bool(cfg.get("entropy", False)) or float(cfg.get("entropy_coef", 0.0)) != 0
    return False


def combine(parts):
    """Adds metric dicts by their suffix rule (sum / min / max)."""
    out = {}
    for p in parts:
        for k, v in p.items():
            if k not in out:
                out[k] = v
            elif k.endswith(":min"):
                out[k] = min(out[k], v)
            elif k.endswith(":max"):
                out[k] = max(out[k], v)
            else:
                out[k] += v
    return out
