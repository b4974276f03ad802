"""The built-in Qwen3 against logits transformers computed from the same files, its RoPE when cast
to bf16, and its KV-cache decoding (left-padded rows) against plain full forwards."""
import math
import os
import unittest

import torch

from agent0_trainer import models, st

from .common import FIXTURE, IDS, REFERENCE


def logits(module, ids, **kw):
    hidden, _ = models.backbone(module, "builtin", ids, **kw)
    return module.lm_head(hidden)


class ReferenceLogits(unittest.TestCase):
    def test_both_variants_match_transformers(self):
        ref = st.read_file(os.path.join(FIXTURE, "reference_logits.safetensors"))
        # untied: 3 shards + index in fp32; tied-bf16: one file in bf16, lm_head shared with the embedding
        for variant in ("untied", "tied-bf16"):
            module, _, impl = models.build(os.path.join(FIXTURE, variant), None, "builtin", torch.float32, 0)
            self.assertEqual(impl, "builtin")
            self.assertEqual(models.tied(module), variant == "tied-bf16")
            for i, ids in enumerate(REFERENCE["logits"]["ids"]):
                with torch.no_grad():
                    got = logits(module, torch.tensor([ids]))[0]
                want = ref[f"{variant}.{i}"]
                self.assertEqual(tuple(got.shape), tuple(want.shape))
                diff = (got - want).abs().max().item()
                self.assertLessEqual(diff, 1e-4, f"{variant}.{i}: max |logit diff| {diff}")


class Rope(unittest.TestCase):
    def test_bf16_model_keeps_float32_angles(self):
        # as transformers: RoPE angles in float32 whatever the weights' dtype; only cos/sin are rounded
        folder = os.path.join(FIXTURE, "untied")
        bf16, _, _ = models.build(folder, None, "builtin", torch.bfloat16, 0)
        fp32, _, _ = models.build(folder, None, "builtin", torch.float32, 0)
        pos = torch.tensor([[0, 1, 17, 255, 3000, 40000]])
        for got, want in zip(bf16.model.rope(pos, torch.bfloat16), fp32.model.rope(pos, torch.float32)):
            self.assertTrue(torch.equal(got, want.to(torch.bfloat16)))
        theta, hd = 1e6, 16
        angle = 40000 * theta ** (-2 / hd)  # the second frequency at position 40000, by hand
        self.assertAlmostEqual(fp32.model.rope(pos, torch.float32)[0][0, 0, 5, 1].item(), math.cos(angle), delta=1e-3)


class KVCacheDecoding(unittest.TestCase):
    def test_left_padded_decode_equals_full_forward(self):
        module, _, _ = models.build(os.path.join(FIXTURE, "untied"), None, "builtin", torch.float64, 0)
        module.eval()
        prompts = [IDS[0:3], IDS[10:17], IDS[30:35]]
        fed = [IDS[60:64], IDS[70:74], IDS[80:84]]  # tokens appended one per step, as sampling would
        steps = len(fed[0])
        B, L = len(prompts), max(len(p) for p in prompts)
        ids = torch.full((B, L), 0, dtype=torch.long)
        mask = torch.zeros((B, L), dtype=torch.long)
        for b, p in enumerate(prompts):
            ids[b, L - len(p):] = torch.tensor(p)
            mask[b, L - len(p):] = 1
        pos = (mask.cumsum(1) - 1).clamp(min=0)
        cache = module.new_cache(B, L + steps, torch.float64, torch.device("cpu"))
        worst = 0.0
        with torch.no_grad():
            last = logits(module, ids, position_ids=pos, key_mask=mask, cache=cache)[:, -1]
            next_pos = pos[:, -1] + 1
            for step in range(steps + 1):
                for b in range(B):
                    full = logits(module, torch.tensor([prompts[b] + fed[b][:step]]))[0, -1]
                    worst = max(worst, (last[b] - full).abs().max().item())
                if step == steps:
                    break
                tok = torch.tensor([[fed[b][step]] for b in range(B)])
                mask = torch.cat([mask, torch.ones((B, 1), dtype=mask.dtype)], 1)
                last = logits(module, tok, position_ids=next_pos[:, None], key_mask=mask, cache=cache)[:, -1]
                next_pos = next_pos + 1
        self.assertEqual(cache.length, L + steps)
        self.assertLessEqual(worst, 1e-5)


if __name__ == "__main__":
    unittest.main()
