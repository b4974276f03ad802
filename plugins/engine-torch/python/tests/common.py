"""Shared by the tests: the qwen3-tiny fixture (test/fixtures/qwen3-tiny, made with transformers)
and an in-process Engine configured as `python -m agent0_trainer` configures its own."""
import json
import os

import torch

from agent0_trainer.__main__ import parse_args
from agent0_trainer.comm import Comm
from agent0_trainer.engine import Engine

HERE = os.path.dirname(os.path.abspath(__file__))
PACKAGE_ROOT = os.path.dirname(HERE)
FIXTURE = os.path.abspath(os.path.join(HERE, "..", "..", "..", "..", "test", "fixtures", "qwen3-tiny"))
UNTIED = os.path.join(FIXTURE, "untied")

with open(os.path.join(FIXTURE, "reference.json"), encoding="utf-8") as _f:
    REFERENCE = json.load(_f)

# a long real token sequence to cut rows from
IDS = REFERENCE["logits"]["ids"][2]


def engine(*argv, **overrides):
    """A single-rank CPU Engine with the defaults the service builds from these command-line flags."""
    a = parse_args(list(argv))
    defaults = {
        "impl": a.impl, "param_dtype": a.param_dtype, "compute_dtype": a.compute_dtype, "save_dtype": a.save_dtype,
        "shard": a.shard, "micro_batch_tokens": a.micro_batch_tokens, "max_micro_batch_rows": a.max_micro_batch_rows,
        "gradient_checkpointing": a.gradient_checkpointing, "seed": a.seed, "max_sample_rows": a.max_sample_rows,
    }
    defaults.update(overrides)
    # a leftover WORLD_SIZE would make Comm join a process group
    assert "WORLD_SIZE" not in os.environ, "the in-process engine tests need WORLD_SIZE unset"
    return Engine(Comm("cpu"), "cpu", defaults)


def rows(spans, inputs=None):
    """Datums cut from IDS: span (start, n) gives n tokens, each predicting the next id."""
    out = []
    for k, (s, n) in enumerate(spans):
        out.append({
            "tokens": torch.tensor(IDS[s:s + n], dtype=torch.long),
            "targets": torch.tensor(IDS[s + 1:s + n + 1], dtype=torch.long),
            "inputs": {} if inputs is None else {name: v[k] for name, v in inputs.items()},
        })
    return out
