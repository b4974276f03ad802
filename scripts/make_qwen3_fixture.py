#!/usr/bin/env python3
"""Builds the tiny Qwen3 parity fixture of the tfjs engine (test/fixtures/qwen3-tiny/).

Needs torch, transformers (>= 4.51, Qwen3) and tokenizers; runs on CPU in seconds. The committed
fixture was made with torch 2.11.0, transformers 5.17.0, tokenizers 0.23.2, safetensors 0.8.0:

    npx tsx scripts/make_safetensors_probe.ts test/fixtures/qwen3-tiny/node_probe.safetensors
    python3 scripts/make_qwen3_fixture.py test/fixtures/qwen3-tiny \
        --node-probe test/fixtures/qwen3-tiny/node_probe.safetensors

(the first line needs Node, the second Python; the device machine has only the latter, so the
probe file travels with the working tree). Tests: test/plugins/engine-tfjs/{tokenizer-hf,parity}.test.ts.

Writes into OUT_DIR:
  tokenizer/        tokenizer.json (byte-level BPE trained here, Qwen2 pre-tokenizer regex, NFC),
                    tokenizer_config.json (Qwen-style chat template), generation_config.json
  tokenizer-hf-saved/  the same tokenizer as transformers saves it (v5: chat_template.jinja)
  untied/           random Qwen3 (untied lm_head), fp32, saved sharded with an index
  tied-bf16/        random Qwen3 with tied embeddings, stored in bf16 as one model.safetensors
  dtypes.safetensors  the same values as F16, BF16 and F32, plus their exact f32 widenings
  reference.json    token ids, decodes, chat renders, the inputs of reference_logits.safetensors,
                    greedy continuations (tokens, log-probs, smallest top-2 logit gap) of each
                    model, Qwen3Config() defaults, versions
  reference_logits.safetensors  fp32 logits [T, V] of each model on each reference sequence

With --node-probe, also checks that a file written by the engine's TypeScript writer loads in the
reference safetensors library (the values it must hold are in its __metadata__).

The weights are re-initialised with larger scales than HF's 0.02 so logits are not near-uniform
and every piece (norm weights, q/k norms, RoPE) moves the result.
"""
import argparse
import json
import os
import shutil
import sys

import torch

SEED = 1234

# The pre-tokenizer split of Qwen2/Qwen3's tokenizer.json (the tiktoken cl100k-style pattern).
QWEN_SPLIT = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
)

SPECIAL = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
NON_SPECIAL = ["<think>", "</think>", "<tool_call>", "</tool_call>"]

# Written for this fixture in the shape of Qwen chat templates (system prompt, tools, reasoning
# kept only after the last user turn, consecutive tool messages merged, enable_thinking).
CHAT_TEMPLATE = r"""{%- if tools %}
    {{- '<|im_start|>system\n' }}
    {%- if messages[0].role == 'system' %}
        {{- messages[0].content + '\n\n' }}
    {%- endif %}
    {{- "# Tools\n\nYou may call functions. Signatures:\n<tools>" }}
    {%- for tool in tools %}
        {{- "\n" }}
        {{- tool | tojson }}
    {%- endfor %}
    {{- "\n</tools>\n\nReturn each call as JSON inside <tool_call></tool_call> tags.<|im_end|>\n" }}
{%- elif messages[0].role == 'system' %}
    {{- '<|im_start|>system\n' + messages[0].content + '<|im_end|>\n' }}
{%- endif %}
{%- set ns = namespace(last_user=-1) %}
{%- for message in messages %}
    {%- if message.role == 'user' %}
        {%- set ns.last_user = loop.index0 %}
    {%- endif %}
{%- endfor %}
{%- for message in messages %}
    {%- if message.role == 'user' or (message.role == 'system' and not loop.first) %}
        {{- '<|im_start|>' + message.role + '\n' + message.content + '<|im_end|>\n' }}
    {%- elif message.role == 'assistant' %}
        {%- set content = message.content %}
        {%- set reasoning = '' %}
        {%- if '</think>' in content %}
            {%- set reasoning = content.split('</think>')[0].split('<think>')[-1].strip('\n') %}
            {%- set content = content.split('</think>')[-1].lstrip('\n') %}
        {%- endif %}
        {{- '<|im_start|>assistant\n' }}
        {%- if loop.index0 > ns.last_user and reasoning %}
            {{- '<think>\n' + reasoning + '\n</think>\n\n' }}
        {%- endif %}
        {{- content }}
        {%- if message.tool_calls %}
            {%- for call in message.tool_calls %}
                {%- if call.function %}
                    {%- set fn = call.function %}
                {%- else %}
                    {%- set fn = call %}
                {%- endif %}
                {%- if loop.first and content %}
                    {{- '\n' }}
                {%- endif %}
                {{- '<tool_call>\n{"name": "' + fn.name + '", "arguments": ' + (fn.arguments | tojson) + '}\n</tool_call>' }}
            {%- endfor %}
        {%- endif %}
        {{- '<|im_end|>\n' }}
    {%- elif message.role == 'tool' %}
        {%- if loop.first or messages[loop.index0 - 1].role != 'tool' %}
            {{- '<|im_start|>user' }}
        {%- endif %}
        {{- '\n<tool_response>\n' + message.content + '\n</tool_response>' }}
        {%- if loop.last or messages[loop.index0 + 1].role != 'tool' %}
            {{- '<|im_end|>\n' }}
        {%- endif %}
    {%- endif %}
{%- endfor %}
{%- if add_generation_prompt %}
    {{- '<|im_start|>assistant\n' }}
    {%- if enable_thinking is defined and enable_thinking is false %}
        {{- '<think>\n\n</think>\n\n' }}
    {%- endif %}
{%- endif %}"""

