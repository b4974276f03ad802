"""/v1/completions on the service: OpenAI's completions body (vLLM's token-id prompts and extensions)
→ rows → one decoding batch per rank → OpenAI choices. Prompts must be token ids: the service
decodes (for stop strings) but never encodes text."""
import json
import os
import time
import uuid

from .detok import Detok
from .engine import RequestError
from .rows import split_even
from .sampler import Row, decode

# OpenAI/vLLM fields the service does not implement, with the values that mean "not used"
# (compared by type too: in Python True == 1)
UNSUPPORTED = {"echo": (None, False), "suffix": (None, ""), "best_of": (None, 1), "logit_bias": (None, {}), "use_beam_search": (None, False)}


def _prompts(p):
    if isinstance(p, list) and p and all(isinstance(x, int) for x in p):
        return [p]
    if isinstance(p, list) and p and all(isinstance(x, list) and x and all(isinstance(t, int) for t in x) for x in p):
        return p
    raise RequestError("prompt must be token ids (a list of ints, or a list of such lists): the service does not encode text")


def parse(svc, body):
    """Validates a completions body on rank 0 → {model_id, rows: [(prompt, params, seed)], ...}."""
    slots = svc.engine.slots
    model = body.get("model") or next((k for k, s in slots.items() if not s.frozen), None)
    if model not in slots:
        raise RequestError(f"model '{model}' is not loaded (loaded: {', '.join(slots) or 'none'})")
    for k, unused in UNSUPPORTED.items():
        v = body.get(k)
        if not any(v == u and type(v) is type(u) for u in unused):
            raise RequestError(f"'{k}' is not supported by the agent0 trainer service (got {v!r})")
    prompts = _prompts(body.get("prompt"))
    n = int(body.get("n", 1))
    if not 1 <= n <= 1024:
        raise RequestError("n must be between 1 and 1024")
    max_tokens = int(body.get("max_tokens") if body.get("max_tokens") is not None else 16)
    if max_tokens < 0:
        raise RequestError("max_tokens must be >= 0")
    stop = body.get("stop") or []
    stop = [stop] if isinstance(stop, str) else list(stop)
    if not all(isinstance(s, str) for s in stop):
        raise RequestError("stop must be a string or a list of strings")
    params = {
        "max_tokens": max_tokens,
        "temperature": float(body.get("temperature", 1.0)),
        "top_p": float(body.get("top_p", 1.0)),
        "top_k": int(body.get("top_k", -1) or -1),
        "stop": stop,
        "stop_token_ids": [int(x) for x in body.get("stop_token_ids") or []],
        "ignore_eos": bool(body.get("ignore_eos", False)),
    }
    # OpenAI's completions `logprobs: k`: the sampled token's log-prob and the k most likely tokens'
    lp = body.get("logprobs")
    params["top_logprobs"] = lp if isinstance(lp, int) and not isinstance(lp, bool) else 0
    if not 0 <= params["top_logprobs"] <= 20:
        raise RequestError("logprobs must be between 0 and 20")
    if not 0 < params["top_p"] <= 1:
        raise RequestError("top_p must be in (0, 1]")
    if params["temperature"] < 0:
        raise RequestError("temperature must be >= 0")
    seed = body.get("seed")
    vocab = svc.engine.slots[model].config.get("vocab_size")
    rows = []
    for i, p in enumerate(prompts):
        if vocab and any(t < 0 or t >= vocab for t in p):
            raise RequestError(f"prompt {i} has token ids outside [0, {vocab})")
        for j in range(n):
            rows.append({"prompt": p, "seed": None if seed is None else int(seed)})
    return {"model_id": model, "rows": rows, "params": params, "n": n, "prompts": len(prompts)}


def eos_ids(slot):
    if getattr(slot, "eos_ids", None) is None:
        ids = set()
        for src in (slot.config, _json(slot.tokenizer_dir, "generation_config.json")):
            e = (src or {}).get("eos_token_id")
            for x in e if isinstance(e, list) else [e]:
                if isinstance(x, int):
                    ids.add(x)
        slot.eos_ids = sorted(ids)
    return slot.eos_ids


