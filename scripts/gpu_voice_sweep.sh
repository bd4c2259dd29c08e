#!/usr/bin/env bash
# Train several voice-detector recipes side by side on one lent GPU, from a packed corpus.
#
#   bash scripts/gpu_voice_sweep.sh PACK OUT_DIR [DEVICE [RUN...]]
#
# PACK is written here by `python -m training.voice_pack pack` (parts part1, part2, ... that
# travel one per call and stay on the warm machine); wheels the GPU machine lacks (soundfile,
# cffi, pycparser) lie in $WHEELS (default .whl/voice). Each RUN is "name|trainer arguments",
# e.g. "w64|--width 64 --epochs 40"; without any, DEFAULT_RUNS below. Runs train at once, each
# with WORKERS CPU processes making batches; each run's weights, metadata, card and log come
# back as OUT_DIR/<name>.tar. A run past RUN_LIMIT seconds is killed (its log still comes back).
# A dry run on the CPU:
#   EXTRA='--epochs 1' WORKERS=1 bash scripts/gpu_voice_sweep.sh PACK OUT cpu "tiny|--width 8"
set -uo pipefail
PACK=${1:?packed corpus}; OUT_DIR=${2:?output folder}; DEVICE=${3:-cuda}
shift $(($# < 3 ? $# : 3))
PY=${PYTHON:-python3}
# shellcheck source=scripts/gpu_sweep_lib.sh
. "$(dirname "$0")/gpu_sweep_lib.sh"
gpu_setup "${WHEELS:-.whl/voice}" || exit 1
mkdir -p "$OUT_DIR" /tmp/vsweep
$PY -m training.parts join --pack "$PACK" --out /tmp/vsweep/corpus 2>&1 | tee "$OUT_DIR/join.log" || exit 1

# name | arguments (the common ones are added below)
DEFAULT_RUNS=(
  "v3_gpu|--members phase,phase --epochs 30 --parallel --seed 1"
  "w64|--members phase,phase --epochs 30 --parallel --seed 1 --width 64"
)
if (($#)); then RUNS=("$@"); else RUNS=("${DEFAULT_RUNS[@]}"); fi
WORKERS=${WORKERS:-3}
launch() {
  # shellcheck disable=SC2086  # the arguments are meant to split
  timeout "${RUN_LIMIT:-520}" $PY -m training.train_voice --corpus /tmp/vsweep/corpus --out "/tmp/vsweep/$1" \
    --name "voice-$1" --device "$DEVICE" --workers "$WORKERS" $2 ${EXTRA:-}
}
summarize() { grep -E "EER|kept epoch|wrote" "$1" | tail -12; }
run_side_by_side /tmp/vsweep "$OUT_DIR" "${RUNS[@]}"