TOKEN_STRINGS = [
    "Hello world! The answer is 42.",
    "",
    " ",
    "  leading spaces and\ttabs\n\nnewlines\r\nend  ",
    "def f(x):\n    return x**2 + 1\n\nprint(f(3))\n",
    "```python\nprint(1 + 1)\n```\n```output\n2\n```\n",
    "naïve café — 中文字符 😀 Ünïcödé ½ ﬁ",
    "cafe\u0301 vs caf\u00e9",
    "It's we'll they'RE I'M 12345 3.14159 -7e-3",
    "<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n<think>\nadd\n</think>\n\n\\boxed{4}<|endoftext|>",
    "<question>A farmer has 12 apples and gives away 5. How many are left?</question>",
    "tabs\t\tand   multiple    spaces\n\n\n",
    " <|im_end|>x <think>y</think> <|im_start|><|im_start|> <|im_end <|endoftext|>",
    "1234567890 ０１２ Ａｂｃ \u1100\u1161\u11a8 \r lone\rcr",
    "\U0001F468\u200D\U0001F469\u200D\U0001F467 \u00a0nbsp \u2003em\u3000ideo",
]

CONVERSATIONS = [
    {
        "name": "system_user_gen",
        "messages": [
            {"role": "system", "content": "You are a helpful assistant."},
            {"role": "user", "content": "What is 12 * 7?"},
        ],
        "add_generation_prompt": True,
    },
    {
        "name": "multi_turn_reasoning",
        "messages": [
            {"role": "user", "content": "Compute 3 + 4."},
            {"role": "assistant", "content": "<think>\nsimple sum\n</think>\n\nThe answer is \\boxed{7}."},
            {"role": "user", "content": "And 3 * 4? Use python."},
            {"role": "assistant", "content": "<think>\nlet me run code\n</think>\n\n```python\nprint(3 * 4)\n```"},
        ],
        "add_generation_prompt": False,
    },
    {
        "name": "no_thinking",
        "messages": [{"role": "user", "content": "Say hi in 中文 😀"}],
        "add_generation_prompt": True,
        "enable_thinking": False,
    },
    {
        "name": "tools",
        "messages": [
            {"role": "system", "content": "Use tools when needed."},
            {"role": "user", "content": "Weather in Zürich?"},
            {
                "role": "assistant",
                "content": "Let me check.",
                "tool_calls": [
                    {"type": "function", "function": {"name": "get_weather", "arguments": {"city": "Zürich", "days": 2, "metric": True, "hours": [6, 12]}}}
                ],
            },
            {"role": "tool", "content": "{\"temp\": 21}"},
            {"role": "tool", "content": "sunny"},
        ],
        "tools": [
            {
                "type": "function",
                "function": {
                    "name": "get_weather",
                    "description": "Weather for a city — with ünïcode",
                    "parameters": {"type": "object", "properties": {"city": {"type": "string"}, "days": {"type": "integer"}}, "required": ["city"]},
                },
            }
        ],
        "add_generation_prompt": True,
    },
]

