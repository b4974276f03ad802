"""The fused `agent0_ppo` loss against the custom path, in float64.

The reference below is written from agent0's TypeScript definitions (plugins/algorithms/math:
policy-loss.ts, kl.ts, loss-agg.ts, masked.ts; core/train/rl-step.ts), not from losses.py: padded
[B, T] matrices, the loss aggregated by mode, tfjs' gradient rules at ties. The custom path takes
its d loss / d log-prob (and entropy) with autograd here and lets the service back-propagate them as
cross_entropy weights, exactly as policy/torch's custom path does; the fused path must land on the
same parameter gradients.
"""
import math
import unittest

import torch

from agent0_trainer import losses

from .common import UNTIED, engine, rows


# ---- the reference (TypeScript semantics) --------------------------------------------------------
def tf_maximum(a, b):
    """tf.maximum: the gradient goes to a where a >= b (ties included), to b elsewhere."""
    return torch.where(a >= b, a, b)


def tf_minimum(a, b):
    """tf.minimum: the gradient goes to a where a <= b."""
    return torch.where(a <= b, a, b)


def apply_mask(x, m):
    return torch.where(m > 0, x, torch.zeros_like(x))


class GspoTokenLogRatio(torch.autograd.Function):
    """policy-loss.ts gspoTokenLogRatio: the row's mean masked log-ratio on every token; its
    gradient is dy on each masked token (to logp), nothing to old log-probs or the mask."""

    @staticmethod
    def forward(ctx, logp, old, m):
        ctx.save_for_backward(m)
        seq = apply_mask(logp - old, m).sum(1) / torch.clamp(m.sum(1), min=1)
        return seq[:, None] * torch.ones_like(logp)

    @staticmethod
    def backward(ctx, dy):
        (m,) = ctx.saved_tensors
        return apply_mask(dy, m), None, None


class StraightThrough(torch.autograd.Function):
    """kl.ts straightThrough: the value of `fwd`, the gradient dy·(logp - ref) to logp."""

    @staticmethod
    def forward(ctx, fwd, logp, ref):
        ctx.save_for_backward(logp, ref)
        return fwd.clone()

    @staticmethod
    def backward(ctx, dy):
        logp, ref = ctx.saved_tensors
        return torch.zeros_like(dy), dy * (logp - ref), None


def kl_base(kind, logp, ref):
    d = logp - ref
    if kind == "k1":
        return d
    if kind == "abs":
        return d * torch.sign(d)
    if kind in ("k2", "mse"):
        return d * d * 0.5
    kl = torch.clamp(-d, -20, 20)
    return torch.clamp(torch.exp(kl) - kl - 1, -10, 10)


def kl_penalty(kind, logp, ref):
    if kind.endswith("+"):
        return StraightThrough.apply(kl_base(kind[:-1], logp, ref), logp, ref)
    return kl_base(kind, logp, ref)


def aggregate(mode, x, m):
    """loss-agg.ts aggregateLoss over the whole batch (norm: every row, every masked token)."""
    lm = apply_mask(x, m)
    if mode == "token-mean":
        return lm.sum() / torch.clamp(m.sum(), min=1)
    if mode == "seq-mean-token-mean":
        return (lm.sum(1) / torch.clamp(m.sum(1), min=1)).sum() / max(m.shape[0], 1)
    raise ValueError(mode)


def aggregation_weights(mode, m):
    """loss-agg.ts aggregationWeights: what the controller sends as `weights` for the fused path."""
    B = m.shape[0]
    if mode == "token-mean":
        w = torch.full_like(m, 1.0 / max(float(m.sum()), 1.0))
    else:
        w = (1.0 / (torch.clamp(m.sum(1), min=1) * B))[:, None].expand_as(m)
    return torch.where(m > 0, w, torch.zeros_like(m))


