#!/usr/bin/env bash
# Compares ways to spend the in-budget lineage's second stage on a lent GPU, and scores each on
# five fresh draws there:
#
#   bash scripts/gpu_face_stage2.sh PACK S1.json OUT_DIR [DEVICE [RUN...]]
#
# S1.json is the budget lineage's stage 1 (scripts/train_face_budget.sh, WORK/s1). On this
# machine's CPU, stage 2 has about 1160 steps at 240 px when it is one run that measures itself,
# or about 1040 (2 x 520) or 1000 (4 x 250) when the steps go to unmeasured continuations
# (--no-measure) that are averaged and then calibrated once. Each design is trained from S1 side
# by side with the others:
#   single: 1158 steps, seed 0, --cross 0 (the CPU run already scored, trained again here);
#   pairA:  520 steps each, seeds 0 and 1, --cross 0 and 0.4, averaged;
#   pairB:  the same with seeds 2 and 3;
#   quad:   250 steps each, seeds 4-7, --cross 0 / 0.4 / 0 / 0.4, averaged;
# and each is also read half-way back to S1 (WiSE-FT: the soup of it and S1). RUNs given
# ("name|steps|seed|cross|workers|more trainer options") replace those four designs, each read as
# trained and half-way back. Every reading and S1 itself are scored on fresh draws seeds 1-5
# (python -m training.face_draws), written to OUT_DIR/draws.json; the designs' weights (one tar
# each, at most four) and every log come back too.
# PACK is a packed cache (python -m training.face_pack, or its parts from training.parts); the
# wheels the GPU machine lacks lie in .whl/. A dry run on the CPU:
#   SCALE=100 EXTRA='--upsampler-steps 2 --batch 4' bash scripts/gpu_face_stage2.sh CACHE S1.json OUT cpu
# (PACK may be an unpacked cache; EXTRA adds trainer options to every run)
set -uo pipefail
PACK=${1:?packed cache}; S1=${2:?stage-1 weights (.json)}; OUT_DIR=${3:?output folder}; DEVICE=${4:-cuda}
shift $(($# < 4 ? $# : 4))
PY=${PYTHON:-python3}
SCALE=${SCALE:-1}  # divides every step count (dry runs)
W=${WORK:-/tmp/stage2}
# shellcheck source=scripts/gpu_sweep_lib.sh
. "$(dirname "$0")/gpu_sweep_lib.sh"
gpu_setup .whl || exit 1
L=$W/logs
mkdir -p "$OUT_DIR" "$L"
CACHE=$(face_cache "$PACK" "$W" "$L") || exit 1

COMMON="--init $S1 --size 240 --lr 2e-4 --mirror 0.3 --warp 0.3 --precision bfloat16 --mirror-average --no-measure"
RUNS=(
  "single|$((1158 / SCALE))|0|0|6"
  "pairA0|$((520 / SCALE))|0|0|2" "pairA1|$((520 / SCALE))|1|0.4|2"
  "pairB0|$((520 / SCALE))|2|0|2" "pairB1|$((520 / SCALE))|3|0.4|2"
  "quad0|$((250 / SCALE))|4|0|1" "quad1|$((250 / SCALE))|5|0.4|1"
  "quad2|$((250 / SCALE))|6|0|1" "quad3|$((250 / SCALE))|7|0.4|1"
)
CUSTOM=$#
if ((CUSTOM)); then RUNS=("$@"); fi
pids=()
for r in "${RUNS[@]}"; do
  IFS='|' read -r name steps seed cross workers more <<<"$r"
  # shellcheck disable=SC2086  # COMMON is meant to split
  timeout "${RUN_LIMIT:-370}" $PY -m training.train_face --cache "$CACHE" --out "$W/$name" --name "s2-$name" \
    --steps "$steps" --seed "$seed" --cross "$cross" --workers "$workers" --threads 1 --device "$DEVICE" \
    --time-limit "${TRAIN_LIMIT:-310}" $COMMON ${more:-} ${EXTRA:-} >"$L/$name.log" 2>&1 &
  pids+=($!)
done
for p in "${pids[@]}"; do wait "$p"; done
grep -h "step .*/\|time limit\|Error\|error" "$L"/*.log | tail -n 30

soup() {  # soup NAME INGREDIENT...: average those that were written, into $W/soups
  local name=$1 have=()
  shift
  for i in "$@"; do [[ -f $i ]] && have+=("$i"); done
  if ((${#have[@]} >= 2)); then
    $PY -m training.face_soup --out "$W/soups" --name "$name" "${have[@]}" | tail -n 1
  elif ((${#have[@]} == 1)); then
    echo "$name: only ${have[0]} was written; not averaged"
  fi
}
j() { echo "$W/$1/s2-$1.json"; }
READ=("$S1")
if ((CUSTOM)); then
  BACK=()
  for r in "${RUNS[@]}"; do
    name=${r%%|*}
    [[ -f $(j "$name") ]] && READ+=("$(j "$name")") && soup "s2-$name-wise" "$(j "$name")" "$S1" && BACK+=("$name")
  done
else
  soup s2-pairA "$(j pairA0)" "$(j pairA1)"
  soup s2-pairB "$(j pairB0)" "$(j pairB1)"
  soup s2-quad "$(j quad0)" "$(j quad1)" "$(j quad2)" "$(j quad3)"
  [[ -f $(j single) ]] && READ+=("$(j single)") && soup s2-single-wise "$(j single)" "$S1"
  for s in pairA pairB quad; do
    f=$W/soups/s2-$s.json
    [[ -f $f ]] && READ+=("$f") && soup "s2-$s-wise" "$f" "$S1"
  done
fi
for f in "$W"/soups/*-wise.json; do [[ -f $f ]] && READ+=("$f"); done

# written before the draws, so that a run stopped during them still returns the weights;
# what comes back (at most 8 files of 16 MiB): the draws, the logs, and one tar per design's weights
# (the WiSE readings are remade from them and S1 with training.face_soup)
if ((CUSTOM)); then
  for name in "${BACK[@]::4}"; do
    tar -C "$W/$name" -cf "$OUT_DIR/$name.tar" "s2-$name.json" "s2-$name.safetensors"
  done
else
  tar -C "$W/single" -cf "$OUT_DIR/single.tar" s2-single.json s2-single.safetensors 2>/dev/null
  for s in pairA pairB quad; do
    tar -C "$W/soups" -cf "$OUT_DIR/$s.tar" "s2-$s.json" "s2-$s.safetensors" 2>/dev/null
  done
fi

# five draws side by side, one process each, the networks on the device
dpids=()
for seed in 1 2 3 4 5; do
  timeout "${DRAW_LIMIT:-150}" $PY -m training.face_draws --cache "$CACHE" --seeds "$seed" --threads 2 --device "$DEVICE" \
    --json "$W/draw$seed.json" "${READ[@]}" >"$L/draw$seed.log" 2>&1 &
  dpids+=($!)
done
for p in "${dpids[@]}"; do wait "$p"; done
$PY - "$W" "$OUT_DIR/draws.json" <<'PY'
import json, sys
from pathlib import Path
import numpy as np
work, out = Path(sys.argv[1]), Path(sys.argv[2])
merged: dict = {"seeds": [], "auc": {}}
for seed in range(1, 6):
    f = work / f"draw{seed}.json"
    if not f.exists():
        print(f"draw {seed}: missing")
        continue
    d = json.loads(f.read_text())
    merged["seeds"] += d["seeds"]
    for name, sets in d["auc"].items():
        for k, v in sets.items():
            merged["auc"].setdefault(name, {}).setdefault(k, []).extend(v)
out.write_text(json.dumps(merged, indent=2) + "\n")
for name, sets in merged["auc"].items():
    print(name, " ".join(f"{k.split('_')[0]} {np.mean(v):.4f} ({' '.join(f'{a:.3f}' for a in v)})" for k, v in sets.items()))
PY
tar -C "$W" -cf "$OUT_DIR/logs.tar" logs
ls -la "$OUT_DIR"
