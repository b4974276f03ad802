"""Feature detection: the same code runs on Debian's torch 1.13 (CPU CI) and torch 2.11 (GPU)."""
import torch
import torch.nn.functional as F

TORCH_VERSION = tuple(int(x) for x in torch.__version__.split("+")[0].split(".")[:2] if x.isdigit())
HAS_SDPA = hasattr(F, "scaled_dot_product_attention")
# enable_gqa arrived in torch 2.5 (the builtin has no inspectable signature)
SDPA_GQA = HAS_SDPA and TORCH_VERSION >= (2, 5)


def fsdp2():
    """torch.distributed.fsdp.fully_shard and MixedPrecisionPolicy when this torch has FSDP2, else None."""
    try:
        from torch.distributed.fsdp import MixedPrecisionPolicy, fully_shard  # torch >= 2.6
        return fully_shard, MixedPrecisionPolicy
    except Exception:  # noqa: BLE001 - 1.13 raises ValueError on Python 3.11 while importing fsdp
        return None


def transformers_module():
    """The transformers package when importable (and not disabled), else None."""
    try:
        import transformers
        return transformers
    except Exception:  # noqa: BLE001 - a broken install must not stop the built-in model
        return None


def versions():
    t = transformers_module()
    return {"torch": torch.__version__, "transformers": getattr(t, "__version__", None) if t else None}
