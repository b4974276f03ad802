"""The static decoding step (the one CUDA graphs replay on GPUs) against the model's own cache: the
same tokens and log-probs, for left-padded rows of different lengths, greedy and sampled."""
import os
import unittest

import torch

from agent0_trainer import models, sampler
from agent0_trainer.detok import Detok

FIXTURE = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..", "..", "test", "fixtures", "qwen3-tiny", "untied"))
PROMPTS = [[5, 6, 7, 8], [9, 10], [11, 12, 13, 14, 15, 16], [17]]


def decode(model, static, params, dtype):
    det = Detok.from_folder(FIXTURE)
    rows = [sampler.Row(p, params, None, det) for p in PROMPTS]
    sampler.decode(model, "builtin", rows, det, torch.device("cpu"), dtype, 0, 256, 1, static=static)
    return [r.ids for r in rows], [r.logprobs for r in rows]


class StaticDecode(unittest.TestCase):
    def test_static_step_equals_dynamic_cache(self):
        model, _, _ = models.build(FIXTURE, None, "builtin", torch.float64, 0)
        for params in ({"max_tokens": 20, "temperature": 0}, {"max_tokens": 20, "temperature": 1.0, "top_p": 0.9}):
            ids_a, lp_a = decode(model, "off", params, torch.float64)
            ids_b, lp_b = decode(model, "eager", params, torch.float64)
            self.assertEqual(ids_a, ids_b)
            diff = max(abs(x - y) for ra, rb in zip(lp_a, lp_b) for x, y in zip(ra, rb))
            self.assertLessEqual(diff, 1e-6)  # log-probs are float32 in both

    def test_buckets_are_reused_across_calls(self):
        model, _, _ = models.build(FIXTURE, None, "builtin", torch.float32, 0)
        decode(model, "eager", {"max_tokens": 5, "temperature": 0}, torch.float32)
        decode(model, "eager", {"max_tokens": 7, "temperature": 0}, torch.float32)
        self.assertEqual(len(model._static_entries), 1)


if __name__ == "__main__":
    unittest.main()
