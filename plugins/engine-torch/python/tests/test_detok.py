"""Token ids → text for stop strings: the fixture's byte-level BPE against the Rust tokenizers'
decodes in reference.json, agent0's tiny tokenizer, incremental UTF-8 and stop matching."""
import json
import os
import tempfile
import unittest

from agent0_trainer.detok import Detok, TextStream, find_stop

from .common import FIXTURE, REFERENCE


class ByteLevelBpe(unittest.TestCase):
    def test_reference_ids_decode_to_the_reference_texts(self):
        d = Detok.from_folder(os.path.join(FIXTURE, "tokenizer"))
        self.assertEqual(len(d.token_bytes), REFERENCE["tokenizer_vocab_size"])
        for entry in REFERENCE["tokens"]:
            with self.subTest(text=entry["text"]):
                text = b"".join(d.piece(i) for i in entry["ids"]).decode("utf-8")
                # `decoded` is what tokenizers gives back (the text after NFC, special tokens kept)
                self.assertEqual(text, entry["decoded"])

    def test_specials_and_out_of_range_ids(self):
        d = Detok.from_folder(os.path.join(FIXTURE, "tokenizer"))
        for name, i in REFERENCE["special_ids"].items():
            self.assertEqual(d.piece(i), name.encode())
        # the model's vocabulary (384) is larger than the tokenizer's (367): such ids decode to nothing
        self.assertEqual(d.piece(383), b"")
        self.assertEqual(d.piece(-1), b"")

    def test_folder_without_a_tokenizer(self):
        with tempfile.TemporaryDirectory() as tmp:
            self.assertIsNone(Detok.from_folder(tmp))
        self.assertIsNone(Detok.from_folder(None))


class TinyTokenizer(unittest.TestCase):
    def test_pieces_concatenate(self):
        vocab = ["<pad>", "<eos>", "<unk>", "\n", "a", "b", " ", "é", "\\boxed{"]
        with tempfile.TemporaryDirectory() as tmp:
            with open(os.path.join(tmp, "tiny_tokenizer.json"), "w", encoding="utf-8") as f:
                json.dump({"format": "agent0-tiny-char", "version": 1, "vocab": vocab}, f)
            d = Detok.from_folder(tmp)
        ids = [4, 6, 8, 5, 7, 3, 1]
        self.assertEqual(b"".join(d.piece(i) for i in ids).decode("utf-8"), "a \\boxed{bé\n<eos>")


class Streaming(unittest.TestCase):
    def test_partial_utf8_waits_for_its_last_byte(self):
        d = Detok([b"a", b"\xe4\xb8", b"\xad", b"\xf0\x9f", b"\x98", b"\x80", b"!"])
        s = TextStream(d)
        seen = [s.push(i) for i in range(7)]
        self.assertEqual(seen, ["a", "a", "a中", "a中", "a中", "a中😀", "a中😀!"])

    def test_fixture_characters_split_over_tokens(self):
        d = Detok.from_folder(os.path.join(FIXTURE, "tokenizer"))
        entry = next(e for e in REFERENCE["tokens"] if "😀" in e["text"])
        s = TextStream(d)
        texts = [s.push(i) for i in entry["ids"]]
        self.assertEqual(texts[-1], entry["decoded"])
        self.assertTrue(all("\ufffd" not in t and entry["decoded"].startswith(t) for t in texts))
        self.assertGreater(len(texts) - len(set(texts)), 0, "some token ends inside a character")


class Stops(unittest.TestCase):
    def test_earliest_ending_stop_wins(self):
        self.assertEqual(find_stop("hello world", ["world", "lo w"], 0), ("lo w", 7))
        self.assertEqual(find_stop("hello world", ["o", "hello"], 0), ("o", 5))
        self.assertIsNone(find_stop("hello world", ["xyz", ""], 0))

    def test_only_stops_reaching_into_new_text(self):
        # text before `start` was checked already: a stop must end after it
        self.assertIsNone(find_stop("abcxyz", ["abc"], 5))
        self.assertEqual(find_stop("abcab", ["ab"], 4), ("ab", 5))
        # a stop spanning the old and the new text
        self.assertEqual(find_stop("xxab", ["ab"], 3), ("ab", 4))


if __name__ == "__main__":
    unittest.main()
