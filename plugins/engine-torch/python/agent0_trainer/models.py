"""Building, sharding, reading and writing the causal LM a model slot holds.

A transformers AutoModelForCausalLM when transformers is importable (any HF causal-LM folder),
else the built-in Qwen3. Either way the module has `.model` (the backbone) and `.lm_head`, and
this file gives both one calling convention: `backbone(...)` → hidden states.
"""
import contextlib
import json
import os
import shutil

import torch

from . import st
from .compat import fsdp2, transformers_module
from .qwen3 import Qwen3ForCausalLM

DTYPES = {"float32": torch.float32, "float64": torch.float64, "bfloat16": torch.bfloat16, "float16": torch.float16}

TOKENIZER_FILES = (
    "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.json", "merges.txt",
    "generation_config.json", "chat_template.jinja", "tiny_tokenizer.json",
)


def dtype_of(name):
    if name not in DTYPES:
        raise ValueError(f"unknown dtype '{name}'; supported: {', '.join(DTYPES)}")
    return DTYPES[name]


def read_config(folder):
    path = os.path.join(folder, "config.json")
    if not os.path.exists(path):
        raise FileNotFoundError(f"{folder} has no config.json (not an HF model folder)")
    with open(path) as f:
        return json.load(f)


def pick_impl(asked, config):
    """'transformers' when importable and asked or auto; 'builtin' for qwen3 otherwise."""
    tf = transformers_module()
    if asked == "transformers" or (asked == "auto" and tf is not None):
        if tf is None:
            raise RuntimeError("impl 'transformers' was asked for but transformers is not importable")
        return "transformers"
    mt = config.get("model_type", "qwen3")
    if mt != "qwen3":
        raise ValueError(f"model_type '{mt}' needs transformers (the built-in model is Qwen3 only)")
    return "builtin"


def build(base_model, config, impl, dtype, seed, attn="sdpa", device=None):
    """(module in `dtype` on `device` (default CPU), HF config dict, impl). base_model: an HF folder, or None for random init."""
    if base_model is not None:
        config = {**read_config(base_model), **(config or {})} if config else read_config(base_model)
    elif not config:
        raise ValueError("create_model needs base_model (an HF folder) or agent0.config (random init)")
    config = {"model_type": "qwen3", "architectures": ["Qwen3ForCausalLM"], **config}
    impl = pick_impl(impl, config)
    if impl == "transformers":
        tf = transformers_module()
        if base_model is not None:
            module = tf.AutoModelForCausalLM.from_pretrained(base_model, dtype=dtype, attn_implementation=attn)
        else:
            cfg = tf.AutoConfig.for_model(**config)
            torch.manual_seed(int(seed))
            # initialised where it will live: a 4B model's init takes seconds on a GPU, minutes on a CPU
            with _on(device):
                module = tf.AutoModelForCausalLM.from_config(cfg, attn_implementation=attn)
            _cast_keeping_rope(module, dtype)
        module.config.use_cache = False
        return module.to(device or "cpu"), module.config.to_dict(), impl
    with _on(device):
        module = Qwen3ForCausalLM(config)
    module.to(dtype=dtype)  # before loading: a float64 checkpoint must not pass through float32
    if base_model is not None:
        load_state(module, st.read_folder(base_model), base_model)
    else:
        module.init_weights(seed)
    return module.to(device=device or "cpu", dtype=dtype), config, impl


def _cast_keeping_rope(module, dtype):
    """module.to(dtype) except RoPE's inv_freq buffers, which stay as they are: from_pretrained(dtype=)
    keeps them in float32, and rounding them to bf16 moves the angles by radians at a few thousand
    positions (a random-init model must compute as a loaded one does)."""
    keep = {n: b for n, b in module.named_buffers() if n.endswith("inv_freq")}
    module.to(dtype)
    for n, b in keep.items():
        owner, _, leaf = n.rpartition(".")
        (module.get_submodule(owner) if owner else module)._buffers[leaf] = b


def _on(device):
    """Default device for new tensors (torch >= 2); a no-op elsewhere and for the CPU."""
    if device is None or str(device) == "cpu" or not hasattr(torch.device, "__enter__"):
        return contextlib.nullcontext()
    return torch.device(device)


