"""Model slots and the operations every rank runs: forward, forward_backward, optim_step, checkpoints.

Each operation gets the whole request (every rank sees every row), works on its own contiguous share
of rows and returns a partial result that rank 0 merges (`merge`). Gradients of several
forward_backward calls accumulate until optim_step, which sums them over ranks (FSDP2 reduce-scatter,
or an all-reduce for replicated weights), clips the global norm and steps AdamW.
"""
import contextlib
import copy
import json
import math
import os
import time

import torch

from . import losses, models, st
from .logprobs import LogProbNet
from .rows import rank_plans

OPTIMIZER_FILE = "optimizer.torch.safetensors"
STATE_FILE = "agent0.json"


class RequestError(ValueError):
    """A request that cannot be served as asked (reported to the client as a 400)."""


class Slot:
    def __init__(self, model_id, net, config, impl, opts, sharded, tokenizer_dir, frozen=False):
        self.id = model_id
        self.net = net
        self.config = config
        self.impl = impl
        self.opts = opts
        self.sharded = sharded
        self.tokenizer_dir = tokenizer_dir
        self.frozen = frozen
        self.optimizer = None
        self.step = 0
        self.sampler_model = None  # the decoding copy (engine.sampling_model)
        self.sampler_impl = None
        self.sampler_stale = True

    @property
    def lm(self):
        return self.net.lm