LOGIT_TEXTS = [
    "The answer is 42.",
    "def f(x):\n    return x * 2",
    # A chat-rendered turn with special and added tokens, long enough that RoPE spans ~80 positions.
    "<|im_start|>user\nA farmer has 12 apples and gives away 5. How many are left?<|im_end|>\n"
    "<|im_start|>assistant\n<think>\n12 - 5 = 7\n</think>\n\n```python\nprint(12 - 5)\n```\n```output\n7\n```\n"
    "The answer is \\boxed{7}.<|im_end|>",
]


# Prompts for greedy continuations (NEW_TOKENS each, no eos stop), recomputed in full at every step.
GREEDY_PROMPTS = ["<|im_start|>user\nWhat is 12 * 7?<|im_end|>\n<|im_start|>assistant\n", "def f(x):\n    return"]
NEW_TOKENS = 24


def greedy(model, prompt, n):
    """Greedy decoding by full recomputation: the tokens, log p of each and the top-1/top-2 logit gap."""
    ids = list(prompt)
    out, lps, gaps = [], [], []
    with torch.no_grad():
        for _ in range(n):
            logits = model(torch.tensor([ids], dtype=torch.long)).logits[0, -1].float()
            top = torch.topk(logits, 2)
            nxt = int(top.indices[0])
            lps.append(float(torch.log_softmax(logits, -1)[nxt]))
            gaps.append(float(top.values[0] - top.values[1]))
            out.append(nxt)
            ids.append(nxt)
    return out, lps, min(gaps)


def corpus():
    words = (
        "the a an of to and in is that it for on with as was by at be this from or which you one had "
        "apples oranges farmer gives away left how many total each costs dollars price sum product "
        "answer question compute result number value print return def import python output code "
        "first second third add subtract multiply divide equals plus minus times"
    ).split()
    lines = []
    rng = torch.Generator().manual_seed(SEED)
    for i in range(400):
        n = int(torch.randint(3, 12, (1,), generator=rng))
        idx = torch.randint(0, len(words), (n,), generator=rng).tolist()
        a, b = int(torch.randint(0, 1000, (1,), generator=rng)), int(torch.randint(0, 100, (1,), generator=rng))
        lines.append(" ".join(words[j] for j in idx) + f" {a} + {b} = {a + b}.")
        if i % 5 == 0:
            lines.append(f"def f{i}(x):\n    return x * {b} + {a}\n\nprint(f{i}({a}))\n")
        if i % 7 == 0:
            lines.append(f"```python\nprint({a} * {b})\n```\n```output\n{a * b}\n```\nThe answer is \\boxed{{{a * b}}}.")
        if i % 11 == 0:
            lines.append("naïve café über straße 中文 数学 😀 — “quotes” ½")
    return lines


def build_tokenizer(out):
    from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers

    tok = Tokenizer(models.BPE())
    tok.normalizer = normalizers.NFC()
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(QWEN_SPLIT), behavior="isolated", invert=False),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )
    tok.decoder = decoders.ByteLevel()
    tok.post_processor = processors.ByteLevel(trim_offsets=False)
    trainer = trainers.BpeTrainer(
        vocab_size=360, min_frequency=2, show_progress=False, initial_alphabet=pre_tokenizers.ByteLevel.alphabet()
    )
    tok.train_from_iterator(corpus(), trainer)
    tok.add_special_tokens([AddedToken(s, special=True, normalized=False) for s in SPECIAL])
    tok.add_tokens([AddedToken(s, special=False, normalized=False) for s in NON_SPECIAL])
    os.makedirs(out, exist_ok=True)
    tok.save(os.path.join(out, "tokenizer.json"))
    ids = {s: tok.token_to_id(s) for s in SPECIAL + NON_SPECIAL}
    added = {
        str(ids[s]): {"content": s, "lstrip": False, "normalized": False, "rstrip": False, "single_word": False, "special": s in SPECIAL}
        for s in SPECIAL + NON_SPECIAL
    }
    config = {
        "add_bos_token": False,
        "add_prefix_space": False,
        "added_tokens_decoder": added,
        "additional_special_tokens": ["<|im_start|>", "<|im_end|>"],
        "bos_token": None,
        "chat_template": CHAT_TEMPLATE,
        "clean_up_tokenization_spaces": False,
        "eos_token": "<|im_end|>",
        "errors": "replace",
        "model_max_length": 4096,
        "pad_token": "<|endoftext|>",
        "split_special_tokens": False,
        "tokenizer_class": "Qwen2Tokenizer",
        "unk_token": None,
    }
    with open(os.path.join(out, "tokenizer_config.json"), "w", encoding="utf-8") as f:
        json.dump(config, f, indent=2, ensure_ascii=False)
    gen = {
        "bos_token_id": ids["<|endoftext|>"],
        "eos_token_id": [ids["<|im_end|>"], ids["<|endoftext|>"]],
        "pad_token_id": ids["<|endoftext|>"],
        "do_sample": True,
        "temperature": 0.6,
        "top_k": 20,
        "top_p": 0.95,
    }
    with open(os.path.join(out, "generation_config.json"), "w") as f:
        json.dump(gen, f, indent=2)
    return tok, ids