def load_state(module, tensors, where):
    """Copies HF-named tensors into the module (casting), checking names and shapes both ways."""
    params = dict(module.named_parameters())
    missing = [k for k in params if k not in tensors and not (k == "lm_head.weight" and tied(module))]
    if missing:
        raise ValueError(f"{where}: missing weights {missing[:5]}{' ...' if len(missing) > 5 else ''}")
    with torch.no_grad():
        for k, t in tensors.items():
            p = params.get(k)
            if p is None:
                if k == "lm_head.weight" and tied(module):
                    continue
                raise ValueError(f"{where}: unexpected weight '{k}' (not a parameter of this model)")
            if tuple(p.shape) != tuple(t.shape):
                raise ValueError(f"{where}: '{k}' has shape {list(t.shape)} there but {list(p.shape)} here")
            p.copy_(t.to(p.dtype))


def tied(module):
    head = getattr(module, "lm_head", None)
    emb = module.model.embed_tokens
    return head is not None and head.weight is emb.weight


def backbone(module, impl, input_ids, position_ids=None, key_mask=None, cache=None):
    """(hidden [B, T, d], cache). key_mask [B, past + T] (1 = real token) only for decoding."""
    if impl == "builtin":
        return module.model(input_ids, position_ids=position_ids, key_mask=key_mask, cache=cache), cache
    out = module.model(
        input_ids=input_ids, attention_mask=key_mask, position_ids=position_ids,
        past_key_values=cache, use_cache=cache is not None or key_mask is not None,
    )
    return out.last_hidden_state, getattr(out, "past_key_values", None)


def enable_checkpointing(module, impl):
    if impl == "builtin":
        module.model.gradient_checkpointing = True
    else:
        module.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})


def shard(module, layers, compute_dtype, reduce_dtype=torch.float32):
    """FSDP2: one unit per decoder layer plus `module` as the root (the embedding, final norm and head);
    params keep their dtype, compute in compute_dtype."""
    api = fsdp2()
    if api is None:
        raise RuntimeError(f"FSDP2 is not available in torch {torch.__version__}")
    fully_shard, MixedPrecisionPolicy = api
    mp = MixedPrecisionPolicy(param_dtype=compute_dtype, reduce_dtype=reduce_dtype)
    units = []
    for layer in layers:
        fully_shard(layer, mp_policy=mp)
        units.append(layer)
    fully_shard(module, mp_policy=mp)
    units.append(module)
    return units


def full_state(module, sharded):
    """{HF name: full tensor on CPU} (collective under FSDP2: every rank must call it)."""
    if sharded:
        from torch.distributed.checkpoint.state_dict import StateDictOptions, get_model_state_dict
        sd = get_model_state_dict(module, options=StateDictOptions(full_state_dict=True, cpu_offload=True))
    else:
        sd = {k: v.detach().to("cpu") for k, v in module.state_dict().items()}
    return {k: v for k, v in sd.items() if not k.endswith("rotary_emb.inv_freq")}


def set_full_state(module, tensors, sharded, where):
    if sharded:
        from torch.distributed.checkpoint.state_dict import StateDictOptions, set_model_state_dict
        set_model_state_dict(module, tensors, options=StateDictOptions(full_state_dict=True, strict=False))
    else:
        load_state(module, tensors, where)


def write_hf_folder(folder, tensors, config, dtype, tokenizer_dir):
    """config.json + safetensors (in `dtype`) + the tokenizer files: loadable by transformers, vLLM,
    SGLang, agent0's policy/tfjs and agent0 serve."""
    os.makedirs(folder, exist_ok=True)
    cast = {k: v.to(dtype) if v.is_floating_point() else v for k, v in tensors.items()}
    st.write_folder(folder, cast)
    cfg = {k: v for k, v in config.items() if not k.startswith("_")}
    name = {torch.float32: "float32", torch.bfloat16: "bfloat16", torch.float16: "float16", torch.float64: "float64"}[dtype]
    cfg["torch_dtype"] = name
    cfg["dtype"] = name
    tmp = os.path.join(folder, "config.json.tmp")
    with open(tmp, "w") as f:
        json.dump(cfg, f, indent=2, default=str)
    os.replace(tmp, os.path.join(folder, "config.json"))
    if tokenizer_dir and os.path.abspath(tokenizer_dir) != os.path.abspath(folder):
        for fname in TOKENIZER_FILES:
            src = os.path.join(tokenizer_dir, fname)
            if os.path.exists(src):
                shutil.copyfile(src, os.path.join(folder, fname))


def count_params(module):
    seen, n = set(), 0
    for p in module.parameters():
        if id(p) not in seen:
            seen.add(id(p))
            n += p.numel()
    return n
