"""Built-in eager Qwen3 for when transformers is not importable (CI: Debian's torch 1.13 alone).

Parameter names, shapes and numerics follow transformers' Qwen3ForCausalLM (RMSNorm in float32,
q/k RMSNorm per head before RoPE, GQA, SwiGLU, optional tied head), so the same safetensors load
in either. Only what the service needs: a causal forward to hidden states, a KV cache for decoding.
"""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.checkpoint import checkpoint

from .compat import HAS_SDPA, SDPA_GQA


def resolve_config(c):
    """The fields this model reads from an HF config.json dict, with Qwen3's defaults."""
    rope = c.get("rope_parameters") or c.get("rope_scaling") or {}
    theta = c.get("rope_theta", rope.get("rope_theta", 1_000_000.0))
    if rope.get("rope_type", rope.get("type", "default")) not in ("default", None):
        raise ValueError(f"built-in Qwen3: rope type {rope.get('rope_type')} is not supported (install transformers)")
    heads = c["num_attention_heads"]
    return {
        "vocab_size": c["vocab_size"],
        "hidden_size": c["hidden_size"],
        "intermediate_size": c["intermediate_size"],
        "num_hidden_layers": c["num_hidden_layers"],
        "num_attention_heads": heads,
        "num_key_value_heads": c.get("num_key_value_heads", heads),
        "head_dim": c.get("head_dim") or c["hidden_size"] // heads,
        "rms_norm_eps": c.get("rms_norm_eps", 1e-6),
        "rope_theta": float(theta),
        "tie_word_embeddings": bool(c.get("tie_word_embeddings", False)),
        "max_position_embeddings": c.get("max_position_embeddings", 40960),
        "initializer_range": c.get("initializer_range", 0.02),
    }


class RMSNorm(nn.Module):
    def __init__(self, d, eps):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(d))
        self.variance_epsilon = eps

    def forward(self, x):
        dtype = x.dtype
        h = x.to(_wide(dtype))
        h = h * torch.rsqrt(h.pow(2).mean(-1, keepdim=True) + self.variance_epsilon)
        return self.weight * h.to(dtype)


def _wide(dtype):
    """float32 for half types and float32 (as transformers computes norms and softmax), float64 for float64."""
    return torch.float64 if dtype == torch.float64 else torch.float32


def rotate_half(x):
    h = x.shape[-1] // 2
    return torch.cat((-x[..., h:], x[..., :h]), dim=-1)


class KVCache:
    """Preallocated keys/values [B, KV, capacity, hd] per layer; `length` columns are filled.

    `write` (a 1-element long tensor) switches the layers to the static step used under CUDA graphs:
    keys are written at column write[0] by index_copy_, and attention covers the whole capacity
    under an additive key mask, so every tensor keeps its address and shape from step to step."""

    def __init__(self, layers, batch, kv_heads, capacity, head_dim, dtype, device):
        self.k = [torch.zeros(batch, kv_heads, capacity, head_dim, dtype=dtype, device=device) for _ in range(layers)]
        self.v = [torch.zeros(batch, kv_heads, capacity, head_dim, dtype=dtype, device=device) for _ in range(layers)]
        self.length = 0
        self.write = None