def token_references(tok, tok_dir, errors):
    """Ids from the Rust tokenizers library (the ground truth for tokenizer.json) and, when it loads, AutoTokenizer."""
    refs = []
    hf = None
    try:
        from transformers import AutoTokenizer

        hf = AutoTokenizer.from_pretrained(tok_dir)
    except Exception as e:  # noqa: BLE001 - recorded, the Rust ids stay the reference
        errors.append(f"AutoTokenizer: {e!r}")
    for s in TOKEN_STRINGS:
        enc = tok.encode(s)
        r = {
            "text": s,
            "ids": enc.ids,
            "tokens": enc.tokens,
            "decoded": tok.decode(enc.ids, skip_special_tokens=False),
            "decoded_skip_special": tok.decode(enc.ids, skip_special_tokens=True),
        }
        if hf is not None:
            hf_ids = hf.encode(s, add_special_tokens=True)
            r["hf_ids"] = hf_ids
            r["hf_decoded"] = hf.decode(hf_ids, skip_special_tokens=False)
            if hf_ids != enc.ids:
                errors.append(f"AutoTokenizer ids differ from tokenizers for {s!r}")
        refs.append(r)
    return refs, hf


def chat_references(hf, errors):
    out = []
    if hf is None:
        errors.append("no chat references: AutoTokenizer did not load")
        return out
    for conv in CONVERSATIONS:
        kwargs = {}
        if "enable_thinking" in conv:
            kwargs["enable_thinking"] = conv["enable_thinking"]
        try:
            text = hf.apply_chat_template(
                conv["messages"],
                tools=conv.get("tools"),
                tokenize=False,
                add_generation_prompt=conv["add_generation_prompt"],
                **kwargs,
            )
            ids = hf.apply_chat_template(
                conv["messages"],
                tools=conv.get("tools"),
                tokenize=True,
                add_generation_prompt=conv["add_generation_prompt"],
                **kwargs,
            )
            if isinstance(ids, dict) or hasattr(ids, "keys"):
                ids = ids["input_ids"]
            out.append({**conv, "text": text, "ids": list(ids)})
        except Exception as e:  # noqa: BLE001
            errors.append(f"apply_chat_template {conv['name']}: {e!r}")
    return out


def reinit(model, gen):
    """Larger random weights than HF's init so every parameter matters at 1e-4."""
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("norm.weight"):
                p.copy_(1.0 + 0.2 * torch.randn(p.shape, generator=gen))
            elif "embed_tokens" in name:
                p.copy_(0.3 * torch.randn(p.shape, generator=gen))
            else:
                fan_in = p.shape[-1]
                p.copy_(torch.randn(p.shape, generator=gen) * (1.5 / fan_in**0.5))


def qwen3_config(tie, vocab, errors):
    import inspect

    from transformers import Qwen3Config

    kw = dict(
        vocab_size=vocab,
        hidden_size=64,
        intermediate_size=96,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        head_dim=16,
        max_position_embeddings=256,
        rms_norm_eps=1e-6,
        tie_word_embeddings=tie,
    )
    # transformers 5 moved rope_theta into rope_parameters; 4.x takes rope_theta.
    if "rope_parameters" in inspect.signature(Qwen3Config.__init__).parameters:
        kw["rope_parameters"] = {"rope_type": "default", "rope_theta": 1000000.0}
    else:
        kw["rope_theta"] = 1000000.0
    cfg = Qwen3Config(**kw)
    theta = getattr(cfg, "rope_theta", None) or (getattr(cfg, "rope_parameters", None) or {}).get("rope_theta")
    if theta != 1000000.0:
        errors.append(f"rope theta did not take: {theta}")
    return cfg