class Engine:
    def __init__(self, comm, device_kind, defaults):
        self.comm = comm
        self.device_kind = device_kind
        self.defaults = defaults
        self.slots = {}

    # ---- helpers -------------------------------------------------------------------------
    def slot(self, model_id):
        s = self.slots.get(model_id)
        if s is None:
            raise RequestError(f"unknown model_id '{model_id}' (loaded: {', '.join(self.slots) or 'none'})")
        return s

    def dev(self):
        return self.comm.device

    def _wrap(self, lm, impl, opts, frozen):
        compute = models.dtype_of(opts["compute_dtype"])
        out_dtype = torch.float64 if compute == torch.float64 else torch.float32
        net = LogProbNet(lm, impl, out_dtype)
        if opts["gradient_checkpointing"] and not frozen:
            models.enable_checkpointing(lm, impl)
        # auto: FSDP2 across several GPUs; one GPU keeps fp32 master weights and computes under autocast
        shard = opts["shard"] == "fsdp2" or (opts["shard"] == "auto" and self.device_kind == "cuda" and self.comm.world > 1)
        if shard:
            net.to(self.dev())
            models.shard(net, lm.model.layers, compute)
        else:
            net.to(self.dev(), dtype=compute if frozen else None)
        return net, shard

    # ---- model lifecycle -----------------------------------------------------------------
    def create_model(self, a):
        opts = {**self.defaults, **{k: v for k, v in (a.get("options") or {}).items() if v is not None}}
        opts["compute_dtype"] = opts.get("compute_dtype") or ("bfloat16" if self.device_kind == "cuda" else opts["param_dtype"])
        opts["save_dtype"] = opts.get("save_dtype") or opts["compute_dtype"]
        model_id = a["model_id"]
        if model_id in self.slots:
            raise RequestError(f"model_id '{model_id}' exists")
        param_dtype = models.dtype_of(opts["param_dtype"])
        lm, config, impl = models.build(a.get("base_model"), a.get("config"), opts["impl"], param_dtype, opts["seed"], device=self.dev())
        net, sharded = self._wrap(lm, impl, opts, False)
        s = Slot(model_id, net, config, impl, opts, sharded, a.get("tokenizer_dir") or a.get("base_model"))
        self.slots[model_id] = s
        if a.get("base_model") and a.get("load_optimizer", True):
            self._load_optimizer(s, a["base_model"], strict=False)
        return self.describe(s)

    def describe(self, s):
        return {
            "model_id": s.id, "impl": s.impl, "params": models.count_params(s.net), "frozen": s.frozen,
            "step": s.step, "sharded": s.sharded, "param_dtype": s.opts["param_dtype"],
            "compute_dtype": s.opts["compute_dtype"], "config": {k: v for k, v in s.config.items() if _jsonable(v)},
        }

    def snapshot(self, a):
        src = self.slot(a["model_id"])
        target = a["target_id"]
        if target in self.slots:
            raise RequestError(f"model_id '{target}' exists")
        if src.sharded:
            lm = self._plain_copy(src, src.impl, models.dtype_of(src.opts["compute_dtype"]))
        else:
            lm = copy.deepcopy(src.lm)
            for p in lm.parameters():
                p.requires_grad_(False)
        opts = {**src.opts, "gradient_checkpointing": False}
        net, sharded = self._wrap(lm, src.impl, opts, True)
        s = Slot(target, net, src.config, src.impl, opts, sharded, src.tokenizer_dir, frozen=True)
        s.step = src.step
        self.slots[target] = s
        return self.describe(s)

    def unload_model(self, a):
        s = self.slots.pop(a["model_id"], None)
        if s is None:
            raise RequestError(f"unknown model_id '{a['model_id']}'")
        del s
        if self.device_kind == "cuda":
            torch.cuda.empty_cache()
        return {"model_id": a["model_id"]}

    # ---- forward / backward ----------------------------------------------------------------
    def _plans(self, s, data):
        lengths = [int(d["tokens"].numel()) for d in data]
        if any(n == 0 for n in lengths):
            raise RequestError("a datum has no input tokens")
        return rank_plans(lengths, self.comm.world, s.opts["micro_batch_tokens"], s.opts["max_micro_batch_rows"])

    def _batch(self, data, rows, input_names):
        T = max(int(data[i]["tokens"].numel()) for i in rows)
        b = len(rows)
        ids = torch.zeros(b, T, dtype=torch.long)
        tgt = torch.zeros(b, T, dtype=torch.long)
        valid = torch.zeros(b, T, dtype=torch.bool)
        inputs = {}
        for j, i in enumerate(rows):
            d = data[i]
            n = int(d["tokens"].numel())
            ids[j, :n] = d["tokens"]
            tgt[j, :n] = d["targets"]
            valid[j, :n] = True
        for name in input_names:
            x = torch.zeros(b, T, dtype=torch.float64)
            for j, i in enumerate(rows):
                v = data[i]["inputs"][name]
                x[j, :v.numel()] = v.to(torch.float64)
            inputs[name] = x
        dev = self.dev()
        return ids.to(dev), tgt.to(dev), valid.to(dev), {k: v.to(dev) for k, v in inputs.items()}

    def _run(self, s, data, want_entropy, loss_fn=None, cfg=None):
        """Forward (and backward) of this rank's rows; returns their outputs and summed metrics."""
        plans = self._plans(s, data)
        start, end, mine = plans[self.comm.rank]
        # FSDP2 forwards are collective: every rank runs as many micro-batches as the busiest one.
        steps = max(len(p[2]) for p in plans) if s.sharded else len(mine)
        fn = None
        names = []
        if loss_fn is not None:
            if loss_fn not in losses.LOSSES:
                raise RequestError(f"unknown loss_fn '{loss_fn}'; supported: {', '.join(losses.LOSSES)}")
            fn, required = losses.LOSSES[loss_fn]
            present = set(data[0]["inputs"]) if data else set()
            missing = [k for k in required if k not in present]
            if missing:
                raise RequestError(f"loss_fn '{loss_fn}' needs loss_fn_inputs {missing}")
            names = sorted(present)
            losses.validate(loss_fn, cfg or {})
            want_entropy = want_entropy or losses.needs_entropy(loss_fn, present, cfg or {})
        outputs = {}
        parts = []
        scale = float(self.comm.world) if s.sharded else 1.0
        s.net.train(loss_fn is not None)
        for k in range(steps):
            rows = mine[k] if k < len(mine) else None
            dummy = rows is None
            if dummy:
                ids = torch.zeros(1, 1, dtype=torch.long, device=self.dev())
                tgt, valid, inputs = ids, torch.zeros(1, 1, dtype=torch.bool, device=self.dev()), {}
            else:
                ids, tgt, valid, inputs = self._batch(data, rows, names)
            with torch.set_grad_enabled(fn is not None), self._autocast(s):
                lp, ent = s.net(ids, tgt, want_entropy)
                if fn is not None:
                    if dummy:
                        loss, m = lp.sum() * 0.0, {}
                    else:
                        # clip bounds stay float64 until 1 ± ε is formed (as the controller forms them)
                        inputs = {k2: v if k2.startswith("clip_") else v.to(lp.dtype) for k2, v in inputs.items()}
                        loss, m = fn(lp, ent, inputs, valid, cfg or {})
                    (loss * scale).backward()
                    parts.append(m)
            if dummy:
                continue
            lp_c = lp.detach().float().cpu() if lp.dtype != torch.float64 else lp.detach().cpu()
            ent_c = None if ent is None else ent.detach().to(lp_c.dtype).cpu()
            for j, i in enumerate(rows):
                n = int(data[i]["tokens"].numel())
                out = {"logprobs": lp_c[j, :n].clone()}
                if ent_c is not None:
                    out["entropy"] = ent_c[j, :n].clone()
                outputs[i] = out
        return {"start": start, "outputs": [outputs[i] for i in range(start, end)], "metrics": losses.combine(parts)}

    def _autocast(self, s):
        """bf16 compute over fp32 master weights on one GPU (FSDP2 casts by itself when sharded)."""
        compute = models.dtype_of(s.opts["compute_dtype"])
        if self.device_kind == "cuda" and not s.sharded and not s.frozen and compute != models.dtype_of(s.opts["param_dtype"]):
            return torch.autocast("cuda", dtype=compute)
        return contextlib.nullcontext()

    def forward(self, a):
        s = self.slot(a["model_id"])
        with torch.no_grad():
            return self._run(s, a["data"], bool(a.get("entropy")))

    def forward_backward(self, a):
        s = self.slot(a["model_id"])
        if s.frozen:
            raise RequestError(f"model '{s.id}' is a frozen snapshot")
        try:
            return self._run(s, a["data"], bool(a.get("entropy")), a["loss_fn"], a.get("loss_fn_config") or {})
        except Exception:
            # a step that failed half-way must not leave part of its gradient for the next optim_step
            _drop_grads(s)
            raise

    # ---- optimizer -------------------------------------------------------------------------
    def _optimizer(self, s, adam):
        if s.optimizer is None:
            decay, no_decay = [], []
            for p in s.net.parameters():
                if p.requires_grad:
                    (decay if p.dim() >= 2 else no_decay).append(p)
            kw = {"lr": adam["learning_rate"], "betas": (adam["beta1"], adam["beta2"]), "eps": adam["eps"]}
            groups = [{"params": decay, "weight_decay": adam["weight_decay"]}, {"params": no_decay, "weight_decay": 0.0}]
            s.optimizer = _adamw(groups, kw, self.device_kind == "cuda")
        for i, g in enumerate(s.optimizer.param_groups):
            g["lr"] = adam["learning_rate"]
            g["betas"] = (adam["beta1"], adam["beta2"])
            g["eps"] = adam["eps"]
            g["weight_decay"] = adam["weight_decay"] if i == 0 else 0.0
        return s.optimizer

    def optim_step(self, a):
        s = self.slot(a["model_id"])
        if s.frozen:
            raise RequestError(f"model '{s.id}' is a frozen snapshot")
        adam = {"learning_rate": 1e-4, "beta1": 0.9, "beta2": 0.95, "eps": 1e-12, "weight_decay": 0.0, "grad_clip_norm": 0.0,
                **(a.get("adam_params") or {})}
        opt = self._optimizer(s, adam)
        params = [p for g in opt.param_groups for p in g["params"]]
        if not s.sharded:
            for p in params:
                if p.grad is None:
                    p.grad = torch.zeros_like(p)
            self.comm.all_reduce_sum([p.grad for p in params])
        clip = float(adam.get("grad_clip_norm") or 0.0)
        norm = torch.nn.utils.clip_grad_norm_(params, clip if clip > 0 else float("inf"))
        if hasattr(norm, "full_tensor"):
            norm = norm.full_tensor()
        grad_norm = float(norm)
        skipped = not math.isfinite(grad_norm)
        if not skipped:
            opt.step()
            s.step += 1
        opt.zero_grad(set_to_none=True)
        s.sampler_stale = True
        return {"grad_norm": grad_norm, "lr": adam["learning_rate"], "step": s.step, "skipped": skipped}

    # ---- checkpoints -----------------------------------------------------------------------
    def _full_state(self, s):
        sd = models.full_state(s.net, s.sharded)
        out = {k[3:] if k.startswith("lm.") else k: v for k, v in sd.items()}
        if models.tied(s.lm):
            out.pop("lm_head.weight", None)
        return out

    def save_weights_for_sampler(self, a):
        s = self.slot(a["model_id"])
        path = _abs_dir(a["path"])
        tensors = self._full_state(s)
        if self.comm.rank == 0:
            dtype = models.dtype_of(a.get("dtype") or s.opts["save_dtype"] or s.opts["param_dtype"])
            models.write_hf_folder(path, tensors, s.config, dtype, s.tokenizer_dir)
            _write_json(os.path.join(path, STATE_FILE), {"engine": "torch", "step": s.step, "impl": s.impl, "savedAt": time.time()})
        self.comm.barrier()
        return {"path": path, "type": "save_weights_for_sampler"}

    def save_weights(self, a):
        """Weights (param dtype, so a resume is exact) plus AdamW state: a folder load_weights restores."""
        s = self.slot(a["model_id"])
        path = _abs_dir(a["path"])
        self.save_weights_for_sampler({**a, "dtype": s.opts["param_dtype"]})
        state = self._optimizer_state(s)
        if self.comm.rank == 0:
            opt_file = os.path.join(path, OPTIMIZER_FILE)
            if state is not None:
                st.write_file(opt_file, state["tensors"], {"step": s.step, "layout": "agent0-torch-adamw"})
            elif os.path.exists(opt_file):
                os.remove(opt_file)  # a reused folder must not hand an older run's moments to load_weights
        self.comm.barrier()
        return {"path": path, "type": "save_weights"}

    def load_weights(self, a):
        s = self.slot(a["model_id"])
        path = a["path"]
        if not os.path.isdir(path):
            raise RequestError(f"load_weights: '{path}' is not a folder")
        cfg = models.read_config(path)
        for k in ("vocab_size", "hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads", "num_key_value_heads"):
            if k in cfg and k in s.config and cfg[k] != s.config[k]:
                raise RequestError(f"load_weights({path}): {k} is {cfg[k]} there but {s.config[k]} here")
        tensors = st.read_folder(path)
        tensors = {k: v for k, v in tensors.items() if not (k == "lm_head.weight" and models.tied(s.lm))}
        if s.sharded:
            models.set_full_state(s.net, {f"lm.{k}": v for k, v in tensors.items()}, True, path)
        else:
            models.load_state(s.lm, tensors, path)
        s.sampler_stale = True
        _drop_grads(s)
        s.optimizer = None
        s.step = 0
        loaded = False
        if a.get("optimizer", True) and not s.frozen:
            loaded = self._load_optimizer(s, path, strict=False)
        if not loaded:
            st_path = os.path.join(path, STATE_FILE)
            if os.path.exists(st_path):
                with open(st_path) as f:
                    s.step = int(json.load(f).get("step", 0))
        return {"type": "load_weights", "step": s.step, "optimizer": loaded}

    def _names(self, s):
        """Parameter → HF name (without the LogProbNet prefix)."""
        return {id(p): (n[3:] if n.startswith("lm.") else n) for n, p in s.net.named_parameters()}

    def _optimizer_state(self, s):
        if s.optimizer is None:
            return None
        if s.sharded:
            from torch.distributed.checkpoint.state_dict import StateDictOptions, get_optimizer_state_dict
            osd = get_optimizer_state_dict(s.net, s.optimizer, options=StateDictOptions(full_state_dict=True, cpu_offload=True))
            tensors = {}
            for name, stt in osd["state"].items():
                n = name[3:] if name.startswith("lm.") else name
                tensors[f"exp_avg.{n}"] = stt["exp_avg"]
                tensors[f"exp_avg_sq.{n}"] = stt["exp_avg_sq"]
            return {"tensors": tensors}
        names = self._names(s)
        tensors = {}
        for g in s.optimizer.param_groups:
            for p in g["params"]:
                stt = s.optimizer.state.get(p)
                if stt:
                    tensors[f"exp_avg.{names[id(p)]}"] = stt["exp_avg"].detach().cpu()
                    tensors[f"exp_avg_sq.{names[id(p)]}"] = stt["exp_avg_sq"].detach().cpu()
        return {"tensors": tensors}

    def _load_optimizer(self, s, path, strict):
        f = os.path.join(path, OPTIMIZER_FILE)
        if not os.path.exists(f):
            if strict:
                raise RequestError(f"{path} has no {OPTIMIZER_FILE}")
            return False
        meta = st.metadata(f)
        tensors = st.read_file(f)
        step = int(meta.get("step", "0"))
        adam = {"learning_rate": 0.0, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8, "weight_decay": 0.0}
        opt = self._optimizer(s, adam)
        if s.sharded:
            from torch.distributed.checkpoint.state_dict import StateDictOptions, set_optimizer_state_dict
            state = {}
            for n, _ in s.net.named_parameters():
                hf = n[3:] if n.startswith("lm.") else n
                if f"exp_avg.{hf}" in tensors:
                    state[n] = {"step": torch.tensor(float(step)), "exp_avg": tensors[f"exp_avg.{hf}"], "exp_avg_sq": tensors[f"exp_avg_sq.{hf}"]}
            groups = [{**{k: v for k, v in g.items() if k != "params"}, "params": [n for n, p in s.net.named_parameters() if any(p is q for q in g["params"])]}
                      for g in opt.param_groups]
            set_optimizer_state_dict(s.net, opt, {"state": state, "param_groups": groups},
                                     options=StateDictOptions(full_state_dict=True))
        else:
            names = self._names(s)
            for g in opt.param_groups:
                for p in g["params"]:
                    n = names[id(p)]
                    if f"exp_avg.{n}" not in tensors:
                        continue
                    opt.state[p] = {
                        # fused/foreach AdamW on a GPU keeps the step count beside the parameter
                        "step": torch.tensor(float(step), device=p.device if self.device_kind == "cuda" else "cpu"),
                        "exp_avg": tensors[f"exp_avg.{n}"].to(p.device, p.dtype),
                        "exp_avg_sq": tensors[f"exp_avg_sq.{n}"].to(p.device, p.dtype),
                    }
        s.step = step
        return True

    # ---- sampling --------------------------------------------------------------------------
    def sampling_model(self, s):
        """(module, impl) for decoding. The live module when it is the built-in Qwen3 already in its
        compute dtype; otherwise a decoding copy in the compute dtype, refreshed in place after each
        optimizer step: the built-in Qwen3 (static KV cache, a lean step) for any qwen3 model, else a
        copy of the transformers module."""
        compute = models.dtype_of(s.opts["compute_dtype"])
        live_dtype = next(s.lm.parameters()).dtype
        if not s.sharded and s.impl == "builtin" and live_dtype == compute:
            return s.lm, "builtin"
        if s.sampler_model is None:
            impl = "builtin" if s.config.get("model_type", "qwen3") == "qwen3" else s.impl
            s.sampler_model, s.sampler_impl = self._plain_copy(s, impl, compute, self.dev()).eval(), impl
        elif s.sampler_stale:
            models.load_state(s.sampler_model, self._weights(s, s.sampler_model), "decoding copy")
        s.sampler_stale = False
        return s.sampler_model, s.sampler_impl

    def _weights(self, s, target):
        """The slot's current weights by HF name, shaped for `target`: gathered to the CPU when sharded,
        else the live device tensors (no round trip through host memory on every refresh)."""
        if s.sharded:
            tensors = self._full_state(s)
        else:
            tensors = {k: v for k, v in s.lm.state_dict().items() if not k.endswith("inv_freq")}
        if models.tied(target):
            tensors.pop("lm_head.weight", None)
        return tensors

    def _plain_copy(self, s, impl, dtype, device=None):
        """A frozen, unsharded module (`impl`, `dtype`) holding the slot's current weights."""
        lm, _, _ = models.build(None, s.config, impl, dtype, 0, device=device)
        models.load_state(lm, self._weights(s, lm), "copy")
        for p in lm.parameters():
            p.requires_grad_(False)
        return lm


def merge(op, parts):
    """Rank 0: one result from every rank's partial (rows in rank order, metrics combined)."""
    if op in ("forward", "forward_backward"):
        outputs = []
        for p in sorted(parts, key=lambda p: p["start"]):
            outputs.extend(p["outputs"])
        return {"outputs": outputs, "metrics": losses.combine([p["metrics"] for p in parts])}
    return parts[0]


def _drop_grads(s):
    for p in s.net.parameters():
        p.grad = None


def _adamw(groups, kw, cuda):
    if cuda:
        try:
            return torch.optim.AdamW(groups, fused=True, **kw)
        except (RuntimeError, TypeError, ValueError):
            return torch.optim.AdamW(groups, foreach=True, **kw)
    return torch.optim.AdamW(groups, **kw)


def _abs_dir(path):
    if not isinstance(path, str) or not path:
        raise RequestError("path must be a non-empty string")
    return os.path.abspath(path)


def _write_json(path, obj):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(obj, f, indent=2)
    os.replace(tmp, path)


def _jsonable(v):
    try:
        json.dumps(v)
        return True
    except (TypeError, ValueError):
        return False