class Attention(nn.Module):
    def __init__(self, c):
        super().__init__()
        d, hd = c["hidden_size"], c["head_dim"]
        self.heads, self.kv_heads, self.head_dim = c["num_attention_heads"], c["num_key_value_heads"], hd
        self.q_proj = nn.Linear(d, self.heads * hd, bias=False)
        self.k_proj = nn.Linear(d, self.kv_heads * hd, bias=False)
        self.v_proj = nn.Linear(d, self.kv_heads * hd, bias=False)
        self.o_proj = nn.Linear(self.heads * hd, d, bias=False)
        self.q_norm = RMSNorm(hd, c["rms_norm_eps"])
        self.k_norm = RMSNorm(hd, c["rms_norm_eps"])

    def forward(self, x, cos, sin, bias, cache, layer):
        B, T, _ = x.shape
        q = self.q_norm(self.q_proj(x).view(B, T, self.heads, self.head_dim)).transpose(1, 2)
        k = self.k_norm(self.k_proj(x).view(B, T, self.kv_heads, self.head_dim)).transpose(1, 2)
        v = self.v_proj(x).view(B, T, self.kv_heads, self.head_dim).transpose(1, 2)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        if cache is not None and cache.write is not None:
            cache.k[layer].index_copy_(2, cache.write, k)
            cache.v[layer].index_copy_(2, cache.write, v)
            k, v = cache.k[layer], cache.v[layer]
        elif cache is not None:
            s = cache.length
            cache.k[layer][:, :, s:s + T] = k
            cache.v[layer][:, :, s:s + T] = v
            k = cache.k[layer][:, :, :s + T]
            v = cache.v[layer][:, :, :s + T]
        out = attend(q, k, v, bias, self.heads // self.kv_heads)
        return self.o_proj(out.transpose(1, 2).reshape(B, T, -1))


def attend(q, k, v, bias, groups):
    """bias None: plain causal attention (right-padded training rows); else an additive [B, 1, T, S] mask."""
    scale = 1.0 / math.sqrt(q.shape[-1])
    if HAS_SDPA:
        if groups > 1 and not SDPA_GQA:
            k, v = k.repeat_interleave(groups, dim=1), v.repeat_interleave(groups, dim=1)
        extra = {"enable_gqa": True} if groups > 1 and SDPA_GQA else {}
        if bias is None:
            return F.scaled_dot_product_attention(q, k, v, is_causal=True, scale=scale, **extra)
        return F.scaled_dot_product_attention(q, k, v, attn_mask=bias.to(q.dtype), scale=scale, **extra)
    if groups > 1:
        k, v = k.repeat_interleave(groups, dim=1), v.repeat_interleave(groups, dim=1)
    scores = torch.matmul(q, k.transpose(-1, -2)) * scale
    if bias is None:
        T, S = q.shape[-2], k.shape[-2]
        bias = causal_bias(T, S, S - T, None, q.device)
    scores = scores + bias.to(scores.dtype)
    probs = torch.softmax(scores, dim=-1, dtype=_wide(scores.dtype)).to(q.dtype)
    return torch.matmul(probs, v)


def causal_bias(T, S, offset, key_mask, device):
    """[B or 1, 1, T, S] additive mask: query i sees key j <= offset + i where key_mask[b, j] is 1."""
    i = torch.arange(T, device=device).view(T, 1)
    j = torch.arange(S, device=device).view(1, S)
    allowed = (j <= i + offset).view(1, 1, T, S)
    if key_mask is not None:
        allowed = allowed & key_mask.bool().view(key_mask.shape[0], 1, 1, S)
    return torch.zeros(allowed.shape, device=device).masked_fill(~allowed, torch.finfo(torch.float32).min)


class MLP(nn.Module):
    def __init__(self, c):
        super().__init__()
        d, ff = c["hidden_size"], c["intermediate_size"]
        self.gate_proj = nn.Linear(d, ff, bias=False)
        self.up_proj = nn.Linear(d, ff, bias=False)
        self.down_proj = nn.Linear(ff, d, bias=False)

    def forward(self, x):
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))


