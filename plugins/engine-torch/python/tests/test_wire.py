"""Request/response bodies: the binary tensor frame, Tinker's JSON TensorData, and Datum checks."""
import json
import struct
import unittest

import torch

from agent0_trainer import wire


def frame(head, blob):
    """A binary body built here by the format's definition."""
    h = json.dumps(head).encode()
    return b"A0T1" + struct.pack("<I", len(h)) + h + bytes(-(8 + len(h)) % 8) + blob


def datum(tokens, targets=None, **inputs):
    lfi = {} if targets is None else {"target_tokens": {"data": targets}}
    lfi.update({k: {"data": v} for k, v in inputs.items()})
    return {"model_input": {"chunks": [{"type": "encoded_text", "tokens": tokens}]}, "loss_fn_inputs": lfi}


class BinaryFrame(unittest.TestCase):
    def test_round_trip_of_nested_tensors(self):
        obj = {
            "a": torch.tensor([1.5, -2.25, 3.0], dtype=torch.float32),
            "nested": {"b": torch.arange(6, dtype=torch.float64).reshape(2, 3) / 7, "list": [torch.tensor([7], dtype=torch.int32), "text", 3]},
            "c": torch.tensor([[2**40, -5]], dtype=torch.int64),
            "empty": torch.zeros(0, dtype=torch.float32),
            "plain": {"x": [1, 2], "y": None},
        }
        body, ctype = wire.encode(obj, True)
        self.assertEqual(ctype, wire.BINARY)
        # the frame as documented: magic, u32 LE header length, header, zero pad to 8, blob
        self.assertEqual(body[:4], b"A0T1")
        (n,) = struct.unpack("<I", body[4:8])
        head = json.loads(body[8:8 + n])
        self.assertEqual(head["a"]["dtype"], "float32")
        self.assertEqual(head["nested"]["b"]["shape"], [2, 3])
        base = 8 + n + (-(8 + n)) % 8
        self.assertEqual(base % 8, 0)
        off, nbytes = head["c"]["$blob"]
        self.assertEqual(body[base + off:base + off + nbytes], struct.pack("<2q", 2**40, -5))
        back = wire.decode(body, wire.BINARY + "; charset=binary")
        for path in (("a",), ("nested", "b"), ("c",), ("empty",)):
            want, got = obj, back
            for k in path:
                want, got = want[k], got[k]
            self.assertEqual(got.dtype, want.dtype, path)
            self.assertTrue(torch.equal(got, want), path)
        self.assertEqual(back["nested"]["list"][0].dtype, torch.int32)
        self.assertEqual(back["nested"]["list"][1:], ["text", 3])
        self.assertEqual(back["plain"], {"x": [1, 2], "y": None})

    def test_broken_frames_are_refused(self):
        body, _ = wire.encode({"a": torch.ones(4)}, True)
        with self.assertRaisesRegex(wire.WireError, "A0T1"):
            wire.decode(b"XXXX" + body[4:], wire.BINARY)
        with self.assertRaisesRegex(wire.WireError, "past the blob"):
            wire.decode(body[:-8], wire.BINARY)
        with self.assertRaisesRegex(wire.WireError, "past the body"):
            wire.decode(body[:8] + b"{}", wire.BINARY)

    def test_tensors_that_do_not_fit_their_bytes_are_client_errors(self):
        # a WireError is a 400; anything else would be reported as the server's fault (500)
        heads = [
            ({"$blob": [0, 6], "dtype": "float32", "shape": [2]}, "multiple of element size"),
            ({"$blob": [0, 8], "dtype": "float32", "shape": [3]}, "invalid for input of size 2"),
            ({"$blob": [0], "dtype": "float32"}, r"\[offset, nbytes\]"),
            ({"$blob": [8, -4], "dtype": "float32"}, "past the blob"),
            ({"$blob": [0, 8], "dtype": "bfloat16"}, "not supported"),
        ]
        for head, msg in heads:
            with self.subTest(head=head):
                with self.assertRaisesRegex(wire.WireError, msg):
                    wire.decode(frame({"a": head}, bytes(16)), wire.BINARY)
        with self.assertRaisesRegex(wire.WireError, "not UTF-8"):
            wire.decode(b'{"a": "\xff"}', "application/json")


class JsonBodies(unittest.TestCase):
    def test_tensors_become_tensor_data(self):
        body, ctype = wire.encode({"lp": torch.tensor([[0.5, -1.0]], dtype=torch.float64), "n": 2}, False)
        self.assertEqual(ctype, "application/json")
        self.assertEqual(json.loads(body), {"lp": {"data": [0.5, -1.0], "dtype": "float64", "shape": [1, 2]}, "n": 2})
        self.assertEqual(wire.decode(body, "application/json; charset=utf-8")["n"], 2)
        t = wire.tensor(json.loads(body)["lp"], torch.float64, "lp")
        self.assertTrue(torch.equal(t, torch.tensor([0.5, -1.0], dtype=torch.float64)))

    def test_other_content_types_are_refused(self):
        for ctype in ("text/plain", "application/x-www-form-urlencoded", None):
            with self.assertRaisesRegex(wire.WireError, "not accepted"):
                wire.decode(b"{}", ctype)


class Datums(unittest.TestCase):
    def test_datum_from_tensor_data(self):
        d = wire.datum(datum([5, 6, 7], [6, 7, 8], weights=[0.5, 0.0, 1.0], empty=[]), 0)
        self.assertEqual(d["tokens"].tolist(), [5, 6, 7])
        self.assertEqual(d["tokens"].dtype, torch.long)
        self.assertEqual(d["targets"].tolist(), [6, 7, 8])
        self.assertEqual(set(d["inputs"]), {"weights"})  # empty inputs are dropped
        self.assertEqual(d["inputs"]["weights"].dtype, torch.float64)

    def test_chunks_concatenate(self):
        raw = datum([1, 2], [2, 3, 4])
        raw["model_input"]["chunks"].append({"tokens": [3]})
        self.assertEqual(wire.datum(raw, 0)["tokens"].tolist(), [1, 2, 3])

    def test_errors_name_the_datum(self):
        cases = [
            (datum([1, 2, 3], [2, 3]), r"data\[4\]: 2 target_tokens for 3 input tokens"),
            (datum([1, 2, 3]), r"data\[4\]\.loss_fn_inputs: target_tokens is required"),
            (datum([1, 2], [2, 3], weights=[1.0]), r"data\[4\]\.loss_fn_inputs\.weights: 1 values for 2 tokens"),
            ({"loss_fn_inputs": {}}, r"data\[4\]: a Datum needs model_input"),
            (datum("abc", [1]), r"data\[4\]\.model_input\.chunks\[0\]\.tokens"),
            ({"model_input": {"chunks": [{"type": "image"}]}, "loss_fn_inputs": {}}, r"data\[4\]\.model_input\.chunks\[0\]: only encoded_text"),
        ]
        for raw, msg in cases:
            with self.subTest(msg=msg):
                with self.assertRaisesRegex(wire.WireError, msg):
                    wire.datum(raw, 4)


if __name__ == "__main__":
    unittest.main()
