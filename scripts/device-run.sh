#!/usr/bin/env bash
# Runs agent0 steps on a GPU machine that has Python/torch but no Node or npm (the device machine):
# unpacks what scripts/prepare-device.sh put in .gpu/ (Node, the bundled controller, bubblewrap),
# then runs each named step, logging to $OUT (or /tmp/out). Steps: env pytests smoke bench bench-cell bench-full e2e.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-/tmp/out}
mkdir -p "$OUT" /tmp/tools
if [ ! -x /tmp/tools/node ]; then xz -dc .gpu/node.xz > /tmp/tools/node && chmod +x /tmp/tools/node; fi
if ! command -v bwrap >/dev/null; then
  # on a PATH every child keeps (the sandbox starts bwrap with a minimal environment)
  dpkg -x .gpu/bubblewrap_*.deb /tmp/tools/bw && ln -sf /tmp/tools/bw/usr/bin/bwrap /usr/bin/bwrap
fi
export PATH=/tmp/tools:$PATH PYTHONUNBUFFERED=1
A0="/tmp/tools/node .gpu/agent0/agent0.js"
PYDIR=.gpu/agent0/python

step_env() {
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv
  python3 -c 'import torch, transformers, sys; print("torch", torch.__version__, "transformers", transformers.__version__, "python", sys.version.split()[0], "cuda", torch.cuda.is_available())'
  /tmp/tools/node --version; bwrap --version || echo "bwrap unusable"
}
step_pytests() {
  (cd "$PYDIR" && AGENT0_PARITY_JSON="$OUT/parity.json" timeout ${PYTESTS_TIMEOUT:-400} python3 -m unittest discover -s tests -t . -v) 2>&1 | tail -60
}
step_smoke() {
  rm -rf /tmp/runs/smoke_torch; timeout 300 $A0 run recipes/smoke_torch.yaml --run-dir /tmp/runs/smoke_torch 2>&1 | tail -25
}
step_bench() {
  timeout 170 $A0 bench trainer --shapes 0.6b --seqs 2048 --rows 8 --steps 2 --warmup 1 --decode-tokens 128 --out "$OUT/bench-quick.json" 2>&1 | tail -30
}
# one cell per call where the 10-minute command limit is tight: BENCH_SHAPES / BENCH_SEQS / BENCH_SHARD
step_bench_cell() {
  timeout ${BENCH_TIMEOUT:-400} $A0 bench trainer --shapes ${BENCH_SHAPES:-4b} --seqs ${BENCH_SEQS:-2048,4096} --shard ${BENCH_SHARD:-auto} \
    --rows 8 --steps 4 --warmup 2 --decode-batch ${BENCH_DECODE:-64} --decode-tokens 256 ${BENCH_ARGS:-} \
    --out "$OUT/bench-${BENCH_SHAPES:-4b}-${BENCH_SHARD:-auto}.json" 2>&1 | tail -40
}
step_bench_full() {
  timeout 560 $A0 bench trainer --shapes 0.6b,4b --seqs 2048,4096 --rows 8 --steps 4 --warmup 2 --decode-batch 64 --decode-tokens 256 --out "$OUT/bench.json" 2>&1 | tail -40
}
step_e2e() {
  local t0=$(date +%s)
  rm -rf /tmp/runs/gpu; timeout ${E2E_TIMEOUT:-570} $A0 run recipes/gpu_math_tir_adpo.yaml --run-dir /tmp/runs/gpu ${E2E_ARGS:-} > "$OUT/e2e.log" 2>&1
  echo "e2e exit $? after $(( $(date +%s) - t0 )) s"
  tail -30 "$OUT/e2e.log"
  cp /tmp/runs/gpu/report.md "$OUT/e2e-report.md" 2>/dev/null
  cp /tmp/runs/gpu/metrics.jsonl "$OUT/e2e-metrics.jsonl" 2>/dev/null
}
for s in "$@"; do
  echo "=== $s ($(date +%T))"
  "step_${s//-/_}" 2>&1 | tee "$OUT/$s.log"
done
echo "=== done ($(date +%T))"