def reference_loss(logp, ent, old, adv, m, ref, clip_low, clip_high, spec):
    """rl-step.ts: policy loss (clipped surrogate, aggregated, minus its entropy bonus)
    + kl_coef · aggregated KL."""
    if spec.get("ratio") == "gspo":
        ratio = torch.exp(tf_minimum(GspoTokenLogRatio.apply(logp, old, m), torch.full_like(logp, 10.0)))
    else:
        ratio = torch.exp(apply_mask(torch.clamp(logp - old, -20, 20), m))
    lo = torch.full_like(logp, 1 - clip_low)
    hi = (1 + clip_high)[:, None].expand_as(logp)
    clipped = tf_minimum(tf_maximum(ratio, lo), hi)
    l1, l2 = -adv * ratio, -adv * clipped
    loss_mat = tf_maximum(l1, l2)
    c = spec.get("clip_ratio_c")
    if c:
        loss_mat = torch.where(adv < 0, tf_minimum(loss_mat, -adv * c), loss_mat)
    mode = spec["agg"]
    loss = aggregate(mode, loss_mat, m)
    if spec.get("entropy_coef"):
        loss = loss - spec["entropy_coef"] * aggregate(mode, ent, m)
    if spec.get("kl_type"):
        loss = loss + spec["kl_coef"] * aggregate(mode, kl_penalty(spec["kl_type"], logp, ref), m)
    return loss


# ---- the batch ------------------------------------------------------------------------------------
SPANS = [(0, 9), (12, 4), (20, 14), (40, 6), (55, 11)]
OBSERVATION = (2, (4, 8))  # row 2's tokens 4..7 are a tool's output: never trained


def pad(seqs, T):
    out = torch.zeros(len(seqs), T, dtype=torch.float64)
    for i, s in enumerate(seqs):
        out[i, :s.numel()] = s
    return out


def unpad(mat, lengths):
    return [mat[i, :n].clone() for i, n in enumerate(lengths)]