def logits_of(model, ids):
    with torch.no_grad():
        return model(torch.tensor([ids], dtype=torch.long)).logits[0].contiguous()


def build_models(out, tok, ids, seqs, errors):
    from transformers import Qwen3ForCausalLM

    vocab = 384
    assert tok.get_vocab_size() <= vocab, tok.get_vocab_size()
    logits = {}
    info = {}
    greedy_refs = []
    for variant, tie, dtype in [("untied", False, torch.float32), ("tied-bf16", True, torch.bfloat16)]:
        torch.manual_seed(SEED)
        cfg = qwen3_config(tie, vocab, errors)
        try:
            cfg._attn_implementation = "eager"
        except Exception:  # noqa: BLE001
            pass
        model = Qwen3ForCausalLM(cfg).eval()
        reinit(model, torch.Generator().manual_seed(SEED + (1 if tie else 0)))
        if tie and model.lm_head.weight.data_ptr() != model.model.embed_tokens.weight.data_ptr():
            errors.append("tied variant: lm_head is not tied to embed_tokens")
        if dtype == torch.bfloat16:
            # Round the weights to what bf16 storage holds.
            model = model.to(torch.bfloat16).to(torch.float32)
        d = os.path.join(out, variant)
        save_model = model.to(dtype) if dtype != torch.float32 else model
        if variant == "untied":
            save_model.save_pretrained(d, max_shard_size="200KB")
        else:
            save_model.save_pretrained(d)
        model = save_model.to(torch.float32).eval()
        for f in ("tokenizer.json", "tokenizer_config.json", "generation_config.json"):
            shutil.copy(os.path.join(out, "tokenizer", f), os.path.join(d, f))
        # The reference is what HF computes from the files on disk. (The in-memory model differs for
        # bf16: its non-persistent RoPE inv_freq buffer went through bf16 too.)
        reloaded = Qwen3ForCausalLM.from_pretrained(d, dtype=torch.float32).eval()
        m64 = Qwen3ForCausalLM.from_pretrained(d, dtype=torch.float64).eval()
        for i, s in enumerate(seqs):
            a = logits_of(reloaded, s)
            b = logits_of(model, s)
            info[f"{variant}.{i}.max_abs_in_memory_vs_reloaded"] = float((a - b).abs().max())
            c = logits_of(m64, s).double()
            info[f"{variant}.{i}.max_abs_fp32_vs_fp64"] = float((a.double() - c).abs().max())
            info[f"{variant}.{i}.logit_std"] = float(a.std())
            logits[f"{variant}.{i}"] = a
        for j, text in enumerate(GREEDY_PROMPTS):
            prompt = tok.encode(text).ids
            toks, lps, gap = greedy(reloaded, prompt, NEW_TOKENS)
            g = {"variant": variant, "prompt": text, "prompt_ids": prompt, "tokens": toks, "logprobs": lps, "min_top2_gap": gap}
            try:
                # generate() stops at the folder's eos ids; the manual loop does not.
                gen = reloaded.generate(torch.tensor([prompt]), max_new_tokens=NEW_TOKENS, do_sample=False)
                g["hf_generate_tokens"] = gen[0, len(prompt):].tolist()
                if not g["hf_generate_tokens"] or g["hf_generate_tokens"] != toks[: len(g["hf_generate_tokens"])]:
                    errors.append(f"{variant} greedy {j}: generate() differs from full recomputation")
            except Exception as e:  # noqa: BLE001 - the manual loop stays the reference
                errors.append(f"{variant} generate(): {e!r}")
            greedy_refs.append(g)
        info[f"{variant}.files"] = sorted(os.listdir(d))
        info[f"{variant}.num_params"] = sum(p.numel() for p in model.parameters())
    from safetensors.torch import save_file

    save_file(logits, os.path.join(out, "reference_logits.safetensors"), metadata={"format": "pt"})
    return info, greedy_refs