def _json(folder, name):
    if not folder:
        return None
    path = os.path.join(folder, name)
    if not os.path.exists(path):
        return None
    with open(path) as f:
        return json.load(f)


def detok_of(slot):
    if not hasattr(slot, "detok"):
        slot.detok = Detok.from_folder(slot.tokenizer_dir)
    return slot.detok


def run(engine, args):
    """This rank's share of every row of the merged requests, decoded as one batch (in chunks)."""
    slot = engine.slot(args["model_id"])
    model, impl = engine.sampling_model(slot)
    detok = detok_of(slot)
    flat = []
    for r_i, req in enumerate(args["requests"]):
        p = dict(req["params"])
        if p["stop"] and detok is None:
            raise RequestError("stop strings need the model's tokenizer files (tokenizer.json or tiny_tokenizer.json) beside it")
        if not p["ignore_eos"]:
            p["eos_ids"] = eos_ids(slot)
        for row_i, row in enumerate(req["rows"]):
            # a seeded request draws from its own generator: its samples do not depend on the batch around it
            group = None if row["seed"] is None else (r_i, row["seed"])
            flat.append((r_i, row_i, Row(row["prompt"], p, group, detok)))
    a, b = split_even(len(flat), engine.comm.world)[engine.comm.rank]
    mine = flat[a:b]
    chunk = engine.defaults["max_sample_rows"]
    dtype = next(model.parameters()).dtype
    max_len = int(slot.config.get("max_position_embeddings") or 1 << 30)
    model.eval()
    for s in range(0, len(mine), chunk):
        part = [x[2] for x in mine[s:s + chunk]]
        decode(model, impl, part, detok, engine.dev(), dtype, 0, max_len, int(time.time() * 1e6) & 0x7FFFFFFF, salt=a + s)
    return {"start": a, "rows": [(r_i, row_i, _row_out(r)) for r_i, row_i, r in mine]}


def _row_out(r):
    return {"ids": r.ids, "logprobs": r.logprobs, "top": r.top, "finish": r.finish, "stop": r.stop, "text": r.text}


def _top_logprobs(row):
    """Per token, as OpenAI and vLLM list them: the sampled token first, then the k most likely."""
    out = []
    for t, (tok, alts) in enumerate(zip(row["ids"], row["top"])):
        entry = {f"token_id:{tok}": row["logprobs"][t]}
        for i, v in alts:
            entry.setdefault(f"token_id:{i}", v)
        out.append(entry)
    return out


def merge(parts):
    """Per request, its rows in order."""
    out = {}
    for p in parts:
        for r_i, row_i, row in p["rows"]:
            out.setdefault(r_i, {})[row_i] = row
    return [[rows[k] for k in sorted(rows)] for _, rows in sorted(out.items())]


def response(body, req, rows):
    include_stop = bool(body.get("include_stop_str_in_output", False))
    want_lp = body.get("logprobs") is not None and body.get("logprobs") is not False
    choices = []
    completion_tokens = 0
    for i, r in enumerate(rows):
        text = r["text"] if r["text"] is not None else ""
        if r["finish"] == "stop" and isinstance(r["stop"], str) and not include_stop and text.endswith(r["stop"]):
            text = text[: len(text) - len(r["stop"])]
        c = {
            "index": i, "text": text, "finish_reason": r["finish"], "stop_reason": r["stop"],
            "token_ids": r["ids"] if body.get("return_token_ids", True) else None,
        }
        if want_lp:
            top = _top_logprobs(r) if r["top"] else None
            c["logprobs"] = {"tokens": [f"token_id:{t}" for t in r["ids"]], "token_logprobs": r["logprobs"], "top_logprobs": top, "text_offset": None}
        else:
            c["logprobs"] = None
        completion_tokens += len(r["ids"])
        choices.append(c)
    prompt_tokens = sum(len(x["prompt"]) for x in req["rows"][:: req["n"]])
    return {
        "id": f"cmpl-{uuid.uuid4().hex[:24]}", "object": "text_completion", "created": int(time.time()),
        "model": req["model_id"], "choices": choices,
        "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens, "total_tokens": prompt_tokens + completion_tokens},
    }