class DecoderLayer(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.input_layernorm = RMSNorm(c["hidden_size"], c["rms_norm_eps"])
        self.self_attn = Attention(c)
        self.post_attention_layernorm = RMSNorm(c["hidden_size"], c["rms_norm_eps"])
        self.mlp = MLP(c)

    def forward(self, h, cos, sin, bias=None, cache=None, layer=0):
        h = h + self.self_attn(self.input_layernorm(h), cos, sin, bias, cache, layer)
        return h + self.mlp(self.post_attention_layernorm(h))


class Qwen3Model(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.embed_tokens = nn.Embedding(c["vocab_size"], c["hidden_size"])
        self.layers = nn.ModuleList(DecoderLayer(c) for _ in range(c["num_hidden_layers"]))
        self.norm = RMSNorm(c["hidden_size"], c["rms_norm_eps"])
        hd = c["head_dim"]
        inv = 1.0 / (c["rope_theta"] ** (torch.arange(0, hd, 2, dtype=torch.int64).float() / hd))
        self.register_buffer("inv_freq", inv, persistent=False)
        self.rope_theta, self.head_dim = c["rope_theta"], hd
        self.gradient_checkpointing = False

    def rope(self, positions, dtype):
        w = _wide(dtype)
        # the buffer only while float32: module.to(bfloat16) rounds it too (RoPE angles off by radians at 3k positions)
        fresh = w != torch.float32 or self.inv_freq.dtype != torch.float32
        inv = self.inv_freq if not fresh else 1.0 / (self.rope_theta ** (torch.arange(0, self.head_dim, 2, device=positions.device, dtype=w) / self.head_dim))
        freqs = positions.to(w)[..., None] * inv.to(w)
        emb = torch.cat((freqs, freqs), dim=-1)
        return emb.cos().to(dtype)[:, None], emb.sin().to(dtype)[:, None]

    def static_step(self, input_ids, position_ids, bias, cache):
        """One decoding step with fixed shapes and addresses (CUDA-graph capturable): input_ids and
        position_ids [B, 1], bias [B, 1, 1, capacity] additive key mask, cache.write the column."""
        h = self.embed_tokens(input_ids)
        cos, sin = self.rope(position_ids, h.dtype)
        for i, layer in enumerate(self.layers):
            h = layer(h, cos, sin, bias, cache, i)
        return self.norm(h)

    def forward(self, input_ids, position_ids=None, key_mask=None, cache=None):
        """Hidden states [B, T, d]. Without cache and key_mask: causal over right-padded rows."""
        B, T = input_ids.shape
        past = cache.length if cache is not None else 0
        if position_ids is None:
            position_ids = torch.arange(past, past + T, device=input_ids.device).expand(B, T)
        h = self.embed_tokens(input_ids)
        cos, sin = self.rope(position_ids, h.dtype)
        bias = None
        if cache is not None or key_mask is not None:
            bias = causal_bias(T, past + T, past, key_mask, input_ids.device)
        ckpt = self.gradient_checkpointing and self.training and torch.is_grad_enabled()
        for i, layer in enumerate(self.layers):
            if ckpt:
                h = checkpoint(layer, h, cos, sin, bias, use_reentrant=False)
            else:
                h = layer(h, cos, sin, bias, cache, i)
        if cache is not None:
            cache.length += T
        return self.norm(h)


class Qwen3ForCausalLM(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.config = resolve_config(config)
        c = self.config
        self.model = Qwen3Model(c)
        self.lm_head = nn.Linear(c["hidden_size"], c["vocab_size"], bias=False)
        if c["tie_word_embeddings"]:
            self.lm_head.weight = self.model.embed_tokens.weight

    def init_weights(self, seed):
        """Normal(0, initializer_range) for linear and embedding weights, ones for norms (as HF)."""
        dev = self.lm_head.weight.device
        g = torch.Generator(device=dev).manual_seed(int(seed))
        std = self.config["initializer_range"]
        with torch.no_grad():
            for name, p in self.named_parameters():
                if name.endswith("norm.weight"):
                    p.fill_(1.0)
                else:
                    p.copy_(torch.randn(p.shape, generator=g, dtype=torch.float32, device=dev).mul_(std).to(p.dtype))

    def new_cache(self, batch, capacity, dtype, device):
        c = self.config
        return KVCache(c["num_hidden_layers"], batch, c["num_key_value_heads"], capacity, c["head_dim"], dtype, device)
