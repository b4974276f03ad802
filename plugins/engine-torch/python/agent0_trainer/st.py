"""safetensors reading and writing on torch alone (CI's Debian torch has no safetensors package).

Format: 8-byte little-endian header length, a JSON header {name: {dtype, shape, data_offsets}},
then the raw little-endian tensor bytes. Sharded folders carry model.safetensors.index.json.
"""
import json
import os
import struct

import torch

DTYPES = {
    "F64": torch.float64,
    "F32": torch.float32,
    "F16": torch.float16,
    "BF16": torch.bfloat16,
    "I64": torch.int64,
    "I32": torch.int32,
    "I16": torch.int16,
    "I8": torch.int8,
    "U8": torch.uint8,
    "BOOL": torch.bool,
}
NAMES = {v: k for k, v in DTYPES.items()}


def read_header(path):
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        if n > 100_000_000:
            raise ValueError(f"{path}: safetensors header of {n} bytes is not plausible")
        header = json.loads(f.read(n))
    return header, 8 + n


def read_file(path, names=None):
    """{name: tensor} of one .safetensors file (CPU tensors that own their memory)."""
    header, base = read_header(path)
    out = {}
    with open(path, "rb") as f:
        for name, info in header.items():
            if name == "__metadata__" or (names is not None and name not in names):
                continue
            dtype = DTYPES.get(info["dtype"])
            if dtype is None:
                raise ValueError(f"{path}: tensor {name} has unsupported dtype {info['dtype']}")
            start, end = info["data_offsets"]
            f.seek(base + start)
            buf = bytearray(f.read(end - start))
            if len(buf) != end - start:
                raise ValueError(f"{path}: tensor {name} is truncated")
            t = torch.frombuffer(buf, dtype=dtype) if buf else torch.empty(0, dtype=dtype)
            out[name] = t.reshape(info["shape"]).clone()
    return out


def metadata(path):
    header, _ = read_header(path)
    return header.get("__metadata__", {}) or {}


def read_folder(folder):
    """Every tensor of an HF folder: model.safetensors, or the shards its index names."""
    index = os.path.join(folder, "model.safetensors.index.json")
    if os.path.exists(index):
        with open(index) as f:
            weight_map = json.load(f)["weight_map"]
        out = {}
        for shard in sorted(set(weight_map.values())):
            out.update(read_file(os.path.join(folder, shard)))
        return out
    single = os.path.join(folder, "model.safetensors")
    if not os.path.exists(single):
        raise FileNotFoundError(f"{folder} has neither model.safetensors nor model.safetensors.index.json")
    return read_file(single)


def write_file(path, tensors, meta=None):
    """Writes atomically (temp file + rename): a crash leaves the previous file or none."""
    header = {}
    offset = 0
    blobs = []
    for name in sorted(tensors):
        t = tensors[name].detach().to("cpu").contiguous()
        if t.dtype not in NAMES:
            raise ValueError(f"cannot write {name}: dtype {t.dtype}")
        raw = _bytes(t)
        header[name] = {"dtype": NAMES[t.dtype], "shape": list(t.shape), "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    if meta:
        header["__metadata__"] = {str(k): str(v) for k, v in meta.items()}
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for b in blobs:
            f.write(b)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def _bytes(t):
    if t.numel() == 0:
        return b""
    if t.dtype == torch.bfloat16:
        return t.view(torch.int16).numpy().tobytes()
    if t.dtype == torch.bool:
        return t.to(torch.uint8).numpy().tobytes()
    return t.numpy().tobytes()


def write_folder(folder, tensors, max_shard_bytes=5 * 2**30, meta=None):
    """HF layout: one model.safetensors, or shards plus model.safetensors.index.json above the limit."""
    os.makedirs(folder, exist_ok=True)
    sizes = {k: v.numel() * v.element_size() for k, v in tensors.items()}
    total = sum(sizes.values())
    for stale in os.listdir(folder):
        if stale.startswith("model-") and stale.endswith(".safetensors") or stale == "model.safetensors.index.json":
            os.remove(os.path.join(folder, stale))
    if total <= max_shard_bytes:
        write_file(os.path.join(folder, "model.safetensors"), tensors, {"format": "pt", **(meta or {})})
        return
    shards, cur, cur_bytes = [], {}, 0
    for name in sorted(tensors):
        if cur and cur_bytes + sizes[name] > max_shard_bytes:
            shards.append(cur)
            cur, cur_bytes = {}, 0
        cur[name] = tensors[name]
        cur_bytes += sizes[name]
    if cur:
        shards.append(cur)
    weight_map = {}
    for i, shard in enumerate(shards):
        fname = f"model-{i + 1:05d}-of-{len(shards):05d}.safetensors"
        write_file(os.path.join(folder, fname), shard, {"format": "pt", **(meta or {})})
        for name in shard:
            weight_map[name] = fname
    single = os.path.join(folder, "model.safetensors")
    if os.path.exists(single):
        os.remove(single)
    tmp = os.path.join(folder, "model.safetensors.index.json.tmp")
    with open(tmp, "w") as f:
        json.dump({"metadata": {"total_size": total}, "weight_map": weight_map}, f, indent=2)
    os.replace(tmp, os.path.join(folder, "model.safetensors.index.json"))