class FusedEqualsCustom(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        # a small micro-batch budget: gradients and metrics accumulate over several micro-batches
        cls.engine = engine("--param-dtype", "float64", "--compute-dtype", "float64", micro_batch_tokens=24)
        cls.engine.create_model({"model_id": "m", "base_model": UNTIED})
        cls.params = [p for p in cls.engine.slot("m").net.parameters() if p.requires_grad]
        cls.lengths = [n for _, n in SPANS]
        cls.T = max(cls.lengths)
        fwd = cls.engine.forward({"model_id": "m", "data": rows(SPANS), "entropy": True})
        cls.lp = pad([o["logprobs"] for o in fwd["outputs"]], cls.T)
        cls.ent = pad([o["entropy"] for o in fwd["outputs"]], cls.T)
        m = torch.zeros(len(SPANS), cls.T, dtype=torch.float64)
        for i, n in enumerate(cls.lengths):
            m[i, 1:n] = 1  # position 0 stands for the prompt
        r, (a, b) = OBSERVATION
        m[r, a:b] = 0
        cls.mask = m

    def grads(self):
        g = [p.grad.detach().clone() if p.grad is not None else torch.zeros_like(p) for p in self.params]
        for p in self.params:
            p.grad = None
        return g

    def batch(self, seed, old_scale, adv_rows, ref_scale=0.3):
        g = torch.Generator().manual_seed(seed)
        B, T = self.lp.shape
        old = self.lp + old_scale * torch.randn(B, T, generator=g, dtype=torch.float64)
        # off the mask the old log-probs are absurd: nothing of them may reach the loss
        old = torch.where(self.mask > 0, old, self.lp - 60.0)
        adv = torch.tensor(adv_rows, dtype=torch.float64)[:, None] + 0.1 * torch.randn(B, T, generator=g, dtype=torch.float64)
        ref = self.lp + ref_scale * torch.randn(B, T, generator=g, dtype=torch.float64)
        return old, adv, ref

    def compare(self, spec, seed=0, old_scale=0.3, adv_rows=(1.0, -0.8, 0.6, -1.5, 0.9), ref_scale=0.3):
        """Runs both paths; returns the fused metrics after checking gradients and loss."""
        old, adv, ref = self.batch(seed, old_scale, adv_rows, ref_scale)
        B = len(SPANS)
        clip_low = spec.get("clip_low", 0.2)
        clip_high = torch.tensor(spec.get("clip_high", [0.2] * B), dtype=torch.float64)

        # custom: the loss here, its gradients w.r.t. log-probs and entropy as per-token weights there
        lp = self.lp.clone().requires_grad_(True)
        ent = self.ent.clone().requires_grad_(True)
        loss = reference_loss(lp, ent, old, adv, self.mask, ref, clip_low, clip_high, spec)
        loss.backward()
        weights = {"weights": unpad(-lp.grad, self.lengths)}
        if ent.grad is not None:  # as policy/torch: entropy weights only when the loss uses the entropy
            weights["entropy_weights"] = unpad(-ent.grad, self.lengths)
        self.engine.forward_backward({"model_id": "m", "data": rows(SPANS, weights), "loss_fn": "cross_entropy"})
        custom = self.grads()

        inputs = {
            "weights": unpad(aggregation_weights(spec["agg"], self.mask), self.lengths),
            "logprobs": unpad(old, self.lengths), "advantages": unpad(adv, self.lengths),
            "mask": unpad(self.mask, self.lengths),
            "clip_low": [torch.full((n,), clip_low, dtype=torch.float64) for n in self.lengths],
            "clip_high": [torch.full((n,), float(h), dtype=torch.float64) for n, h in zip(self.lengths, clip_high)],
        }
        config = {"ratio": spec.get("ratio", "token"), "clip_ratio_c": spec.get("clip_ratio_c") or 0,
                  "entropy_coef": spec.get("entropy_coef", 0.0)}
        if spec.get("kl_type"):
            inputs["ref_logprobs"] = unpad(ref, self.lengths)
            config.update(kl_type=spec["kl_type"], kl_coef=spec["kl_coef"])
        out = self.engine.forward_backward({"model_id": "m", "data": rows(SPANS, inputs), "loss_fn": "agent0_ppo", "loss_fn_config": config})
        fused = self.grads()

        scale = max(g.abs().max().item() for g in custom)
        self.assertGreater(scale, 1e-4, "the gradient is not trivially zero")
        diff = max((a - b).abs().max().item() for a, b in zip(custom, fused))
        self.assertLessEqual(diff, 1e-9, f"max |grad diff| {diff} (largest gradient {scale})")
        metrics = out["metrics"]
        self.assertAlmostEqual(metrics["loss:sum"], loss.item(), delta=1e-12)
        self.assertEqual(metrics["tokens:sum"], float(self.mask.sum()))
        return metrics

    def test_vanilla_token_clip_token_mean(self):
        m = self.compare({"agg": "token-mean"})
        self.assertGreater(m["pg_clipfrac_high:sum"], 0)
        self.assertGreater(m["pg_clipfrac_low:sum"], 0)
        self.assertLess(m["pg_clipfrac_high:sum"] + m["pg_clipfrac_low:sum"], m["tokens:sum"])

    def test_adpo_per_row_clip_high(self):
        highs = [0.3, 0.2, 0.26, 0.2, 0.23]
        m = self.compare({"agg": "token-mean", "clip_high": highs}, seed=1)
        self.assertAlmostEqual(m["clip_high_mean:sum"], sum(h * float(n) for h, n in zip(highs, self.mask.sum(1))), delta=1e-12)

    def test_dual_clip(self):
        m = self.compare({"agg": "token-mean", "clip_ratio_c": 3.0}, seed=2, old_scale=1.0)
        self.assertGreater(m["pg_clipfrac_dual:sum"], 0)

    def test_gspo_sequence_ratio_seq_mean_token_mean(self):
        # a band wide enough that some rows' sequence ratio falls inside it and others outside
        m = self.compare({"agg": "seq-mean-token-mean", "ratio": "gspo", "clip_low": 0.02, "clip_high": [0.03] * 5}, seed=3, old_scale=0.1)
        self.assertGreater(m["pg_clipfrac_high:sum"] + m["pg_clipfrac_low:sum"], 0)
        self.assertLess(m["pg_clipfrac_high:sum"] + m["pg_clipfrac_low:sum"], m["tokens:sum"])

    def test_kl_k3_and_k2_straight_through_with_entropy(self):
        self.compare({"agg": "token-mean", "kl_type": "k3", "kl_coef": 0.1}, seed=4)
        self.compare({"agg": "seq-mean-token-mean", "kl_type": "k2+", "kl_coef": 0.5, "entropy_coef": 0.01}, seed=5)

    def test_every_kl_type(self):
        # references far enough off that k3's ±10 clamp is reached on some tokens
        for kind in losses.KL_BASES:
            for st in ("", "+"):
                with self.subTest(kl=kind + st):
                    self.compare({"agg": "token-mean", "kl_type": kind + st, "kl_coef": 0.3}, seed=6, ref_scale=2.5)

    def test_everything_at_once(self):
        self.compare({"agg": "seq-mean-token-mean", "clip_high": [0.28, 0.2, 0.3, 0.21, 0.25], "clip_ratio_c": 3.0,
                      "kl_type": "low_var_kl+", "kl_coef": 0.05, "entropy_coef": 0.02}, seed=7, old_scale=0.8)


def row(*values):
    return torch.tensor([values], dtype=torch.float64)


class Metrics(unittest.TestCase):
    """agent0_ppo on hand-made log-probs: every metric and gradient worked out on paper."""

    def test_tiny_case_by_hand(self):
        r = [1.5, 0.5, 1.1, 5.0]
        # token 4 is off the mask (an observation): its huge values must count nowhere
        lp = torch.tensor([math.log(x) for x in r] + [800.0], dtype=torch.float64, requires_grad=True)
        ent = torch.tensor([1.0, 2.0, 3.0, 4.0, 100.0], dtype=torch.float64, requires_grad=True)
        inp = {
            "weights": row(0.25, 0.25, 0.25, 0.25, 0.0),
            "logprobs": torch.zeros(1, 5, dtype=torch.float64),
            "advantages": row(1.0, -1.0, 1.0, -2.0, 1.0),
            "mask": row(1.0, 1.0, 1.0, 1.0, 0.0),
            "clip_low": torch.full((1, 5), 0.2, dtype=torch.float64),
            "clip_high": torch.full((1, 5), 0.2, dtype=torch.float64),
            "ref_logprobs": lp.detach()[None] - 0.1,
        }
        valid = torch.ones(1, 5, dtype=torch.bool)
        cfg = {"clip_ratio_c": 3.0, "kl_type": "k1", "kl_coef": 0.5, "entropy_coef": 0.01}
        loss, m = losses.agent0_ppo(lp[None], ent[None], inp, valid, cfg)
        # token 0: r 1.5 > 1.2, A > 0 → clipped high, L = -1.2
        # token 1: r 0.5 < 0.8, A < 0 → clipped low, L = 0.8 (below the dual cap 3)
        # token 2: r 1.1 inside → L = -1.1, the only token with a policy gradient: -A·r·w = -0.275
        # token 3: r 5, A = -2 → L = max(10, 2.4) = 10, over the dual cap -A·c = 6 → 6
        pg = 0.25 * (-1.2 + 0.8 - 1.1 + 6.0)
        want = {
            "pg_loss:sum": pg, "pg_clipfrac_high:sum": 1.0, "pg_clipfrac_low:sum": 1.0, "pg_clipfrac_dual:sum": 1.0,
            "ratio_mean:sum": 8.1, "ratio_min:min": 0.5, "ratio_max:max": 5.0,
            "ppo_kl:sum": -math.log(1.5 * 0.5 * 1.1 * 5.0), "clip_high_mean:sum": 0.8, "tokens:sum": 4.0,
            "kl_loss:sum": 0.1, "entropy:sum": 10.0,
            "loss:sum": pg + 0.5 * 0.1 - 0.01 * 0.25 * 10.0,
        }
        self.assertEqual(set(m), set(want))
        for k, v in want.items():
            self.assertAlmostEqual(m[k], v, delta=1e-12, msg=k)
        self.assertAlmostEqual(loss.item(), want["loss:sum"], delta=1e-12)
        loss.backward()
        kl_grad = 0.5 * 0.25  # k1: d kl / d logp = 1 on every masked token
        for got, w in zip(lp.grad.tolist(), [kl_grad, kl_grad, kl_grad - 0.275, kl_grad, 0.0]):
            self.assertAlmostEqual(got, w, delta=1e-12)
        for got, w in zip(ent.grad.tolist(), [-0.0025] * 4 + [0.0]):
            self.assertAlmostEqual(got, w, delta=1e-15)

    def test_ties_go_where_tfjs_sends_them(self):
        # ratios exactly on the upper bound (A > 0) and exactly on the dual cap (A < 0): neither is
        # clipped, both keep the unclipped gradient -A·r·w (tf.maximum / tf.minimum favour their first operand)
        x = torch.tensor([0.25, 1.2], dtype=torch.float64)
        r = torch.exp(x).tolist()
        lp = x.clone().requires_grad_(True)
        inp = {
            "weights": row(0.5, 0.5), "logprobs": torch.zeros(1, 2, dtype=torch.float64), "advantages": row(2.0, -1.0),
            "clip_low": torch.full((1, 2), 0.2, dtype=torch.float64),
            "clip_high": torch.full((1, 2), r[0] - 1.0, dtype=torch.float64),  # 1 + (r - 1) == r exactly for r in [1, 2)
        }
        self.assertEqual(1.0 + (r[0] - 1.0), r[0])
        loss, m = losses.agent0_ppo(lp[None], None, inp, torch.ones(1, 2, dtype=torch.bool), {"clip_ratio_c": r[1]})
        self.assertEqual((m["pg_clipfrac_high:sum"], m["pg_clipfrac_dual:sum"]), (0.0, 0.0))
        loss.backward()
        self.assertAlmostEqual(lp.grad[0].item(), -2.0 * r[0] * 0.5, delta=1e-12)
        self.assertAlmostEqual(lp.grad[1].item(), 1.0 * r[1] * 0.5, delta=1e-12)

    def test_kl_estimates_by_hand(self):
        d = [-3.0, 0.5, 25.0, -25.0, 0.0]
        ref = torch.zeros(5, dtype=torch.float64)
        e = math.exp
        want = {  # (value, d value / d logp) per d
            "k1": ([-3.0, 0.5, 25.0, -25.0, 0.0], [1.0] * 5),
            "abs": ([3.0, 0.5, 25.0, 25.0, 0.0], [-1.0, 1.0, 1.0, -1.0, 0.0]),
            "k2": ([4.5, 0.125, 312.5, 312.5, 0.0], d),
            # k3 = e^{-d} + d - 1 clamped to ±10 (its gradient 1 - e^{-d} is 0 where clamped)
            "k3": ([10.0, e(-0.5) - 0.5, 10.0, 10.0, 0.0], [0.0, 1.0 - e(-0.5), 0.0, 0.0, 0.0]),
        }
        want["mse"], want["low_var_kl"] = want["k2"], want["k3"]
        for kind, (value, grad) in want.items():
            for st in ("", "+"):
                with self.subTest(kl=kind + st):
                    lp = torch.tensor(d, dtype=torch.float64, requires_grad=True)
                    k = losses.kl_penalty(kind + st, lp, ref)
                    k.sum().backward()
                    for got, v in zip(k.tolist(), value):
                        self.assertAlmostEqual(got, v, delta=1e-12)
                    # '+': the base's value with k2's gradient d
                    for got, g in zip(lp.grad.tolist(), d if st else grad):
                        self.assertAlmostEqual(got, g, delta=1e-12)
        with self.assertRaisesRegex(ValueError, "unknown kl_type 'k4'"):
            losses.kl_penalty("k4", ref, ref)

    def test_micro_batches_and_ranks_combine(self):
        parts = [{"a:sum": 1.0, "b:min": 2.0, "c:max": 3.0}, {"a:sum": 0.5, "b:min": -1.0, "c:max": 7.0}, {"a:sum": 2.0}]
        self.assertEqual(losses.combine(parts), {"a:sum": 3.5, "b:min": -1.0, "c:max": 7.0})


if __name__ == "__main__":
    unittest.main()
