"""safetensors on torch alone: round trips, sharded folders, and reading the fixture's dtype probe."""
import json
import os
import struct
import tempfile
import unittest

import torch

from agent0_trainer import st

from .common import FIXTURE


def raw_entries(path):
    """{name: (dtype, shape, bytes)} parsed here from the format's definition, not by st."""
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    out = {}
    for name, info in header.items():
        if name != "__metadata__":
            a, b = info["data_offsets"]
            out[name] = (info["dtype"], info["shape"], data[8 + n + a:8 + n + b])
    return out, header.get("__metadata__")


class RoundTrip(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.TemporaryDirectory()
        self.addCleanup(self.dir.cleanup)

    def test_file_keeps_dtypes_values_shapes_and_metadata(self):
        g = torch.Generator().manual_seed(0)
        tensors = {
            "a.f32": torch.randn(3, 4, generator=g),
            "b.f64": torch.randn(5, generator=g, dtype=torch.float64),
            "c.bf16": torch.tensor([1.0, -2.5, 3.140625, 1e-3], dtype=torch.bfloat16),
            "d.i64": torch.tensor([[0, -1], [2**40, 7]], dtype=torch.int64),
            "e.scalar": torch.tensor(2.5),
            "f.empty": torch.zeros(0, 3),
        }
        path = os.path.join(self.dir.name, "x.safetensors")
        st.write_file(path, tensors, {"step": 7, "note": "hi"})
        back = st.read_file(path)
        self.assertEqual(set(back), set(tensors))
        for k, t in tensors.items():
            self.assertEqual(back[k].dtype, t.dtype, k)
            self.assertEqual(tuple(back[k].shape), tuple(t.shape), k)
            self.assertTrue(torch.equal(back[k], t), k)
        self.assertEqual(st.metadata(path), {"step": "7", "note": "hi"})
        raw, meta = raw_entries(path)
        self.assertEqual(meta, {"step": "7", "note": "hi"})
        self.assertEqual(raw["d.i64"][0], "I64")
        self.assertEqual(raw["d.i64"][2], struct.pack("<4q", 0, -1, 2**40, 7))
        # bf16 1.0 is 0x3F80, -2.5 is 0xC020 (little-endian on disk)
        self.assertEqual(raw["c.bf16"][2][:4], bytes([0x80, 0x3F, 0x20, 0xC0]))
        self.assertEqual(raw["b.f64"][2], struct.pack("<5d", *tensors["b.f64"].tolist()))

    def test_folder_shards_above_the_limit_with_an_index(self):
        tensors = {f"layer.{i}.weight": torch.full((64,), float(i)) for i in range(5)}  # 256 bytes each
        folder = os.path.join(self.dir.name, "m")
        st.write_folder(folder, tensors, max_shard_bytes=600)
        with open(os.path.join(folder, "model.safetensors.index.json")) as f:
            index = json.load(f)
        self.assertEqual(index["metadata"]["total_size"], 5 * 256)
        shards = sorted(set(index["weight_map"].values()))
        self.assertEqual(shards, [f"model-0000{i}-of-00003.safetensors" for i in (1, 2, 3)])
        self.assertEqual(set(index["weight_map"]), set(tensors))
        self.assertFalse(os.path.exists(os.path.join(folder, "model.safetensors")))
        for shard in shards:
            names, _ = raw_entries(os.path.join(folder, shard))
            self.assertLessEqual(sum(len(v[2]) for v in names.values()), 600)
            self.assertEqual({k for k, v in index["weight_map"].items() if v == shard}, set(names))
        back = st.read_folder(folder)
        self.assertEqual(set(back), set(tensors))
        for k, t in tensors.items():
            self.assertTrue(torch.equal(back[k], t), k)
        # below the limit again: one file, and the shards and index are gone
        st.write_folder(folder, {"w": torch.ones(2)})
        self.assertEqual(sorted(os.listdir(folder)), ["model.safetensors"])
        self.assertEqual(set(st.read_folder(folder)), {"w"})


class FixtureDtypes(unittest.TestCase):
    def test_half_types_widen_as_torch_does(self):
        path = os.path.join(FIXTURE, "dtypes.safetensors")
        got = st.read_file(path)
        self.assertEqual(got["x.bf16"].dtype, torch.bfloat16)
        self.assertEqual(got["x.f16"].dtype, torch.float16)
        self.assertEqual(got["empty.f32"].shape, (0, 4))
        self.assertEqual(got["scalar.f32"].shape, ())
        self.assertEqual(got["scalar.f32"].item(), 2.5)
        for name in ("x", "r"):
            for kind in ("bf16", "f16"):
                w = got[f"{name}.{kind}"].float()
                ref = got[f"{name}.{kind}.as_f32"]
                same = (w == ref) | (torch.isnan(w) & torch.isnan(ref))
                self.assertTrue(bool(same.all()), f"{name}.{kind}")
        # by hand: bf16 keeps the f32's top 16 bits (after rounding), f16 is IEEE binary16
        x = got["x.bf16"].float().tolist()
        self.assertEqual(x[:4], [0.0, 0.0, 1.0, -1.0])
        self.assertEqual(x[4], 0.10009765625)  # 0x3DCD
        self.assertEqual(x[6], 65536.0)  # 65504 rounds up to 2^16 in bf16
        h = got["x.f16"].float().tolist()
        self.assertEqual(h[4], 0.0999755859375)  # 0x2E66
        self.assertEqual(h[6], 65504.0)  # the largest f16
        self.assertEqual(h[7], float("inf"))  # 70000 overflows f16
        raw, _ = raw_entries(path)
        dtype, shape, blob = raw["x.bf16"]
        self.assertEqual((dtype, shape), ("BF16", [19]))
        by_hand = [struct.unpack("<f", b"\0\0" + blob[2 * i:2 * i + 2])[0] for i in range(19)]
        self.assertEqual(by_hand[:7], x[:7])
        dtype, _, blob = raw["x.f16"]
        self.assertEqual(dtype, "F16")
        self.assertEqual([struct.unpack("<e", blob[2 * i:2 * i + 2])[0] for i in range(7)], h[:7])


if __name__ == "__main__":
    unittest.main()
