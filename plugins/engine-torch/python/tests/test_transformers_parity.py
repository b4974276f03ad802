"""The built-in Qwen3 against transformers' Qwen3ForCausalLM with the same weights (skipped where
transformers is not importable, as on CI's Debian torch). On a GPU also a random Qwen3-4B-shaped
model in bf16; AGENT0_PARITY_JSON names a file for the measured differences."""
import json
import os
import unittest

import torch

from agent0_trainer import models
from agent0_trainer.compat import transformers_module

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURE = os.path.abspath(os.path.join(HERE, "..", "..", "..", "..", "test", "fixtures", "qwen3-tiny"))
QWEN3_4B = {
    "model_type": "qwen3", "vocab_size": 151936, "hidden_size": 2560, "intermediate_size": 9728, "num_hidden_layers": 36,
    "num_attention_heads": 32, "num_key_value_heads": 8, "head_dim": 128, "tie_word_embeddings": True, "rms_norm_eps": 1e-6,
    "rope_theta": 1_000_000.0, "max_position_embeddings": 40960,
}
RESULTS = {}


def logprobs(module, impl, ids):
    hidden, _ = models.backbone(module, impl, ids)
    logits = torch.matmul(hidden, module.lm_head.weight.t()).float()
    return torch.log_softmax(logits, -1)[:, :-1].gather(-1, ids[:, 1:, None]).squeeze(-1), logits


@unittest.skipIf(transformers_module() is None, "transformers is not importable")
class TransformersParity(unittest.TestCase):
    def test_fixture_fp32(self):
        for variant in ("untied", "tied-bf16"):
            hf, _, _ = models.build(os.path.join(FIXTURE, variant), None, "transformers", torch.float32, 0)
            mine, _, _ = models.build(os.path.join(FIXTURE, variant), None, "builtin", torch.float32, 0)
            ids = torch.randint(0, 384, (3, 64), generator=torch.Generator().manual_seed(0))
            with torch.no_grad():
                _, a = logprobs(hf, "transformers", ids)
                _, b = logprobs(mine, "builtin", ids)
            diff = (a - b).abs().max().item()
            RESULTS[f"fixture-{variant}-fp32-max-logit-diff"] = diff
            self.assertLessEqual(diff, 1e-4)

    def test_random_init_keeps_rope_as_from_pretrained_does(self):
        loaded, cfg, _ = models.build(os.path.join(FIXTURE, "untied"), None, "transformers", torch.bfloat16, 0)
        fresh, _, _ = models.build(None, cfg, "transformers", torch.bfloat16, 0)
        a = {n: b for n, b in loaded.named_buffers() if n.endswith("inv_freq")}
        b = {n: b for n, b in fresh.named_buffers() if n.endswith("inv_freq")}
        self.assertTrue(a)
        self.assertEqual(sorted(a), sorted(b))
        for n in a:
            self.assertEqual(a[n].dtype, b[n].dtype, n)
            self.assertTrue(torch.equal(a[n], b[n]), n)

    @unittest.skipIf(not torch.cuda.is_available(), "needs a GPU for a 4B model")
    def test_random_qwen3_4b_bf16(self):
        dev = torch.device("cuda")
        hf, cfg, _ = models.build(None, QWEN3_4B, "transformers", torch.bfloat16, 0, device=dev)
        mine, _, _ = models.build(None, QWEN3_4B, "builtin", torch.bfloat16, 1, device=dev)
        models.load_state(mine, models.full_state(hf, False), "hf")
        ids = torch.randint(0, QWEN3_4B["vocab_size"], (2, 512), device=dev, generator=torch.Generator(device=dev).manual_seed(0))
        with torch.no_grad():
            la, a = logprobs(hf, "transformers", ids)
            lb, b = logprobs(mine, "builtin", ids)
            hf32 = hf.float()
            lc, c = logprobs(hf32, "transformers", ids)
        r = {
            "max_logit_diff_bf16": (a - b).abs().max().item(),
            "max_logprob_diff_bf16": (la - lb).abs().max().item(),
            "mean_logprob_diff_bf16": (la - lb).abs().mean().item(),
            # the yardstick: how far bf16 itself moves transformers from its own fp32 result
            "max_logprob_diff_hf_bf16_vs_fp32": (la - lc).abs().max().item(),
            "mean_logprob_diff_hf_bf16_vs_fp32": (la - lc).abs().mean().item(),
        }
        RESULTS["random-qwen3-4b"] = r
        # two bf16 implementations may round differently; they must agree far better than bf16 agrees with fp32
        self.assertLessEqual(r["mean_logprob_diff_bf16"], max(0.25 * r["mean_logprob_diff_hf_bf16_vs_fp32"], 1e-3))
        self.assertLessEqual(r["max_logprob_diff_bf16"], max(r["max_logprob_diff_hf_bf16_vs_fp32"], 0.05))

    @classmethod
    def tearDownClass(cls):
        out = os.environ.get("AGENT0_PARITY_JSON")
        if out:
            with open(out, "w") as f:
                json.dump(RESULTS, f, indent=2)


if __name__ == "__main__":
    unittest.main()
