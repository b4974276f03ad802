"""The real service (`python -m agent0_trainer`) over HTTP: its guards, the training routes and
futures, /v1/completions, shutdown, and two CPU ranks (gloo) against one."""
import json
import os
import random
import socket
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.error
import urllib.request

import torch

from agent0_trainer import models, wire
from agent0_trainer.detok import Detok

from .common import IDS, PACKAGE_ROOT, REFERENCE, UNTIED

TOKEN_VAR = "AGENT0_TEST_TRAINER_TOKEN"
TOKEN = "s3cret-token"
# never through an HTTP proxy from the environment: the service is on loopback
OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))
# the built-in model everywhere: transformers (where importable) computes RoPE in float32 even in float64
FLAGS = ["--impl", "builtin", "--param-dtype", "float64", "--device", "cpu", "--threads", "1", "--micro-batch-tokens", "24"]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Service:
    """One started service: its rank processes, rank 0's address, the text they printed."""

    def __init__(self, ranks=1):
        self.dir = tempfile.TemporaryDirectory()
        port_file = os.path.join(self.dir.name, "port")
        env = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT")}
        env.update({TOKEN_VAR: TOKEN, "PYTHONPATH": PACKAGE_ROOT, "PYTHONDONTWRITEBYTECODE": "1", "PYTHONUNBUFFERED": "1"})
        cmd = [sys.executable, "-m", "agent0_trainer", "--port", "0", "--port-file", port_file, "--api-key-env", TOKEN_VAR,
               "--parent-pid", str(os.getpid()), *FLAGS]
        master = str(free_port())
        self.procs, self.logs = [], []
        for r in range(ranks):
            rank_env = dict(env)
            if ranks > 1:
                rank_env.update(RANK=str(r), LOCAL_RANK=str(r), WORLD_SIZE=str(ranks), MASTER_ADDR="127.0.0.1", MASTER_PORT=master)
            log = open(os.path.join(self.dir.name, f"rank{r}.log"), "a+")  # O_APPEND: reading back never moves where ranks write
            self.logs.append(log)
            self.procs.append(subprocess.Popen(cmd, env=rank_env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL))
        deadline = time.time() + 120
        while not os.path.exists(port_file):
            if any(p.poll() is not None for p in self.procs) or time.time() > deadline:
                out = self.output()
                self.stop()
                raise RuntimeError(f"the service did not start:\n{out}")
            time.sleep(0.05)
        with open(port_file) as f:
            self.address = f.read().strip()

    def output(self):
        out = []
        for r, log in enumerate(self.logs):
            log.flush()
            log.seek(0)
            out.append(f"--- rank {r}\n{log.read()[-4000:]}")
        return "\n".join(out)

    def request(self, method, path, body=None, headers=None, token=TOKEN, raw=None):
        """(status, decoded body)."""
        h = {"Content-Type": "application/json"}
        if token is not None:
            h["Authorization"] = f"Bearer {token}"
        h.update(headers or {})
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        req = urllib.request.Request(f"http://{self.address}{path}", data=data, headers=h, method=method)
        try:
            with OPENER.open(req, timeout=120) as resp:
                status, ctype, payload = resp.status, resp.headers.get("Content-Type"), resp.read()
        except urllib.error.HTTPError as e:
            status, ctype, payload = e.code, e.headers.get("Content-Type"), e.read()
        return status, wire.decode(payload, ctype)

    def future(self, path, body):
        """A training route's result through retrieve_future: (status, body)."""
        status, r = self.request("POST", path, body)
        if status != 200:
            return status, r
        return self.request("POST", "/api/v1/retrieve_future", {"request_id": r["request_id"], "timeout": 120})

    def call(self, path, body):
        status, r = self.future(path, body)
        if status != 200:
            raise AssertionError(f"{path}: {status} {r}\n{self.output()}")
        return r

    def shutdown(self, timeout=30):
        """Asks rank 0 to stop; the exit codes of every rank."""
        self.request("POST", "/agent0/shutdown", {})
        return [p.wait(timeout) for p in self.procs]

    def stop(self):
        for p in self.procs:
            if p.poll() is None:
                p.kill()
                p.wait()
        for log in self.logs:
            log.close()
        self.dir.cleanup()


def datum(tokens, targets, **inputs):
    lfi = {"target_tokens": {"data": list(targets)}}
    lfi.update({k: {"data": list(v)} for k, v in inputs.items()})
    return {"model_input": {"chunks": [{"type": "encoded_text", "tokens": list(tokens)}]}, "loss_fn_inputs": lfi}


