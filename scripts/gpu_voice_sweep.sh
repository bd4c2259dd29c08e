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
WHEELS=${WHEELS:-.whl/voice}
if ls "$WHEELS"/*.whl >/dev/null 2>&1; then
  $PY -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site "$WHEELS"/*.whl || exit 1
  export PYTHONPATH=/tmp/site:${PYTHONPATH:-}
fi
export PYTHONPATH=$PWD:${PYTHONPATH:-} PYTHONUNBUFFERED=1 OMP_NUM_THREADS=1
mkdir -p "$OUT_DIR" /tmp/vsweep
$PY -c 'import torch; print("torch", torch.__version__, "cuda", torch.cuda.is_available(), torch.cuda.get_device_name(0) if torch.cuda.is_available() else "")'
$PY -m training.voice_pack unpack --pack "$PACK" --out /tmp/vsweep/corpus 2>&1 | tee "$OUT_DIR/unpack.log" || exit 1

# name | arguments (the common ones are added below)
DEFAULT_RUNS=(
  "v3_gpu|--members phase,phase --epochs 30 --parallel --seed 1"
  "w64|--members phase,phase --epochs 30 --parallel --seed 1 --width 64"
)
if (($#)); then RUNS=("$@"); else RUNS=("${DEFAULT_RUNS[@]}"); fi
WORKERS=${WORKERS:-3}
pids=()
for r in "${RUNS[@]}"; do
  name=${r%%|*}; args=${r#*|}
  mkdir -p "/tmp/vsweep/$name"
  # shellcheck disable=SC2086  # the arguments are meant to split
  timeout "${RUN_LIMIT:-520}" $PY -m training.train_voice --corpus /tmp/vsweep/corpus --out "/tmp/vsweep/$name" \
    --name "voice-$name" --device "$DEVICE" --workers "$WORKERS" $args ${EXTRA:-} >"/tmp/vsweep/$name/train.log" 2>&1 &
  pids+=($!)
done
rc=0
for p in "${pids[@]}"; do wait "$p" || rc=1; done
for r in "${RUNS[@]}"; do
  name=${r%%|*}
  grep -E "EER|kept epoch|wrote" "/tmp/vsweep/$name/train.log" | tail -12
  tar -C /tmp/vsweep -cf "$OUT_DIR/$name.tar" "$name"
done
exit $rc
