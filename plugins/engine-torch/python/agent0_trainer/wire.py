"""Request and response bodies: JSON, or JSON with binary tensors (docs/trainer-protocol.md).

Binary frame (content type application/x-agent0-tensors): b"A0T1", u32 LE header length, the JSON
header, zero padding to a multiple of 8, then the blob. A tensor anywhere in the JSON is
{"$blob": [offset, nbytes], "dtype": ..., "shape": [...]}, offset counted from the blob's start.
Plain JSON clients send Tinker's TensorData {"data": [...]} instead; both decode to torch tensors.
"""
import json
import struct

import torch

BINARY = "application/x-agent0-tensors"
MAGIC = b"A0T1"
DTYPES = {"float32": torch.float32, "float64": torch.float64, "int32": torch.int32, "int64": torch.int64}
NAMES = {v: k for k, v in DTYPES.items()}


class WireError(ValueError):
    pass


def decode(body, content_type):
    ctype = (content_type or "").split(";")[0].strip().lower()
    if ctype == BINARY:
        if len(body) < 8 or body[:4] != MAGIC:
            raise WireError("binary body does not start with A0T1")
        (n,) = struct.unpack("<I", body[4:8])
        if 8 + n > len(body):
            raise WireError("binary header runs past the body")
        head = _json(body[8:8 + n])
        base = 8 + n + ((8 - (8 + n) % 8) % 8)
        return _resolve(head, memoryview(body)[base:])
    if ctype != "application/json":
        raise WireError(f"content type '{content_type}' is not accepted (application/json or {BINARY})")
    return _json(body)


def _json(raw):
    try:
        return json.loads(raw)
    except UnicodeDecodeError as e:  # a client's bytes, not a server fault (json.JSONDecodeError is one already)
        raise WireError(f"the body is not UTF-8 JSON: {e}") from None


def _resolve(x, blob):
    if isinstance(x, dict):
        if "$blob" in x:
            try:
                off, nbytes = x["$blob"]
            except (TypeError, ValueError):
                raise WireError(f"$blob must be [offset, nbytes], got {x['$blob']!r}") from None
            dtype = DTYPES.get(x.get("dtype"))
            if dtype is None:
                raise WireError(f"tensor dtype {x.get('dtype')!r} not supported ({', '.join(DTYPES)})")
            if off < 0 or nbytes < 0 or off + nbytes > len(blob):
                raise WireError("a tensor points past the blob")
            try:
                t = torch.frombuffer(bytearray(blob[off:off + nbytes]), dtype=dtype) if nbytes else torch.empty(0, dtype=dtype)
                return t.reshape(x.get("shape", [t.numel()]))
            except (ValueError, RuntimeError) as e:  # size not a multiple of the dtype's, or not the shape's
                raise WireError(f"tensor of {nbytes} bytes as {x.get('dtype')} {x.get('shape')}: {e}") from None
        return {k: _resolve(v, blob) for k, v in x.items()}
    if isinstance(x, list):
        return [_resolve(v, blob) for v in x]
    return x


def encode(obj, binary):
    """(bytes, content type). Tensors become blobs, or Tinker TensorData lists for JSON clients."""
    if not binary:
        return json.dumps(_lists(obj), separators=(",", ":")).encode(), "application/json"
    parts = []
    size = [0]

    def walk(x):
        if isinstance(x, torch.Tensor):
            t = x.detach().cpu().contiguous()
            if t.dtype not in NAMES:
                t = t.to(torch.float32)
            raw = t.numpy().tobytes()
            ref = {"$blob": [size[0], len(raw)], "dtype": NAMES[t.dtype], "shape": list(t.shape)}
            pad = (8 - len(raw) % 8) % 8
            parts.append(raw + b"\0" * pad)
            size[0] += len(raw) + pad
            return ref
        if isinstance(x, dict):
            return {k: walk(v) for k, v in x.items()}
        if isinstance(x, (list, tuple)):
            return [walk(v) for v in x]
        return x

    head = json.dumps(walk(obj), separators=(",", ":")).encode()
    pad = (8 - (8 + len(head)) % 8) % 8
    return MAGIC + struct.pack("<I", len(head)) + head + b"\0" * pad + b"".join(parts), BINARY


def _lists(x):
    if isinstance(x, torch.Tensor):
        t = x.detach().cpu()
        return {"data": t.reshape(-1).tolist(), "dtype": NAMES.get(t.dtype, "float32"), "shape": list(t.shape)}
    if isinstance(x, dict):
        return {k: _lists(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_lists(v) for v in x]
    return x


def tensor(x, dtype, where):
    """A TensorData (dict with data), blob tensor or plain list → 1-D torch tensor of dtype."""
    if isinstance(x, torch.Tensor):
        return x.reshape(-1).to(dtype)
    if isinstance(x, dict) and "data" in x:
        x = x["data"]
    if not isinstance(x, list):
        raise WireError(f"{where}: expected a tensor (TensorData {{data: [...]}} or a binary tensor)")
    try:
        return torch.tensor(x, dtype=dtype).reshape(-1)
    except (TypeError, ValueError) as e:
        raise WireError(f"{where}: {e}") from None


def datum(d, i):
    """Tinker Datum → {tokens, targets, inputs}: position t of tokens predicts targets[t]."""
    where = f"data[{i}]"
    if not isinstance(d, dict) or "model_input" not in d:
        raise WireError(f"{where}: a Datum needs model_input and loss_fn_inputs")
    chunks = (d["model_input"] or {}).get("chunks")
    if not isinstance(chunks, list):
        raise WireError(f"{where}.model_input: expected chunks")
    toks = []
    for j, c in enumerate(chunks):
        if not isinstance(c, dict) or c.get("type", "encoded_text") != "encoded_text":
            raise WireError(f"{where}.model_input.chunks[{j}]: only encoded_text chunks are supported")
        toks.append(tensor(c.get("tokens"), torch.long, f"{where}.model_input.chunks[{j}].tokens"))
    tokens = torch.cat(toks) if toks else torch.empty(0, dtype=torch.long)
    lfi = d.get("loss_fn_inputs") or {}
    if "target_tokens" not in lfi:
        raise WireError(f"{where}.loss_fn_inputs: target_tokens is required")
    targets = tensor(lfi["target_tokens"], torch.long, f"{where}.loss_fn_inputs.target_tokens")
    if targets.numel() != tokens.numel():
        raise WireError(f"{where}: {targets.numel()} target_tokens for {tokens.numel()} input tokens (position t predicts target t)")
    inputs = {}
    for k, v in lfi.items():
        if k == "target_tokens":
            continue
        t = tensor(v, torch.float64, f"{where}.loss_fn_inputs.{k}")
        if t.numel() == 0:
            continue
        if t.numel() != tokens.numel():
            raise WireError(f"{where}.loss_fn_inputs.{k}: {t.numel()} values for {tokens.numel()} tokens")
        inputs[k] = t
    return {"tokens": tokens, "targets": targets, "inputs": inputs}
