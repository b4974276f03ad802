"""Checkpoints of the engine in float64: a resumed model (weights and AdamW state) trains on exactly
as the one that was saved; snapshots are frozen copies; sampler folders are HF folders."""
import json
import os
import tempfile
import unittest

import torch

from agent0_trainer import st
from agent0_trainer.engine import RequestError

from .common import UNTIED, engine, rows

SPANS = [(0, 7), (9, 3), (15, 12)]
ADAM = {"learning_rate": 1e-2, "beta1": 0.9, "beta2": 0.95, "eps": 1e-8, "weight_decay": 0.01, "grad_clip_norm": 0.0}


class Checkpoints(unittest.TestCase):
    def setUp(self):
        self.engine = engine("--param-dtype", "float64", "--compute-dtype", "float64")
        self.engine.create_model({"model_id": "a", "base_model": UNTIED})
        g = torch.Generator().manual_seed(0)
        self.weights = [torch.randn(n, generator=g, dtype=torch.float64) for _, n in SPANS]
        self.dir = tempfile.TemporaryDirectory()
        self.addCleanup(self.dir.cleanup)

    def step(self, mid):
        self.engine.forward_backward({"model_id": mid, "data": rows(SPANS, {"weights": self.weights}), "loss_fn": "cross_entropy"})
        return self.engine.optim_step({"model_id": mid, "adam_params": ADAM})

    def logprobs(self, mid):
        return torch.cat([o["logprobs"] for o in self.engine.forward({"model_id": mid, "data": rows(SPANS)})["outputs"]])

    def test_resume_is_exact(self):
        self.step("a")
        self.step("a")
        path = os.path.join(self.dir.name, "ckpt")
        self.engine.save_weights({"model_id": "a", "path": path})
        with open(os.path.join(path, "config.json")) as f:
            self.assertEqual(json.load(f)["torch_dtype"], "float64")
        self.assertEqual(st.metadata(os.path.join(path, "optimizer.torch.safetensors"))["step"], "2")
        # a new model from the folder, and the folder loaded into a model of the same shape
        self.assertEqual(self.engine.create_model({"model_id": "b", "base_model": path})["step"], 2)
        self.engine.create_model({"model_id": "c", "base_model": UNTIED})
        self.assertEqual(self.engine.load_weights({"model_id": "c", "path": path}), {"type": "load_weights", "step": 2, "optimizer": True})
        want = self.logprobs("a")
        for mid in ("b", "c"):
            self.assertTrue(torch.equal(self.logprobs(mid), want), mid)
        # the AdamW moments and step count came back too: the next step lands on the same weights
        norms = [self.step(mid)["grad_norm"] for mid in ("a", "b", "c")]
        self.assertEqual(norms[1:], norms[:1] * 2)
        want = self.logprobs("a")
        for mid in ("b", "c"):
            self.assertLessEqual((self.logprobs(mid) - want).abs().max().item(), 1e-13, mid)

    def test_snapshot_is_a_frozen_copy(self):
        self.engine.snapshot({"model_id": "a", "target_id": "ref"})
        before = self.logprobs("ref")
        self.assertTrue(torch.equal(before, self.logprobs("a")))
        self.step("a")
        self.assertTrue(torch.equal(self.logprobs("ref"), before))
        self.assertFalse(torch.equal(self.logprobs("a"), before))
        with self.assertRaisesRegex(RequestError, "frozen"):
            self.engine.forward_backward({"model_id": "ref", "data": rows(SPANS), "loss_fn": "cross_entropy"})
        with self.assertRaisesRegex(RequestError, "exists"):
            self.engine.snapshot({"model_id": "a", "target_id": "ref"})

    def test_sampler_folder_in_bf16(self):
        path = os.path.join(self.dir.name, "sampler")
        self.engine.save_weights_for_sampler({"model_id": "a", "path": path, "dtype": "bfloat16"})
        files = set(os.listdir(path))
        self.assertTrue({"config.json", "model.safetensors", "tokenizer.json", "generation_config.json"} <= files)
        self.assertNotIn("optimizer.torch.safetensors", files)
        header, _ = st.read_header(os.path.join(path, "model.safetensors"))
        self.assertEqual({v["dtype"] for k, v in header.items() if k != "__metadata__"}, {"BF16"})
        saved = st.read_folder(path)
        live = dict(self.engine.slot("a").lm.named_parameters())
        self.assertEqual(set(saved), set(live))
        for k, t in saved.items():
            self.assertTrue(torch.equal(t, live[k].detach().to(torch.bfloat16)), k)


if __name__ == "__main__":
    unittest.main()