SPANS = [(0, 7), (9, 3), (15, 12), (30, 5), (44, 9)]  # 5 rows of uneven lengths: 3 on rank 0, 2 on rank 1


def span_data(weights=None):
    return [datum(IDS[s:s + n], IDS[s + 1:s + n + 1], **({} if weights is None else {"weights": weights[k]}))
            for k, (s, n) in enumerate(SPANS)]


def logprobs(result):
    return [torch.tensor(o["logprobs"]["data"], dtype=torch.float64) for o in result["loss_fn_outputs"]]


class OneRank(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.svc = Service()
        try:
            cls.svc.call("/api/v1/create_model", {"base_model": UNTIED, "agent0": {"model_id": "m"}})
        except Exception:
            cls.svc.stop()  # tearDownClass does not run after a failed setUpClass
            raise

    @classmethod
    def tearDownClass(cls):
        try:
            cls.svc.shutdown()
        finally:
            cls.svc.stop()

    def test_bearer_token_is_required(self):
        for token in (None, "wrong"):
            status, body = self.svc.request("GET", "/agent0/info", token=token)
            self.assertEqual(status, 401)
            self.assertEqual(body["error"]["type"], "authentication_error")
        status, body = self.svc.request("GET", "/agent0/info")
        self.assertEqual(status, 200)
        self.assertEqual(body["world_size"], 1)

    def test_foreign_host_is_refused(self):
        # DNS rebinding: a page of evil.example resolving to 127.0.0.1 must not reach the service
        status, body = self.svc.request("POST", "/api/v1/forward", {"model_id": "m"}, headers={"Host": "evil.example:80"})
        self.assertEqual(status, 403)
        self.assertIn("evil.example", body["detail"])

    def test_only_json_or_tensor_frames(self):
        status, body = self.svc.request("POST", "/api/v1/forward", raw=b"model_id=m", headers={"Content-Type": "text/plain"})
        self.assertEqual(status, 400)
        self.assertIn("text/plain", body["detail"])

    def test_malformed_tensor_frame_is_a_400(self):
        head = json.dumps({"model_id": "m", "x": {"$blob": [0, 6], "dtype": "float32", "shape": [2]}}).encode()
        body = b"A0T1" + len(head).to_bytes(4, "little") + head + bytes(-(8 + len(head)) % 8) + bytes(8)
        status, r = self.svc.request("POST", "/api/v1/forward", raw=body, headers={"Content-Type": wire.BINARY})
        self.assertEqual(status, 400, r)
        self.assertIn("multiple of element size", r["detail"])

    def test_forward_through_a_future(self):
        r = self.svc.call("/api/v1/forward", {"model_id": "m", "forward_input": {"data": span_data()}})
        got = logprobs(r)
        module, _, impl = models.build(UNTIED, None, "builtin", torch.float64, 0)
        with torch.no_grad():
            for (s, n), lp in zip(SPANS, got):
                hidden, _ = models.backbone(module, impl, torch.tensor([IDS[s:s + n]]))
                want = torch.log_softmax(module.lm_head(hidden)[0], -1).gather(-1, torch.tensor(IDS[s + 1:s + n + 1])[:, None])[:, 0]
                self.assertEqual(lp.shape, want.shape)
                self.assertLessEqual((lp - want).abs().max().item(), 1e-9)
        # the same request as a binary tensor frame, answered in one
        body, ctype = wire.encode({"model_id": "m", "forward_input": {"data": span_data()}}, True)
        status, r = self.svc.request("POST", "/api/v1/forward", raw=body, headers={"Content-Type": ctype})
        self.assertEqual(status, 200)
        status, res = self.svc.request("POST", "/api/v1/retrieve_future", {"request_id": r["request_id"]}, headers={"Accept": wire.BINARY})
        self.assertEqual(status, 200)
        for a, b in zip(got, res["loss_fn_outputs"]):
            self.assertTrue(torch.equal(a, b["logprobs"]))

    def test_unknown_model_fails_its_future(self):
        status, body = self.svc.future("/api/v1/forward", {"model_id": "nope", "forward_input": {"data": span_data()}})
        self.assertEqual(status, 400)
        self.assertEqual(body["status"], "failed")
        self.assertIn("unknown model_id 'nope'", body["detail"])
        status, body = self.svc.request("POST", "/api/v1/retrieve_future", {"request_id": "999999"})
        self.assertEqual(status, 404)

    def test_bad_datum_is_a_400_naming_it(self):
        data = span_data()
        data[3]["loss_fn_inputs"]["target_tokens"]["data"].pop()
        status, body = self.svc.request("POST", "/api/v1/forward", {"model_id": "m", "forward_input": {"data": data}})
        self.assertEqual(status, 400)
        self.assertIn("data[3]", body["detail"])

    def test_greedy_completion_follows_transformers(self):
        g = next(x for x in REFERENCE["greedy"] if x["variant"] == "untied")
        status, r = self.svc.request("POST", "/v1/completions", {
            "model": "m", "prompt": g["prompt_ids"], "max_tokens": len(g["tokens"]), "temperature": 0, "logprobs": 1})
        self.assertEqual(status, 200, r)
        c = r["choices"][0]
        self.assertEqual(c["token_ids"], g["tokens"])
        self.assertEqual(c["finish_reason"], "length")
        for a, b in zip(c["logprobs"]["token_logprobs"], g["logprobs"]):
            self.assertAlmostEqual(a, b, delta=1e-4)

    def test_seeded_sampling_repeats(self):
        body = {"model": "m", "prompt": IDS[:6], "max_tokens": 16, "temperature": 1.0, "seed": 1234, "n": 2, "ignore_eos": True}
        runs = []
        for _ in range(2):
            status, r = self.svc.request("POST", "/v1/completions", body)
            self.assertEqual(status, 200, r)
            runs.append([c["token_ids"] for c in r["choices"]])
        self.assertEqual(runs[0], runs[1])
        self.assertEqual([len(ids) for ids in runs[0]], [16, 16])

    def test_stop_strings_end_generation(self):
        g = next(x for x in REFERENCE["greedy"] if x["variant"] == "untied")
        d = Detok.from_folder(UNTIED)
        # greedy continues ... b'5', b'qu', b'<|im_start|>' ...: '5qu' ends (across two tokens) before '<|im_start|>'
        at = g["tokens"].index(361)
        self.assertEqual([d.piece(t) for t in g["tokens"][at - 2:at]], [b"5", b"qu"])
        status, r = self.svc.request("POST", "/v1/completions", {
            "model": "m", "prompt": g["prompt_ids"], "max_tokens": len(g["tokens"]), "temperature": 0, "stop": ["<|im_start|>", "5qu"]})
        self.assertEqual(status, 200, r)
        c = r["choices"][0]
        self.assertEqual((c["finish_reason"], c["stop_reason"]), ("stop", "5qu"))
        self.assertEqual(c["token_ids"], g["tokens"][:at])
        want = b"".join(d.piece(t) for t in g["tokens"][:at - 2]).decode("utf-8", errors="replace")
        self.assertEqual(c["text"], want)
        status, r = self.svc.request("POST", "/v1/completions", {
            "model": "m", "prompt": g["prompt_ids"], "max_tokens": len(g["tokens"]), "temperature": 0, "stop_token_ids": [361]})
        c = r["choices"][0]
        self.assertEqual((c["finish_reason"], c["stop_reason"], c["token_ids"]), ("stop", 361, g["tokens"][:at + 1]))


    def test_loopback_host_forms_are_accepted(self):
        for host in ("127.0.0.1", "localhost:1", "[::1]", "[::1]:8300"):
            status, _ = self.svc.request("GET", "/agent0/info", headers={"Host": host})
            self.assertEqual(status, 200, host)

    def test_unsupported_fields_are_refused_even_as_true(self):
        # in Python True == 1: echo / best_of / use_beam_search as true must not slip through
        for k, v in (("echo", True), ("best_of", True), ("best_of", 2), ("use_beam_search", True), ("logit_bias", {"5": 1})):
            status, r = self.svc.request("POST", "/v1/completions", {"model": "m", "prompt": IDS[:4], "max_tokens": 2, k: v})
            self.assertEqual(status, 400, (k, v))
            self.assertIn(k, r["detail"])
        status, r = self.svc.request("POST", "/v1/completions", {"model": "m", "prompt": IDS[:4], "max_tokens": 2, "echo": False, "suffix": "", "best_of": 1})
        self.assertEqual(status, 200, r)

    def test_zero_max_tokens_gives_no_token_beside_longer_rows(self):
        status, r = self.svc.request("POST", "/v1/completions", {"model": "m", "prompt": [IDS[:4], IDS[5:9]], "max_tokens": 0})
        self.assertEqual(status, 200, r)
        self.assertEqual([c["token_ids"] for c in r["choices"]], [[], []])
        import threading
        out = {}

        def ask(name, n):
            out[name] = self.svc.request("POST", "/v1/completions", {"model": "m", "prompt": IDS[:4], "max_tokens": n, "ignore_eos": True})
        threads = [threading.Thread(target=ask, args=(f"r{n}", n)) for n in (0, 6, 0, 6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual(out["r0"][1]["choices"][0]["token_ids"], [])
        self.assertEqual(len(out["r6"][1]["choices"][0]["token_ids"]), 6)

    def test_a_bad_loss_config_is_a_400_and_leaves_no_gradient(self):
        data = []
        for s, n in SPANS:
            d = datum(IDS[s:s + n], IDS[s + 1:s + n + 1])
            d["loss_fn_inputs"].update({k: {"data": [v] * n} for k, v in (("weights", 0.1), ("logprobs", -3.0), ("advantages", 1.0), ("clip_low", 0.2), ("clip_high", 0.2))})
            data.append(d)
        for cfg, word in (({"clip_ratio_c": 0.5}, "clip_ratio_c"), ({"kl_type": "k9"}, "kl_type")):
            status, body = self.svc.future("/api/v1/forward_backward", {"model_id": "m", "forward_backward_input": {
                "data": data, "loss_fn": "agent0_ppo", "loss_fn_config": cfg}})
            self.assertEqual(status, 400, body)
            self.assertIn(word, body["detail"])
        status, r = self.svc.future("/api/v1/optim_step", {"model_id": "m", "adam_params": {"learning_rate": 0.0}})
        self.assertEqual(status, 200, r)
        self.assertEqual(r["grad_norm"], 0.0)


class Shutdown(unittest.TestCase):
    def test_shutdown_ends_every_rank(self):
        svc = Service(ranks=2)
        try:
            self.assertEqual(svc.shutdown(), [0, 0], svc.output())
        finally:
            svc.stop()


class TwoRanks(unittest.TestCase):
    """Rows split across two gloo ranks; gradients summed; float64, so only summation order differs."""

    @classmethod
    def setUpClass(cls):
        cls.one, cls.two = Service(), None
        try:
            cls.two = Service(ranks=2)
        except Exception:
            cls.one.stop()
            raise

    @classmethod
    def tearDownClass(cls):
        for svc in (cls.one, cls.two):
            try:
                svc.shutdown()
            except Exception:  # noqa: BLE001 - stop() kills what is left
                pass
            svc.stop()

    def both(self, path, body):
        return [svc.call(path, body) for svc in (self.one, self.two)]

    def assert_close(self, a, b, tol=1e-10):
        self.assertEqual([x.shape for x in a], [x.shape for x in b])
        diff = max((x - y).abs().max().item() for x, y in zip(a, b))
        self.assertLessEqual(diff, tol)

    def test_forward_matches_one_rank(self):
        self.both("/api/v1/create_model", {"base_model": UNTIED, "agent0": {"model_id": "f"}})
        one, two = self.both("/api/v1/forward", {"model_id": "f", "forward_input": {"data": span_data()}})
        self.assertEqual(len(two["loss_fn_outputs"]), len(SPANS))
        self.assert_close(logprobs(one), logprobs(two))

    def test_training_steps_match_one_rank(self):
        self.both("/api/v1/create_model", {"base_model": UNTIED, "agent0": {"model_id": "t"}})
        start = logprobs(self.one.call("/api/v1/forward", {"model_id": "t", "forward_input": {"data": span_data()}}))
        rng = random.Random(0)
        adam = {"learning_rate": 1e-2, "beta1": 0.9, "beta2": 0.95, "eps": 1e-8, "weight_decay": 0.01, "grad_clip_norm": 1.0}
        for _ in range(2):
            weights = [[rng.uniform(-1, 1) for _ in range(n)] for _, n in SPANS]
            one, two = self.both("/api/v1/forward_backward", {
                "model_id": "t", "forward_backward_input": {"data": span_data(weights), "loss_fn": "cross_entropy"}})
            self.assertAlmostEqual(one["metrics"]["loss:sum"], two["metrics"]["loss:sum"], delta=1e-10)
            one, two = self.both("/api/v1/optim_step", {"model_id": "t", "adam_params": adam})
            self.assertAlmostEqual(one["grad_norm"], two["grad_norm"], delta=1e-10)
            self.assertEqual(one["step"], two["step"])
        one, two = self.both("/api/v1/forward", {"model_id": "t", "forward_input": {"data": span_data()}})
        self.assert_close(logprobs(one), logprobs(two))
        # the steps moved the weights: two untouched models would agree trivially
        self.assertGreater(max((a - b).abs().max().item() for a, b in zip(logprobs(one), start)), 1e-3)


if __name__ == "__main__":
    unittest.main()
