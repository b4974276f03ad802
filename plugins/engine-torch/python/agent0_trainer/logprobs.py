"""Per-token log-probs (and entropy) of targets: the one forward every route shares."""
import torch
import torch.nn as nn

from .models import backbone

# Logits above this many bytes per micro-batch are computed in sequence chunks (a [b, T, V] float32
# block for Qwen3's 152k vocabulary is 2.4 GB at 4k tokens).
LOGITS_CHUNK_BYTES = 2 * 2**30


def token_logprobs(hidden, weight, targets, want_entropy, out_dtype):
    """hidden [b, T, d], weight [V, d], targets [b, T] → (logp [b, T], entropy [b, T] or None) in out_dtype."""
    b, T, _ = hidden.shape
    V = weight.shape[0]
    per_pos = max(1, b * V * 4)
    chunk = max(1, min(T, LOGITS_CHUNK_BYTES // per_pos))
    lps, ents = [], []
    for s in range(0, T, chunk):
        logits = torch.matmul(hidden[:, s:s + chunk], weight.t()).to(out_dtype)
        logz = torch.logsumexp(logits, dim=-1)
        lps.append(logits.gather(-1, targets[:, s:s + chunk, None]).squeeze(-1) - logz)
        if want_entropy:
            p = torch.softmax(logits, dim=-1)
            ents.append(logz - (p * logits).sum(-1))
    lp = torch.cat(lps, 1) if len(lps) > 1 else lps[0]
    ent = (torch.cat(ents, 1) if len(ents) > 1 else ents[0]) if want_entropy else None
    return lp, ent


class LogProbNet(nn.Module):
    """The causal LM with a log-prob head. Under FSDP2 this is the root unit, so the embedding,
    final norm and head (not in any layer's unit) are gathered around its forward."""

    def __init__(self, lm, impl, out_dtype):
        super().__init__()
        self.lm = lm
        self.impl = impl
        self.out_dtype = out_dtype

    def forward(self, input_ids, targets, want_entropy=False):
        hidden, _ = backbone(self.lm, self.impl, input_ids)
        w = self.lm.lm_head.weight
        return token_logprobs(hidden, w.to(hidden.dtype), targets, want_entropy, self.out_dtype)
