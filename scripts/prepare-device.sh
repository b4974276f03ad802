#!/usr/bin/env bash
# Puts in .gpu/ (git-ignored, carried to the device machine) what it lacks: Node (xz), the bundled
# controller and bubblewrap's package. Then: run the device tool with carry [".gpu"] and
# `bash scripts/device-run.sh env pytests smoke ...`.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p .gpu
[ -f .gpu/node.xz ] || xz -6 -c "$(command -v node)" > .gpu/node.xz
ls .gpu/bubblewrap_*.deb >/dev/null 2>&1 || (cd .gpu && apt-get download bubblewrap)
node scripts/bundle-controller.mjs .gpu/agent0
du -sh .gpu
