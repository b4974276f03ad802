"""FSDP2 on one GPU (a single-rank group): the sharded code paths (fully_shard, DTensor grad clip and
AdamW, full-state gather on save, sharded load, snapshot and decoding copy of a sharded slot) give
what the plain module gives. Skipped without CUDA or without FSDP2 (Debian's torch 1.13 on CPU)."""
import os
import tempfile
import unittest

import torch

from agent0_trainer.__main__ import parse_args
from agent0_trainer.comm import Comm
from agent0_trainer.compat import fsdp2
from agent0_trainer.engine import Engine

from .common import UNTIED, rows

SPANS = [(0, 7), (9, 3), (15, 12), (30, 20)]
ADAM = {"learning_rate": 1e-3, "beta1": 0.9, "beta2": 0.95, "eps": 1e-8, "weight_decay": 0.01, "grad_clip_norm": 0.5}
# fp32 throughout so the two layouts can be compared closely (FSDP2 at world 1 reorders no sums,
# but reduce-scatter and the fused AdamW over DTensors may round differently)
TOL = 2e-5


@unittest.skipIf(not torch.cuda.is_available() or fsdp2() is None, "needs CUDA and FSDP2 (torch >= 2.6)")
class Fsdp2SingleGpu(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        a = parse_args([])
        defaults = {
            "impl": "builtin", "param_dtype": "float32", "compute_dtype": "float32", "save_dtype": "float32", "shard": "none",
            "micro_batch_tokens": 16, "max_micro_batch_rows": a.max_micro_batch_rows, "gradient_checkpointing": True,
            "seed": 0, "max_sample_rows": a.max_sample_rows,
        }
        cls.engine = Engine(Comm("cuda"), "cuda", defaults)

    def setUp(self):
        for mid in list(self.engine.slots):
            self.engine.unload_model({"model_id": mid})
        g = torch.Generator().manual_seed(0)
        self.adv = [torch.randn(n, generator=g, dtype=torch.float64) for _, n in SPANS]
        self.dir = tempfile.TemporaryDirectory()
        self.addCleanup(self.dir.cleanup)

    def create(self, mid, shard, base=UNTIED):
        return self.engine.create_model({"model_id": mid, "base_model": base, "options": {"shard": shard}})

    def logprobs(self, mid):
        return torch.cat([o["logprobs"] for o in self.engine.forward({"model_id": mid, "data": rows(SPANS)})["outputs"]])

    def step(self, mid):
        zeros = [torch.zeros(n, dtype=torch.float64) for _, n in SPANS]
        inputs = {"advantages": self.adv, "logprobs": zeros}
        self.engine.forward_backward({"model_id": mid, "data": rows(SPANS, inputs), "loss_fn": "ppo",
                                      "loss_fn_config": {"clip_low_threshold": 0.8, "clip_high_threshold": 1.2}})
        return self.engine.optim_step({"model_id": mid, "adam_params": ADAM})["grad_norm"]

    def test_sharded_trains_as_the_plain_module(self):
        self.assertTrue(self.create("s", "fsdp2")["sharded"])
        self.assertFalse(self.create("p", "none")["sharded"])
        self.assertLessEqual((self.logprobs("s") - self.logprobs("p")).abs().max().item(), TOL)
        for _ in range(3):
            gs, gp = self.step("s"), self.step("p")
            self.assertAlmostEqual(gs, gp, delta=TOL * max(1.0, gp))
        self.assertLessEqual((self.logprobs("s") - self.logprobs("p")).abs().max().item(), 10 * TOL)

    def test_sharded_checkpoint_snapshot_and_decoding_copy(self):
        self.create("s", "fsdp2")
        self.step("s")
        path = os.path.join(self.dir.name, "ckpt")
        self.engine.save_weights({"model_id": "s", "path": path})
        want = self.logprobs("s")
        # the gathered folder loads into a plain module and into another sharded one (with AdamW state)
        self.create("plain", "none", base=path)
        self.assertLessEqual((self.logprobs("plain") - want).abs().max().item(), TOL)
        self.create("s2", "fsdp2")
        self.assertEqual(self.engine.load_weights({"model_id": "s2", "path": path})["optimizer"], True)
        self.assertTrue(torch.equal(self.logprobs("s2"), want))
        self.assertAlmostEqual(self.step("s2"), self.step("s"), delta=1e-6)
        self.assertLessEqual((self.logprobs("s2") - self.logprobs("s")).abs().max().item(), TOL)
        # a snapshot is frozen: the source trains on, the snapshot keeps its weights
        self.engine.snapshot({"model_id": "s", "target_id": "ref"})
        frozen = self.logprobs("ref")
        self.step("s")
        self.assertTrue(torch.equal(self.logprobs("ref"), frozen))
        # the decoding copy of a sharded slot holds its current weights
        model, _ = self.engine.sampling_model(self.engine.slot("s"))
        ids = torch.tensor([rows(SPANS)[3]["tokens"].tolist()], device="cuda")
        with torch.no_grad():
            logits = model.lm_head(model.model(ids))
        lp = torch.log_softmax(logits.float(), -1)[0].gather(-1, rows(SPANS)[3]["targets"].cuda()[:, None])[:, 0].cpu()
        got = self.logprobs("s")[-SPANS[3][1]:]
        self.assertLessEqual((lp.double() - got.double()).abs().max().item(), 1e-3)  # decoding copy is in the compute dtype


if __name__ == "__main__":
    unittest.main()