def dtype_file(out):
    from safetensors.torch import save_file

    vals = [0.0, -0.0, 1.0, -1.0, 0.1, 1 / 3, 65504.0, 70000.0, 1e-3, 6e-8, 2.0**-24, 2.0**-14, 3.0e38, 1e-40,
            float("inf"), float("-inf"), float("nan"), 12345.678, -0.00001234]
    x = torch.tensor(vals, dtype=torch.float32)
    g = torch.Generator().manual_seed(SEED)
    r = torch.randn(2, 3, 5, generator=g) * 100
    t = {
        "x.f32": x,
        "x.f16": x.half(),
        "x.f16.as_f32": x.half().float(),
        "x.bf16": x.bfloat16(),
        "x.bf16.as_f32": x.bfloat16().float(),
        "r.f32": r,
        "r.bf16": r.bfloat16(),
        "r.bf16.as_f32": r.bfloat16().float(),
        "r.f16": r.half(),
        "r.f16.as_f32": r.half().float(),
        "scalar.f32": torch.tensor(2.5),
        "empty.f32": torch.zeros(0, 4),
    }
    save_file(t, os.path.join(out, "dtypes.safetensors"), metadata={"note": "values and their exact f32 widenings"})


def check_node_probe(path, errors):
    """The probe's __metadata__ holds, per tensor, the f32 source values and the stored dtype; torch's own
    rounding of the source is what the file must hold."""
    from safetensors import safe_open

    with safe_open(path, framework="pt") as f:
        meta = f.metadata() or {}
        expected = json.loads(meta["expected"])
        names = sorted(f.keys())
        for name, want in expected.items():
            t = f.get_tensor(name)
            dt = {"F32": torch.float32, "BF16": torch.bfloat16}[want["dtype"]]
            ref = torch.tensor(want["source"], dtype=torch.float32).to(dt).reshape(want["shape"])
            if t.dtype != dt or list(t.shape) != want["shape"] or not torch.equal(t, ref):
                errors.append(f"node probe {name}: got {t.flatten()[:8].tolist()} {t.dtype} {list(t.shape)}, want {ref.flatten()[:8].tolist()}")
    return {"node_probe_checked": sorted(expected.keys()), "node_probe_keys": names, "node_probe_metadata_keys": sorted(meta.keys())}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--node-probe")
    args = ap.parse_args()
    torch.manual_seed(SEED)
    torch.use_deterministic_algorithms(True)
    import tokenizers
    import transformers
    from transformers import Qwen3Config

    out = args.out
    os.makedirs(out, exist_ok=True)
    errors = []
    tok, ids = build_tokenizer(os.path.join(out, "tokenizer"))
    token_refs, hf = token_references(tok, os.path.join(out, "tokenizer"), errors)
    chats = chat_references(hf, errors)
    if hf is not None:
        # What transformers itself writes for a tokenizer folder (v5 puts the template in chat_template.jinja).
        hf.save_pretrained(os.path.join(out, "tokenizer-hf-saved"))
    seqs = [tok.encode(s).ids for s in LOGIT_TEXTS]
    info, greedy_refs = build_models(out, tok, ids, seqs, errors)
    dtype_file(out)
    probe = check_node_probe(args.node_probe, errors) if args.node_probe else {}
    defaults = Qwen3Config().to_dict()
    hf_special = {}
    if hf is not None:
        hf_special = {"eos_token_id": hf.eos_token_id, "pad_token_id": hf.pad_token_id, "bos_token_id": hf.bos_token_id,
                      "all_special_ids": list(hf.all_special_ids), "len": len(hf)}
    ref = {
        "hf_special": hf_special,
        "versions": {"torch": torch.__version__, "transformers": transformers.__version__, "tokenizers": tokenizers.__version__},
        "special_ids": ids,
        "tokenizer_vocab_size": tok.get_vocab_size(),
        "auto_tokenizer_class": type(hf).__name__ if hf is not None else None,
        "tokens": token_refs,
        "chats": chats,
        "logits": {"texts": LOGIT_TEXTS, "ids": seqs, "keys": "<variant>.<index> in reference_logits.safetensors, [T, V] fp32"},
        "model_info": info,
        "greedy": greedy_refs,
        "qwen3_config_defaults": json.loads(json.dumps(defaults, default=str)),
        "probe": probe,
        "errors": errors,
    }
    with open(os.path.join(out, "reference.json"), "w", encoding="utf-8") as f:
        json.dump(ref, f, indent=1, ensure_ascii=False)
    print(json.dumps({"errors": errors, "info": info, "probe": probe}, indent=1, default=str))
    total = sum(os.path.getsize(os.path.join(r, f)) for r, _, fs in os.walk(out) for f in fs)
    print(f"fixture bytes: {total}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
