"""Token id → bytes, for stop strings while decoding. Decoding needs no merges: byte-level BPE
vocabularies (Qwen, GPT-2) map each token's characters back to bytes; SentencePiece-style ones use
'▁' for spaces and <0xNN> byte tokens; agent0's tiny tokenizer lists its token strings."""
import codecs
import json
import os


def _byte_unicode():
    """GPT-2's reversible bytes → printable characters table, inverted (character → byte)."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return {chr(c): b for b, c in zip(bs, cs)}


def _decoder_kinds(dec):
    if not dec:
        return set()
    kinds = {dec.get("type")}
    for d in dec.get("decoders", []) or []:
        kinds |= _decoder_kinds(d)
    return kinds


class Detok:
    def __init__(self, token_bytes):
        self.token_bytes = token_bytes

    def piece(self, tok):
        return self.token_bytes[tok] if 0 <= tok < len(self.token_bytes) else b""

    @staticmethod
    def from_folder(folder):
        """The folder's tokenizer (tiny_tokenizer.json or tokenizer.json), or None when it has neither."""
        if not folder:
            return None
        tiny = os.path.join(folder, "tiny_tokenizer.json")
        if os.path.exists(tiny):
            with open(tiny) as f:
                return Detok([s.encode("utf-8") for s in json.load(f)["vocab"]])
        path = os.path.join(folder, "tokenizer.json")
        if not os.path.exists(path):
            return None
        with open(path, encoding="utf-8") as f:
            tj = json.load(f)
        vocab = tj["model"]["vocab"]
        pieces = {}
        if isinstance(vocab, dict):
            pieces.update({i: s for s, i in vocab.items()})
        else:
            pieces.update({i: entry[0] for i, entry in enumerate(vocab)})
        special = {t["id"]: t["content"] for t in tj.get("added_tokens", [])}
        kinds = _decoder_kinds(tj.get("decoder"))
        table = _byte_unicode() if "ByteLevel" in kinds else None
        size = max(list(pieces) + list(special) + [-1]) + 1
        out = [b""] * size
        for i, s in pieces.items():
            if table is not None:
                out[i] = bytes(table.get(ch, 0x3F) for ch in s)
            elif len(s) == 6 and s.startswith("<0x") and s.endswith(">"):
                out[i] = bytes([int(s[3:5], 16)])
            else:
                out[i] = s.replace("\u2581", " ").encode("utf-8")
        for i, s in special.items():
            out[i] = s.encode("utf-8")
        return Detok(out)


class TextStream:
    """Incremental UTF-8 text of one row's tokens (partial characters wait for their last byte)."""

    def __init__(self, detok):
        self.detok = detok
        self.dec = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self.text = ""

    def push(self, tok):
        self.text += self.dec.decode(self.detok.piece(tok))
        return self.text


def find_stop(text, stops, start):
    """(stop, end) of the stop string that ends first in text[start - len + 1:], or None."""
    best = None
    for s in stops:
        if not s:
            continue
        at = text.find(s, max(0, start - len(s) + 1))
        if at >= 0 and (best is None or at + len(s) < best[1]):
            best = (s, at + len(s))
    return best
