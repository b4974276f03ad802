"""agent0 trainer service: owns a causal LM's weights on 1..N devices for a TypeScript controller.

The controller (agent0's `policy/torch`) keeps everything algorithmic; this package only wraps
PyTorch (and transformers when importable): forward passes, back-propagation of per-token weights
or of the fused `agent0_ppo` loss, AdamW, checkpoints and sampling. See docs/trainer-protocol.md.
"""

PROTOCOL_VERSION = 1
__version__ = "0.1.0"
