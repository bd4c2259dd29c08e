#!/usr/bin/env bash
# Rebuilds face-effnetlite0-v6 from the shipped v4, on the CPU:
#
#   bash scripts/train_face_v6.sh [DATA] [OUT] [WORK]     # defaults: ../shared/data weights .cache/face_runs/v6
#
# 1. four 500-step continuations of v4 (seeds 0 and 1, each without and with cross-person blends),
#    two at a time with one thread each (about 45-50 min per pair on 2 cores);
# 2. their uniform soup, then v4 and that soup half each (WiSE-FT), both by training.face_soup;
# 3. the interpolation calibrated at 240 px with mirror averaging, no training steps (about 12 min),
#    written to OUT as face-effnetlite0-v6 with its metadata and card;
# 4. five fresh draws of the held-out sets recorded in its metadata and card (about 15 min).
# About 2 h in all; the face cache is built first if missing (about 4 min). v4 itself comes
# from v3 by the command in the README (about 1 h 30 min), v3 from ImageNet weights (about 2 h).
#
# The environment may change what it starts from, for tests: FACE_CACHE, FACE_V4, FACE_V6_STEPS,
# FACE_V6_SIZE and FACE_V6_EXTRA (more train_face options, split on spaces); PYTHON.
set -euo pipefail
DATA=${1:-../shared/data}
OUT=${2:-weights}
WORK=${3:-.cache/face_runs/v6}
PY=${PYTHON:-.venv/bin/python}
CACHE=${FACE_CACHE:-.cache/face_data}
V4=${FACE_V4:-weights/face-effnetlite0-v4.json}
STEPS=${FACE_V6_STEPS:-500}
SIZE=${FACE_V6_SIZE:-240}
read -r -a EXTRA <<< "${FACE_V6_EXTRA:-}"

[ -f "$V4" ] || { echo "error: $V4 is missing" >&2; exit 2; }
[ -d "$CACHE" ] || "$PY" -m training.face_data --data "$DATA" --out "$CACHE"
mkdir -p "$WORK"

continuation() {  # NAME SEED EXTRA...
    local name=$1 seed=$2
    shift 2
    "$PY" -m training.train_face --cache "$CACHE" --out "$WORK/$name" --name "face-effnetlite0-$name" \
        --init "$V4" --steps "$STEPS" --lr 2e-4 --mirror 0.3 --warp 0.3 --precision auto --threads 1 \
        --seed "$seed" ${EXTRA[@]+"${EXTRA[@]}"} "$@" > "$WORK/$name.log" 2>&1
}

for seed in 0 1; do
    continuation "ctl-s$seed" "$seed" & a=$!
    continuation "cross-s$seed" "$seed" --cross 0.4 & b=$!
    wait "$a" || { echo "error: see $WORK/ctl-s$seed.log" >&2; exit 1; }
    wait "$b" || { echo "error: see $WORK/cross-s$seed.log" >&2; exit 1; }
done

"$PY" -m training.face_soup --out "$WORK/soup4" --name face-effnetlite0-soup4 \
    "$WORK"/ctl-s0/*.json "$WORK"/cross-s0/*.json "$WORK"/ctl-s1/*.json "$WORK"/cross-s1/*.json
"$PY" -m training.face_soup --out "$WORK/wise4" --name face-effnetlite0-wise4 \
    "$V4" "$WORK/soup4/face-effnetlite0-soup4.json"
"$PY" -m training.train_face --cache "$CACHE" --out "$OUT" --name face-effnetlite0-v6 \
    --init "$WORK/wise4/face-effnetlite0-wise4.json" --size "$SIZE" --steps 0 --mirror-average \
    ${EXTRA[@]+"${EXTRA[@]}"}
"$PY" -m training.face_draws --cache "$CACHE" "$OUT/face-effnetlite0-v6.json" --record
